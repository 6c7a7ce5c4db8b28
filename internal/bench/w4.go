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

// w4ErrorKind names a failed W4 attempt for the publish_errors counts.
// Error texts carry message IDs, so they are grouped by sentinel.
func w4ErrorKind(err error) string {
	switch {
	case errors.Is(err, client.ErrIndeterminate):
		return "timeout after sending (outcome unknown)"
	case errors.Is(err, client.ErrNoLeader):
		return "no leader"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout before sending"
	case errors.Is(err, client.ErrResourceLimit):
		return "resource limit"
	case errors.Is(err, client.ErrClosed):
		return "client closed"
	case errors.Is(err, client.ErrNotFound):
		return "queue not found"
	}
	return "other: " + err.Error()
}

// runW4 is the failover workload: one publisher, one synchronous publish
// per 10 ms tick (1 s timeout, a failed ID never reused); the leader from
// setup killed at 10 s and restarted at 25 s; publishing stops at 40 s.
// Then it waits for all nodes to be current again, reads back every stored
// message and counts missing confirmed IDs and duplicates.
func (s *session) runW4(ctx context.Context, w Workload, info map[string]any) (map[string]float64, error) {
	leaderID := s.ids[s.leader]
	info["killed_node"] = leaderID
	target := (s.leader + 1) % len(s.servers)
	if w.Connect == "leader" {
		target = s.leader
	}
	pub, err := s.dial(ctx, target, "bench-publisher-0")
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	bm := newBodyMaker(w.MsgSize)

	confirmed := map[uint64]bool{}
	unconfirmed := map[uint64]bool{}
	errCounts := map[string]int{}
	var killAt, restartAt time.Time
	var maxGap time.Duration
	var maxGapStart, maxGapEnd float64
	firstOKAfterKill := -1.0
	reconnects := 0
	lastAddr := pub.Addr()
	var recoveredNs atomic.Int64
	recoveredNs.Store(-1)
	var restartDone chan error
	// The restart runs in the background while publishing goes on; bg
	// owns it and bctx stops it if the run ends early.
	bctx, bcancel := context.WithCancel(ctx)
	var bg sync.WaitGroup
	defer bg.Wait()
	defer bcancel()
	var attempted atomic.Int64
	prog := startProgress(s.cfg.stderr, s.cfg.progress, "w4 attempts", int64(w.Duration/(time.Second/time.Duration(w.RateHz))), &attempted)
	defer prog.stop()

	tick := time.NewTicker(time.Second / time.Duration(w.RateHz))
	defer tick.Stop()
	start := time.Now()
	lastOK := start
	seq := 0
	for time.Since(start) < w.Duration {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("publishing: %w", ctx.Err())
		}
		el := time.Since(start)
		if killAt.IsZero() && el >= w.KillAfter {
			if err := s.killNode(ctx, leaderID); err != nil {
				return nil, fmt.Errorf("kill leader %s: %w", leaderID, err)
			}
			killAt = time.Now()
			fmt.Fprintf(s.cfg.stderr, "w4: killed leader %s at t=%.2fs\n", leaderID, killAt.Sub(start).Seconds())
		}
		if restartAt.IsZero() && el >= w.RestartAfter {
			restartAt = time.Now()
			restartDone = make(chan error, 1)
			fmt.Fprintf(s.cfg.stderr, "w4: restarting %s at t=%.2fs\n", leaderID, restartAt.Sub(start).Seconds())
			bg.Add(1)
			go func() {
				defer bg.Done()
				err := s.restartNode(bctx, leaderID)
				// Then poll until all nodes are current again.
				for time.Since(restartAt) < recoverTimeout && bctx.Err() == nil {
					if ok, _ := probeAll(bctx, s.servers).replicated(); ok {
						recoveredNs.Store(int64(time.Since(restartAt)))
						break
					}
					t := time.NewTimer(recoverInterval)
					select {
					case <-bctx.Done():
					case <-t.C:
					}
					t.Stop()
				}
				restartDone <- err
			}()
		}
		id := uint64(seq)
		seq++
		attempted.Add(1)
		pctx, cancel := context.WithTimeout(ctx, w.PublishTimeout)
		_, err := pub.Publish(pctx, "", s.queue, client.Message{ID: s.idm.id(id), Body: bm.make(id)})
		cancel()
		now := time.Now()
		if a := pub.Addr(); a != "" && a != lastAddr {
			reconnects++
			lastAddr = a
		}
		if err != nil {
			unconfirmed[id] = true
			errCounts[w4ErrorKind(err)]++
			continue
		}
		confirmed[id] = true
		if g := now.Sub(lastOK); g > maxGap {
			maxGap = g
			if killAt.IsZero() {
				maxGapStart, maxGapEnd = lastOK.Sub(start).Seconds(), now.Sub(start).Seconds()
			} else {
				maxGapStart, maxGapEnd = lastOK.Sub(killAt).Seconds(), now.Sub(killAt).Seconds()
			}
		}
		lastOK = now
		if !killAt.IsZero() && firstOKAfterKill < 0 && now.After(killAt) {
			firstOKAfterKill = float64(now.Sub(killAt)) / 1e6
		}
	}
	pubEnd := time.Now()
	prog.stop()
	if restartDone != nil {
		if err := <-restartDone; err != nil {
			info["restart_error"] = err.Error()
		}
	}
	recovered := -1.0
	if v := recoveredNs.Load(); v >= 0 {
		recovered = time.Duration(v).Seconds()
	}
	v := probeAll(ctx, s.servers)
	_, why := v.current()
	info["health_after"] = why
	if l := v.leader(); l >= 0 {
		info["leader_after"] = s.ids[l]
	}
	info["publish_errors"] = errCounts

	dctx, cancel := context.WithTimeout(ctx, recoverTimeout)
	ids, derr := s.drain(dctx, target)
	cancel()
	if derr != nil {
		info["drain_error"] = derr.Error()
	}
	found := map[uint64]int{}
	for _, id := range ids {
		found[id]++
	}
	missing, dups, unconfStored := 0, 0, 0
	for id := range confirmed {
		if found[id] == 0 {
			missing++
		}
	}
	for id, n := range found {
		if n > 1 {
			dups += n - 1
		}
		if unconfirmed[id] {
			unconfStored++
		}
	}
	failedAttempts := 0
	for _, n := range errCounts {
		failedAttempts += n
	}
	m := map[string]float64{
		"attempted": float64(seq), "confirmed": float64(len(confirmed)), "failed_attempts": float64(failedAttempts),
		"max_gap_ms": float64(maxGap) / 1e6, "max_gap_start_s_rel_kill": maxGapStart, "max_gap_end_s_rel_kill": maxGapEnd,
		"first_ok_after_kill_ms": firstOKAfterKill, "reconnects": float64(reconnects),
		"stored_after_recovery": float64(len(ids)), "missing_confirmed": float64(missing), "duplicates": float64(dups),
		"unconfirmed_but_stored": float64(unconfStored), "recovered_s_after_restart": recovered,
		"publish_seconds": pubEnd.Sub(start).Seconds(),
	}
	if derr != nil {
		m["drain_incomplete"] = 1
	}
	return m, nil
}

// drain reads every message stored in the queue through a consumer
// dialled through node i (prefetch 1,000, each acked), until the queue's
// message count at the start is reached or nothing comes for 10 s, and
// returns the IDs found in the bodies.
func (s *session) drain(ctx context.Context, i int) ([]uint64, error) {
	c, err := s.dial(ctx, i, "bench-drain")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	qi, err := c.InspectQueue(ctx, s.queue)
	if err != nil {
		return nil, fmt.Errorf("drain: %w", err)
	}
	want := int(qi.Messages)
	sub, err := c.Subscribe(ctx, s.queue, client.WithPrefetch(drainPrefetch), client.WithTag("bench-drain"))
	if err != nil {
		return nil, fmt.Errorf("drain: %w", err)
	}
	defer sub.Close()
	ids := make([]uint64, 0, want)
	idle := time.NewTimer(drainIdle)
	defer idle.Stop()
	for len(ids) < want {
		select {
		case d, ok := <-sub.Deliveries():
			if !ok {
				return ids, fmt.Errorf("drain: subscription ended after %d of %d: %w", len(ids), want, sub.Err())
			}
			if id, _, ok := parseBody(d.Body); ok {
				ids = append(ids, id)
			}
			if err := d.Ack(); err != nil {
				return ids, fmt.Errorf("drain: %w", err)
			}
			idle.Reset(drainIdle)
		case <-idle.C:
			return ids, fmt.Errorf("drain: nothing for %v after %d of %d", drainIdle, len(ids), want)
		case <-ctx.Done():
			return ids, fmt.Errorf("drain: %d of %d: %w", len(ids), want, ctx.Err())
		}
	}
	return ids, nil
}
