package workload

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/jepsen-lite/checker"
)

// Queue names of the queue workload.
const (
	FIFOQueue   = "jepsen.fifo"
	SharedQueue = "jepsen.shared"
)

// Queue is the queue workload: producers publish unique IDs with confirms
// to a fifo queue (one consumer, order checked) and a shared queue (several
// consumers); consumers ack manually and some close their connection
// without acking, to force redeliveries.
type Queue struct {
	env Env
}

// Name returns "queue".
func (q *Queue) Name() string { return "queue" }

// Topology returns the two queues behind the default exchange.
func (q *Queue) Topology() checker.Topology {
	return checker.Topology{Queues: []string{FIFOQueue, SharedQueue}, FIFO: FIFOQueue}
}

// Setup declares the queues.
func (q *Queue) Setup(ctx context.Context, c *client.Client) error {
	for _, name := range []string{FIFOQueue, SharedQueue} {
		if err := setupRetry(ctx, "declare "+name, func(ctx context.Context) error {
			return c.DeclareQueue(ctx, name, client.QueueArgs{})
		}); err != nil {
			return err
		}
	}
	return nil
}

// split returns how many producers and shared consumers a concurrency of n
// gives (the fifo queue always has one consumer).
func split(n int) (producers, shared int) {
	producers = max(1, (n+1)/2)
	shared = max(1, n-producers-1)
	return producers, shared
}

// Run starts the producers and consumers and waits for them.
func (q *Queue) Run(ctx context.Context) error {
	env := &q.env
	producers, shared := split(env.Concurrency)
	var g group
	for w := 0; w < producers; w++ {
		rng := env.rng(w, 1)
		g.go_(func() error {
			return producer(ctx, env, w, producers, fmt.Sprintf("qp%d", w), rng, func(rng *rand.Rand) (string, string, map[string]string) {
				if rng.IntN(3) == 0 {
					return "", FIFOQueue, nil
				}
				return "", SharedQueue, nil
			})
		})
	}
	g.go_(func() error {
		return consumer(ctx, env, consumerConfig{name: "qc-fifo", queue: FIFOQueue, process: env.ProcessBase + 900,
			abandonEvery: 150, rng: env.rng(0, 2)})
	})
	for i := 0; i < shared; i++ {
		abandon := 0
		if i%2 == 0 {
			abandon = 60 // every other shared consumer abandons deliveries
		}
		g.go_(func() error {
			return consumer(ctx, env, consumerConfig{name: fmt.Sprintf("qc-shared%d", i), queue: SharedQueue,
				process: env.ProcessBase + 901 + i, abandonEvery: abandon, rng: env.rng(i, 3)})
		})
	}
	return g.wait()
}
