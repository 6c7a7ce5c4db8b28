package workload

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/jepsen-lite/checker"
)

// routingTopology is the routing workload's fixed topology: one exchange of
// each kind, four queues, bindings that overlap so that one message often
// reaches several queues and sometimes none.
var routingTopology = checker.Topology{
	Exchanges: []checker.Exchange{
		{Name: "jr.direct", Kind: checker.Direct},
		{Name: "jr.fanout", Kind: checker.Fanout},
		{Name: "jr.topic", Kind: checker.Topic},
		{Name: "jr.headers", Kind: checker.Headers},
	},
	Queues: []string{"jr.q1", "jr.q2", "jr.q3", "jr.q4"},
	Bindings: []checker.Binding{
		{Exchange: "jr.direct", Queue: "jr.q1", Key: "red"},
		{Exchange: "jr.direct", Queue: "jr.q2", Key: "red"},
		{Exchange: "jr.direct", Queue: "jr.q3", Key: "green"},
		{Exchange: "jr.fanout", Queue: "jr.q2"},
		{Exchange: "jr.fanout", Queue: "jr.q4"},
		{Exchange: "jr.topic", Queue: "jr.q1", Key: "eu.*.orders"},
		{Exchange: "jr.topic", Queue: "jr.q2", Key: "#.orders"},
		{Exchange: "jr.topic", Queue: "jr.q3", Key: "us.#"},
		{Exchange: "jr.topic", Queue: "jr.q4", Key: "*.*.refunds"},
		{Exchange: "jr.headers", Queue: "jr.q1", Headers: map[string]string{"fmt": "pdf", "lang": "en"}},
		{Exchange: "jr.headers", Queue: "jr.q3", Headers: map[string]string{"fmt": "pdf", "lang": "en"}, Match: "any"},
		{Exchange: "jr.headers", Queue: "jr.q4", Headers: map[string]string{"tier": "gold"}},
	},
}

var (
	directKeys = []string{"red", "green", "blue"}
	topicKeys  = []string{"eu.fr.orders", "eu.orders", "us.ny.orders", "us", "asia.jp.refunds", "eu.de.refunds", "orders", "asia.jp"}
	hdrFmt     = []string{"pdf", "doc", ""}
	hdrLang    = []string{"en", "de", ""}
	hdrTier    = []string{"gold", "silver", ""}
)

// Routing is the routing workload: producers publish to the four exchanges
// with random keys and headers; one consumer per queue acks everything (one
// of them abandons some deliveries). The checker routes every publish
// through its own reference router.
type Routing struct {
	env Env
}

// Name returns "routing".
func (r *Routing) Name() string { return "routing" }

// Topology returns the fixed topology.
func (r *Routing) Topology() checker.Topology { return routingTopology }

// Setup declares the exchanges, queues and bindings.
func (r *Routing) Setup(ctx context.Context, c *client.Client) error {
	t := routingTopology
	for _, x := range t.Exchanges {
		if err := setupRetry(ctx, "declare exchange "+x.Name, func(ctx context.Context) error {
			return c.DeclareExchange(ctx, x.Name, client.ExchangeKind(x.Kind))
		}); err != nil {
			return err
		}
	}
	for _, q := range t.Queues {
		if err := setupRetry(ctx, "declare queue "+q, func(ctx context.Context) error {
			return c.DeclareQueue(ctx, q, client.QueueArgs{})
		}); err != nil {
			return err
		}
	}
	for _, b := range t.Bindings {
		cb := client.Binding{Source: b.Exchange, Dest: b.Queue, Key: b.Key, Headers: b.Headers, Match: b.Match}
		if err := setupRetry(ctx, fmt.Sprintf("bind %s to %s", b.Queue, b.Exchange), func(ctx context.Context) error {
			return c.Bind(ctx, cb)
		}); err != nil {
			return err
		}
	}
	return nil
}

func pickRoute(rng *rand.Rand) (string, string, map[string]string) {
	switch rng.IntN(4) {
	case 0:
		return "jr.direct", directKeys[rng.IntN(len(directKeys))], nil
	case 1:
		return "jr.fanout", fmt.Sprintf("k%d", rng.IntN(5)), nil
	case 2:
		return "jr.topic", topicKeys[rng.IntN(len(topicKeys))], nil
	}
	h := make(map[string]string)
	// Draw in a fixed key order so that the same seed gives the same headers.
	for _, kv := range []struct {
		k    string
		vals []string
	}{{"fmt", hdrFmt}, {"lang", hdrLang}, {"tier", hdrTier}} {
		if v := kv.vals[rng.IntN(len(kv.vals))]; v != "" {
			h[kv.k] = v
		}
	}
	return "jr.headers", "", h
}

// Run starts the producers and one consumer per queue.
func (r *Routing) Run(ctx context.Context) error {
	env := &r.env
	producers := max(1, env.Concurrency-len(routingTopology.Queues)/2)
	var g group
	for w := 0; w < producers; w++ {
		rng := env.rng(w, 11)
		g.go_(func() error {
			return producer(ctx, env, w, producers, fmt.Sprintf("rp%d", w), rng, pickRoute)
		})
	}
	for i, q := range routingTopology.Queues {
		abandon := 0
		if i == 0 {
			abandon = 80
		}
		g.go_(func() error {
			return consumer(ctx, env, consumerConfig{name: "rc-" + q, queue: q, process: env.ProcessBase + 900 + i,
				abandonEvery: abandon, rng: env.rng(i, 12)})
		})
	}
	return g.wait()
}
