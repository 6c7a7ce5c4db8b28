package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// defaultGCPercent is the node's GC target once its heap is large. A
// broker's heap is then mostly queued message bodies, which hold no
// pointers, so a collection marks them without scanning them and collecting
// twice as often as Go's default (100) is cheap; it bounds the heap at 1.5x
// the live data instead of 2x, and every byte of that growth is memory the
// kernel must hand over zeroed. Measured on W1 (docs/performance.md, "Fifth
// pass"): resident set per node -15%, broker CPU per message about -12%.
const defaultGCPercent = 50

// largeHeap is the live heap from which the node collects at -gc-percent.
// Below it, the heap holds few queued messages and mostly short-lived
// garbage, and the runtime's own target (GOGC, else 100) is kept:
// collecting at 50 there cost W3, whose live heap stays under 100 MB,
// about 9% of its throughput for no memory worth having. The target goes
// back to the runtime's below half of it, so a heap near the line does not
// flip it at every check.
const largeHeap = 64 << 20

// gcCheckEvery is how often the live heap is looked at.
const gcCheckEvery = 250 * time.Millisecond

// gcTarget returns the GC target for a live heap of live bytes, given the
// one in force: large below largeHeap/2 gets small's target, at or above
// largeHeap large's, between them the current one stays.
func gcTarget(live uint64, current, small, large int) int {
	switch {
	case live >= largeHeap:
		return large
	case live < largeHeap/2:
		return small
	default:
		return current
	}
}

// tuneGC keeps the GC target at percent while the live heap is large and
// at the runtime's own target while it is small, checking every
// gcCheckEvery, until ctx ends; percent 0 leaves the runtime alone. The
// returned channel closes when it has returned.
func tuneGC(ctx context.Context, percent int) <-chan struct{} {
	done := make(chan struct{})
	if percent <= 0 {
		close(done)
		return done
	}
	small := debug.SetGCPercent(-1) // read the runtime's target...
	debug.SetGCPercent(small)       // ...and put it back at once
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	liveHeap := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	go func() {
		defer close(done)
		runGCTuner(ctx, liveHeap, func(p int) { debug.SetGCPercent(p) }, small, percent, gcCheckEvery)
	}()
	return done
}

// runGCTuner is tuneGC's loop, with the heap reading and the setting of
// the target passed in.
func runGCTuner(ctx context.Context, liveHeap func() uint64, set func(int), small, large int, every time.Duration) {
	current := small
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if next := gcTarget(liveHeap(), current, small, large); next != current {
			set(next)
			current = next
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
