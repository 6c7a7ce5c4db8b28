package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/client"
)

// consumer is one W3 consuming client.
type consumer struct {
	c    *client.Client
	sub  *client.Subscription
	hist Histogram // publish -> deliver latency of the new messages it got
	wg   sync.WaitGroup
}

// stop closes the subscription and the client and waits for its loop.
func (cs *consumer) stop() {
	cs.sub.Close()
	cs.wg.Wait()
	cs.c.Close()
}

// runW3 is W3 and W3-paced: two consumers (prefetch 256, one ack per
// message) started before W1's publishers; it ends when every message was
// received once, or 3 min after the publishers finished.
func (s *session) runW3(ctx context.Context, w Workload) (map[string]float64, error) {
	perPub := w.Messages / w.Publishers
	total := perPub * w.Publishers
	seen := make([]atomic.Bool, total)
	var unique, dups, confirmed, lastDeliver atomic.Int64
	all := make(chan struct{})
	var once sync.Once
	consumers := make([]*consumer, 0, w.Consumers)
	defer func() {
		for _, cs := range consumers {
			cs.stop()
		}
	}()
	for j := range w.Consumers {
		c, err := s.dial(ctx, s.leader+j, fmt.Sprintf("bench-consumer-%d", j))
		if err != nil {
			return nil, err
		}
		sctx, cancel := context.WithTimeout(ctx, dialTimeout)
		sub, err := c.Subscribe(sctx, s.queue, client.WithPrefetch(w.Prefetch), client.WithTag(fmt.Sprintf("bench-consumer-%d", j)))
		cancel()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("subscribe consumer %d: %w", j, err)
		}
		cs := &consumer{c: c, sub: sub}
		consumers = append(consumers, cs)
		cs.wg.Add(1)
		go func() {
			defer cs.wg.Done()
			for d := range sub.Deliveries() {
				now := nowNs()
				id, sent, ok := parseBody(d.Body)
				if ok {
					idx := int(id>>40)*perPub + int(id&(1<<40-1))
					switch {
					case idx < 0 || idx >= total:
					case seen[idx].Swap(true):
						dups.Add(1)
					default:
						cs.hist.Record(now - sent)
						for {
							old := lastDeliver.Load()
							if now <= old || lastDeliver.CompareAndSwap(old, now) {
								break
							}
						}
						if unique.Add(1) == int64(total) {
							once.Do(func() { close(all) })
						}
					}
				}
				// An ack fails only once the client is closed, at the end.
				_ = d.Ack()
			}
		}()
	}
	pubProg := startProgress(s.cfg.stderr, s.cfg.progress, w.Name+" consumed", int64(total), &unique)
	st, err := s.publishWindowed(ctx, w, &confirmed)
	if err != nil {
		pubProg.stop()
		return nil, err
	}
	timedOut := 0.0
	t := time.NewTimer(consumeTimeout)
	select {
	case <-all:
	case <-t.C:
		timedOut = 1
	case <-ctx.Done():
		t.Stop()
		pubProg.stop()
		return nil, fmt.Errorf("consuming: %w", ctx.Err())
	}
	t.Stop()
	pubProg.stop()
	for _, cs := range consumers {
		cs.stop()
	}
	var h Histogram
	for _, cs := range consumers {
		h.Merge(&cs.hist)
	}
	consumers = nil
	m := map[string]float64{
		"confirmed": float64(st.confirmed), "failed": float64(st.failed),
		"consumed_unique": float64(unique.Load()), "redelivered_dups": float64(dups.Load()), "timed_out": timedOut,
		"e2e_p50_us": us(h.Quantile(0.5)), "e2e_p99_us": us(h.Quantile(0.99)), "e2e_max_us": us(h.Max()),
	}
	if sec := st.elapsed.Seconds(); sec > 0 {
		m["publish_msgs_per_s"] = float64(st.confirmed) / sec
	}
	if sec := time.Duration(lastDeliver.Load() - st.startNs).Seconds(); sec > 0 {
		m["consume_msgs_per_s"] = float64(unique.Load()) / sec
		m["consume_mb_per_s"] = float64(unique.Load()) * float64(w.MsgSize) / sec / 1e6
	}
	return m, nil
}
