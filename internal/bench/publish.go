package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/client"
)

// errConfirmTimeout: a confirm did not come within the workload's timeout.
var errConfirmTimeout = errors.New("confirm timed out")

// waitConfirm waits for p's outcome for at most d, reusing t for the
// timeout (no timer is armed when the confirm is already there).
func waitConfirm(ctx context.Context, p *client.PendingConfirm, t *time.Timer, d time.Duration) error {
	select {
	case <-p.Done():
		_, err := p.Wait(ctx)
		return err
	default:
	}
	t.Reset(d)
	defer t.Stop()
	select {
	case <-p.Done():
		_, err := p.Wait(ctx)
		return err
	case <-t.C:
		return errConfirmTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

// pubStats is the outcome of the windowed publishers.
type pubStats struct {
	confirmed, failed int64
	startNs           int64         // nowNs when the barrier opened
	elapsed           time.Duration // barrier to the last successful confirm
}

// publishWindowed runs w.Publishers publishers, publisher i with its own
// client dialled through node (L+i) mod n, each keeping at most w.InFlight
// messages unconfirmed: a slot is taken before each publish and released
// by a per-publisher waiter that takes the confirms in publish order (60 s
// timeout each). All connect first and start together. With w.RateHz,
// publisher i sends its message s at start + s·Publishers/RateHz, at once
// when late. Nothing is retried by the bench; confirmed counts the confirms
// as they come (for the progress bar).
func (s *session) publishWindowed(ctx context.Context, w Workload, confirmed *atomic.Int64) (pubStats, error) {
	clients := make([]*client.Client, w.Publishers)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range clients {
		c, err := s.dial(ctx, s.leader+i, fmt.Sprintf("bench-publisher-%d", i))
		if err != nil {
			return pubStats{}, err
		}
		clients[i] = c
	}
	// pctx bounds the publishes themselves: the client retries a publish
	// until its context ends, and a confirm given up on after 60 s must
	// not go on being retried after the run.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bm := newBodyMaker(w.MsgSize)
	var failed, lastConfirm atomic.Int64
	perPub := w.Messages / w.Publishers
	var interval time.Duration
	if w.RateHz > 0 {
		interval = time.Second * time.Duration(w.Publishers) / time.Duration(w.RateHz)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem := make(chan struct{}, w.InFlight)
			waiters := make(chan *client.PendingConfirm, w.InFlight)
			drained := make(chan struct{})
			go func() {
				defer close(drained)
				t := time.NewTimer(confirmTimeout)
				t.Stop()
				for p := range waiters {
					if err := waitConfirm(ctx, p, t, confirmTimeout); err != nil {
						failed.Add(1)
					} else {
						confirmed.Add(1)
						now := nowNs()
						for {
							old := lastConfirm.Load()
							if now <= old || lastConfirm.CompareAndSwap(old, now) {
								break
							}
						}
					}
					<-sem
				}
			}()
			<-start
			pubStart := time.Now()
		loop:
			for seq := range perPub {
				if interval > 0 {
					if d := time.Until(pubStart.Add(time.Duration(seq) * interval)); d > 0 {
						time.Sleep(d)
					}
				}
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					break loop
				}
				id := msgID(i, seq)
				p, err := c.PublishAsync(pctx, "", s.queue, client.Message{ID: s.idm.id(id), Body: bm.make(id)})
				if err != nil {
					failed.Add(1)
					<-sem
					continue
				}
				waiters <- p
			}
			close(waiters)
			<-drained
		}()
	}
	startNs := nowNs()
	close(start)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return pubStats{}, fmt.Errorf("publishing: %w", err)
	}
	st := pubStats{confirmed: confirmed.Load(), failed: failed.Load(), startNs: startNs}
	if last := lastConfirm.Load(); last > startNs {
		st.elapsed = time.Duration(last - startNs)
	}
	return st, nil
}

// runW1 is confirmed-publish throughput: the clock runs from the barrier
// to the last successful confirm.
func (s *session) runW1(ctx context.Context, w Workload) (map[string]float64, error) {
	var confirmed atomic.Int64
	prog := startProgress(s.cfg.stderr, s.cfg.progress, "w1 confirmed", int64(w.Messages/w.Publishers*w.Publishers), &confirmed)
	st, err := s.publishWindowed(ctx, w, &confirmed)
	prog.stop()
	if err != nil {
		return nil, err
	}
	sec := st.elapsed.Seconds()
	m := map[string]float64{
		"confirmed": float64(st.confirmed), "failed": float64(st.failed), "seconds": sec,
	}
	if sec > 0 {
		m["msgs_per_s"] = float64(st.confirmed) / sec
		m["mb_per_s"] = float64(st.confirmed) * float64(w.MsgSize) / sec / 1e6
	}
	return m, nil
}

// runW2 is confirmed-publish latency: one publisher through the leader,
// one message at a time (10 s timeout each), the warm-up not recorded.
func (s *session) runW2(ctx context.Context, w Workload) (map[string]float64, error) {
	var lat *latencyLog
	if s.cfg.latencyLog != "" {
		var err error
		if lat, err = createLatencyLog(s.cfg.latencyLog); err != nil {
			return nil, err
		}
		defer lat.abort()
	}
	c, err := s.dial(ctx, s.leader, "bench-publisher-0")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	bm := newBodyMaker(w.MsgSize)
	var h Histogram
	var done atomic.Int64
	prog := startProgress(s.cfg.stderr, s.cfg.progress, "w2 published", int64(w.Warmup+w.Messages), &done)
	defer prog.stop()
	failed := 0
	start := time.Now()
	for i := range w.Warmup + w.Messages {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("publishing: %w", err)
		}
		pctx, cancel := context.WithTimeout(ctx, w2Timeout)
		id := msgID(0, i)
		t := nowNs()
		_, err := c.Publish(pctx, "", s.queue, client.Message{ID: s.idm.id(id), Body: bm.make(id)})
		d := nowNs() - t
		cancel()
		done.Add(1)
		if i < w.Warmup {
			continue
		}
		if err != nil {
			failed++
			lat.add(t, -1)
			continue
		}
		h.Record(d)
		lat.add(t, d)
	}
	el := time.Since(start).Seconds()
	prog.stop()
	if err := lat.close(); err != nil {
		return nil, err
	}
	return map[string]float64{
		"confirmed": float64(h.Count()), "failed": float64(failed), "seconds": el,
		"p50_us": us(h.Quantile(0.5)), "p90_us": us(h.Quantile(0.9)), "p99_us": us(h.Quantile(0.99)),
		"p999_us": us(h.Quantile(0.999)), "max_us": us(h.Max()), "mean_us": h.Mean() / 1e3,
	}, nil
}

// us converts ns to µs.
func us(ns int64) float64 { return float64(ns) / 1e3 }
