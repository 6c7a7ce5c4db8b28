package workload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/jepsen-lite/checker"
	"github.com/raftmq/raftmq/jepsen-lite/history"
	"github.com/raftmq/raftmq/jepsen-lite/internal/wait"
)

// Env is what every workload shares within a run.
type Env struct {
	// Addrs are the nodes' client addresses (on 127.0.0.1).
	Addrs []string
	// Rec records the history.
	Rec *history.Recorder
	// Seed makes every worker's choices reproducible.
	Seed uint64
	// Rate is the target of operations per second over all of a
	// workload's request workers.
	Rate float64
	// Concurrency is the number of request workers of a workload.
	Concurrency int
	// OpTimeout bounds one operation, retries included.
	OpTimeout time.Duration
	// Tag prefixes message IDs and names, unique per run.
	Tag string
	// Log receives the harness's messages; ClientLog the clients'.
	Log, ClientLog *slog.Logger
	// ProcessBase is the first process number the workload may use; each
	// workload gets its own range.
	ProcessBase int
}

// Workload is one kind of traffic against the cluster.
type Workload interface {
	// Name is "queue", "routing" or "metadata".
	Name() string
	// Topology is the exchanges, queues and bindings the message checker
	// routes through; empty for workloads without messages.
	Topology() checker.Topology
	// Setup declares what the workload needs, through c.
	Setup(ctx context.Context, c *client.Client) error
	// Run runs the workers until ctx ends and returns once every worker
	// stopped and every client it opened is closed.
	Run(ctx context.Context) error
}

// New returns the named workload.
func New(name string, env Env) (Workload, error) {
	switch name {
	case "queue":
		return &Queue{env: env}, nil
	case "routing":
		return &Routing{env: env}, nil
	case "metadata":
		return &Metadata{env: env}, nil
	}
	return nil, fmt.Errorf("unknown workload %q (queue, routing, metadata)", name)
}

// rng returns the random source of one worker.
func (e *Env) rng(worker int, salt uint64) *rand.Rand {
	return rand.New(rand.NewPCG(e.Seed, salt<<32|uint64(worker)))
}

// dial connects a client, retrying until ctx ends.
func (e *Env) dial(ctx context.Context, name string) (*client.Client, error) {
	var last error
	for i := 0; i < 1000; i++ {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := client.Dial(dctx, e.Addrs, client.WithName(name), client.WithLogger(e.ClientLog),
			client.WithBackoff(20*time.Millisecond, 500*time.Millisecond), client.WithDialTimeout(time.Second),
			client.WithHeartbeat(time.Second))
		cancel()
		if err == nil {
			return c, nil
		}
		last = err
		if !wait.Sleep(ctx, 200*time.Millisecond) {
			break
		}
	}
	return nil, fmt.Errorf("connect %s: %w", name, errors.Join(last, ctx.Err()))
}

// pacer spaces one worker's operations so that n workers together reach
// rate operations per second, with jitter.
type pacer struct {
	interval time.Duration
	next     time.Time
	rng      *rand.Rand
}

func newPacer(rate float64, workers int, rng *rand.Rand) *pacer {
	if rate <= 0 {
		rate = 1
	}
	iv := time.Duration(float64(workers) / rate * float64(time.Second))
	return &pacer{interval: iv, next: time.Now(), rng: rng}
}

// wait sleeps until the next operation is due; false when ctx ended.
func (p *pacer) wait(ctx context.Context) bool {
	jit := time.Duration(p.rng.Int64N(int64(p.interval)/2 + 1))
	p.next = p.next.Add(p.interval - p.interval/4 + jit)
	if now := time.Now(); p.next.Before(now.Add(-p.interval)) {
		p.next = now // fell behind (an operation blocked): do not burst
	}
	return wait.Sleep(ctx, time.Until(p.next))
}

// PublishOutcome classifies a publish's error into the history's types:
// fail only when the error proves the message was not enqueued, info
// otherwise. attempts is how many times the client sent it.
//
//   - nil: ok.
//   - attempts == 0: the message never left the client (no leader was
//     reached before the context ended, the client was closed): fail.
//   - a refusal the broker answered on the only attempt (unroutable,
//     rejected by a full queue, not found, invalid): fail. After several
//     attempts an earlier one may have been enqueued, so: info.
//   - anything else, ErrIndeterminate included: info.
func PublishOutcome(err error, attempts int) history.Type {
	if err == nil {
		return history.Ok
	}
	if attempts == 0 {
		return history.Fail
	}
	if attempts == 1 {
		for _, s := range []error{client.ErrUnroutable, client.ErrRejected, client.ErrNotFound, client.ErrInvalidArgument, client.ErrPrecondition} {
			if errors.Is(err, s) && !errors.Is(err, client.ErrIndeterminate) {
				return history.Fail
			}
		}
	}
	return history.Info
}

// group runs goroutines and waits for them.
type group struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (g *group) go_(f func() error) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := f(); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, err)
			g.mu.Unlock()
		}
	}()
}

func (g *group) wait() error {
	g.wg.Wait()
	return errors.Join(g.errs...)
}

// setupRetry runs f until it succeeds or ctx ends, for setup steps that
// may meet a leader election.
func setupRetry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	var err error
	for i := 0; i < 1000; i++ {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = f(actx)
		cancel()
		if err == nil {
			return nil
		}
		if !client.IsRetryable(err) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("setup: %s: %w", what, err)
		}
		if !wait.Sleep(ctx, 100*time.Millisecond) {
			break
		}
	}
	return fmt.Errorf("setup: %s: %w", what, errors.Join(err, ctx.Err()))
}
