package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/jepsen-lite/checker"
	"github.com/raftmq/raftmq/jepsen-lite/history"
)

// The metadata workload's keys: queues it declares and deletes, and
// bindings (of a fixed exchange to fixed queues) it adds and removes.
var (
	metaExchange    = "jm.x"
	metaQueues      = []string{"jm.q0", "jm.q1", "jm.q2", "jm.q3"}
	metaBindQueues  = []string{"jm.b0", "jm.b1"}
	metaBindingKeys = []string{"k0", "k1", "k2"}
)

// Metadata is the metadata workload: workers declare, delete and inspect
// queues, and bind, unbind and look up bindings, on a few keys so that
// operations on one key overlap. Porcupine checks the history per key.
type Metadata struct {
	env Env
}

// Name returns "metadata".
func (m *Metadata) Name() string { return "metadata" }

// Topology is empty: the metadata workload publishes nothing.
func (m *Metadata) Topology() checker.Topology { return checker.Topology{} }

// Setup declares the exchange and the queues the bindings point to.
func (m *Metadata) Setup(ctx context.Context, c *client.Client) error {
	if err := setupRetry(ctx, "declare exchange "+metaExchange, func(ctx context.Context) error {
		return c.DeclareExchange(ctx, metaExchange, client.Direct)
	}); err != nil {
		return err
	}
	for _, q := range metaBindQueues {
		if err := setupRetry(ctx, "declare queue "+q, func(ctx context.Context) error {
			return c.DeclareQueue(ctx, q, client.QueueArgs{})
		}); err != nil {
			return err
		}
	}
	return nil
}

// Run starts the workers.
func (m *Metadata) Run(ctx context.Context) error {
	env := &m.env
	n := max(1, env.Concurrency)
	var g group
	for w := 0; w < n; w++ {
		rng := env.rng(w, 21)
		g.go_(func() error { return m.worker(ctx, w, n, rng) })
	}
	return g.wait()
}

func (m *Metadata) worker(ctx context.Context, w, n int, rng *rand.Rand) error {
	env := &m.env
	c, err := env.dial(ctx, fmt.Sprintf("meta%d", w))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer c.Close()
	process := env.ProcessBase + w
	p := newPacer(env.Rate, n, rng)
	for p.wait(ctx) {
		if metaOp(env, c, process, rng) == history.Info {
			process += 1000
		}
	}
	return nil
}

// metaOp draws one operation, runs it and records it.
func metaOp(env *Env, c *client.Client, process int, rng *rand.Rand) history.Type {
	var f string
	var v history.Value
	if rng.IntN(2) == 0 {
		f = []string{history.FDeclareQueue, history.FDeleteQueue, history.FInspectQueue, history.FInspectQueue}[rng.IntN(4)]
		v.Queue = metaQueues[rng.IntN(len(metaQueues))]
	} else {
		f = []string{history.FBind, history.FUnbind, history.FHasBinding, history.FHasBinding}[rng.IntN(4)]
		v.Queue = metaBindQueues[rng.IntN(len(metaBindQueues))]
		v.Key = metaBindingKeys[rng.IntN(len(metaBindingKeys))]
	}
	inv := env.Rec.Invoke(process, f, v)
	ctx, cancel := context.WithTimeout(context.Background(), env.OpTimeout)
	defer cancel()
	b := client.Binding{Source: metaExchange, Dest: v.Queue, Key: v.Key}
	out := v
	var err error
	switch f {
	case history.FDeclareQueue:
		err = c.DeclareQueue(ctx, v.Queue, client.QueueArgs{})
	case history.FDeleteQueue:
		_, err = c.DeleteQueue(ctx, v.Queue)
	case history.FInspectQueue:
		_, err = c.InspectQueue(ctx, v.Queue)
		if err == nil || errors.Is(err, client.ErrNotFound) {
			exists := err == nil
			out.Exists = &exists
			err = nil
		}
	case history.FBind:
		err = c.Bind(ctx, b)
	case history.FUnbind:
		err = c.Unbind(ctx, b)
	case history.FHasBinding:
		var bs []client.Binding
		bs, err = c.ListBindings(ctx, metaExchange)
		if err == nil {
			exists := false
			for _, x := range bs {
				if x.Dest == v.Queue && x.Key == v.Key && !x.ToExchange {
					exists = true
				}
			}
			out.Exists = &exists
		}
	}
	t := history.Ok
	switch {
	case err == nil:
	case errors.Is(err, client.ErrNotFound):
		out.NotFound = true // a definite answer
	case errors.Is(err, client.ErrPrecondition), errors.Is(err, client.ErrInvalidArgument):
		t = history.Fail // refused: no effect
	default:
		t = history.Info
	}
	env.Rec.Complete(inv, t, out, 0, err)
	return t
}
