package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/jepsen-lite/history"
	"github.com/raftmq/raftmq/jepsen-lite/internal/wait"
)

// publishOne publishes one message and records it as one operation.
func publishOne(env *Env, c *client.Client, process int, x, key string, headers map[string]string, id string) history.Type {
	v := history.Value{ID: id, Exchange: x, Key: key, Headers: headers}
	inv := env.Rec.Invoke(process, history.FPublish, v)
	ctx, cancel := context.WithTimeout(context.Background(), env.OpTimeout)
	conf, err := c.Publish(ctx, x, key, client.Message{ID: id, Headers: headers, Body: []byte(id)})
	cancel()
	t := PublishOutcome(err, conf.Attempts)
	out := history.Value{ID: id, Exchange: x, Key: key, Headers: headers}
	if err == nil {
		out.Status, out.Queues, out.Term, out.Index = conf.Status.String(), conf.Queues, conf.Term, conf.Index
	}
	env.Rec.Complete(inv, t, out, conf.Attempts, err)
	return t
}

// producer publishes unique IDs until ctx ends, choosing each destination
// with pick. Its process number changes after every info.
func producer(ctx context.Context, env *Env, worker, stride int, name string, rng *rand.Rand,
	pick func(rng *rand.Rand) (x, key string, headers map[string]string)) error {
	c, err := env.dial(ctx, name)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer c.Close()
	process := env.ProcessBase + worker
	p := newPacer(env.Rate, stride, rng)
	for n := 0; p.wait(ctx); n++ {
		x, key, headers := pick(rng)
		id := fmt.Sprintf("%s-%s-%d", env.Tag, name, n)
		if publishOne(env, c, process, x, key, headers, id) == history.Info {
			process += 1000 // a new process: the old one may still be in flight
		}
	}
	return nil
}

// consumerConfig shapes one consumer worker.
type consumerConfig struct {
	name    string
	queue   string
	process int
	// abandonEvery, when positive, makes the consumer close its connection
	// without settling its last deliveries after a random number (1 to
	// 2*abandonEvery) of deliveries, then reconnect.
	abandonEvery int
	rng          *rand.Rand
}

// consumer reads queue until ctx ends, acking each delivery, or abandoning
// some as configured, and records every delivery.
func consumer(ctx context.Context, env *Env, cc consumerConfig) error {
	for round := 0; ctx.Err() == nil && round < 100000; round++ {
		limit := -1
		if cc.abandonEvery > 0 {
			limit = 1 + cc.rng.IntN(2*cc.abandonEvery)
		}
		if err := consumeRound(ctx, env, cc, limit); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			env.Log.Warn("consumer round failed", "consumer", cc.name, "err", err)
			wait.Sleep(ctx, 200*time.Millisecond)
		}
	}
	return nil
}

// consumeRound runs one connection of a consumer. With limit >= 0, after
// limit deliveries it takes up to three more without settling them, then
// closes the client so that they come back redelivered.
func consumeRound(ctx context.Context, env *Env, cc consumerConfig, limit int) error {
	c, err := env.dial(ctx, cc.name)
	if err != nil {
		return err
	}
	defer c.Close()
	var sub *client.Subscription
	for i := 0; ; i++ {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		sub, err = c.Subscribe(sctx, cc.queue, client.WithPrefetch(16), client.WithTag(cc.name))
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil || i >= 100 {
			return fmt.Errorf("subscribe to %s: %w", cc.queue, err)
		}
		wait.Sleep(ctx, 100*time.Millisecond)
	}
	defer sub.Close()
	got, abandoned := 0, 0
	abandonN := 1 + cc.rng.IntN(3)
	for {
		select {
		case <-ctx.Done():
			return nil
		case d, ok := <-sub.Deliveries():
			if !ok {
				if err := sub.Err(); err != nil && !errors.Is(err, client.ErrClosed) {
					return fmt.Errorf("subscription to %s ended: %w", cc.queue, err)
				}
				return nil
			}
			action := history.ActionAck
			if limit >= 0 && got >= limit {
				action = history.ActionAbandon
			}
			recordDelivery(env, cc.process, d, action)
			got++
			if action == history.ActionAck {
				_ = d.Ack() // acks are fire-and-forget; a lost ack means a redelivery
				continue
			}
			abandoned++
			if abandoned >= abandonN {
				// Close the connection at once, without settling.
				_ = c.Close()
				return nil
			}
		}
	}
}

func recordDelivery(env *Env, process int, d *client.Delivery, action string) {
	env.Rec.Append(history.Op{Type: history.Ok, Process: process, F: history.FDeliver, Value: history.Value{
		ID: d.ID, Queue: d.Queue, Seq: d.Seq, Exchange: d.Exchange, Key: d.RoutingKey,
		Redelivered: d.Redelivered, DeliveryCount: d.DeliveryCount, Action: action,
	}})
}
