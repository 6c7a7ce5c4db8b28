package cluster

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// logWriteBounds are the upper bounds of LogWriteStats' buckets. They are
// finest around the latencies of a healthy fsync (0.1-1 ms), where a
// commit's latency is decided, and reach far enough to tell a stalled disk.
var logWriteBounds = [...]time.Duration{
	50 * time.Microsecond, 100 * time.Microsecond, 200 * time.Microsecond,
	300 * time.Microsecond, 400 * time.Microsecond, 500 * time.Microsecond,
	750 * time.Microsecond, time.Millisecond, 1500 * time.Microsecond,
	2 * time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond,
	7500 * time.Microsecond, 10 * time.Millisecond, 15 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond,
}

// LogWriteStats is a histogram of the time this node's log store took to
// store each batch of Raft entries since the node started: encoding them,
// writing them and syncing them to disk. Raft counts an entry on a node only
// once that write has returned, so a commit waits for the writes of a
// majority; slow writes here are slow commits.
type LogWriteStats struct {
	// Bounds are the buckets' upper bounds, ascending.
	Bounds []time.Duration
	// Counts has one more element than Bounds: Counts[i] is the number of
	// writes that took more than Bounds[i-1] (0 for i == 0) and at most
	// Bounds[i]; the last counts those slower than every bound.
	Counts []uint64
	// Count is the number of writes, Sum their total time.
	Count uint64
	Sum   time.Duration
}

// logWriteHist is a LogWriteStats recorded without locks.
type logWriteHist struct {
	counts [len(logWriteBounds) + 1]atomic.Uint64
	sum    atomic.Int64 // nanoseconds
}

func (h *logWriteHist) observe(d time.Duration) {
	i, _ := slices.BinarySearch(logWriteBounds[:], d) // first bound >= d
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// stats copies the histogram. Writes that finish while it copies may be in
// Count and Counts but not yet in Sum, or the other way round.
func (h *logWriteHist) stats() LogWriteStats {
	s := LogWriteStats{
		Bounds: slices.Clone(logWriteBounds[:]),
		Counts: make([]uint64, len(h.counts)),
		Sum:    time.Duration(h.sum.Load()),
	}
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
		s.Count += s.Counts[i]
	}
	return s
}

// Log writes slower than slowLogWrite are logged at debug level (with their
// start, so they can be laid beside a client's latencies), those slower than
// stalledLogWrite as a warning: every commit waits for such a disk.
var (
	slowLogWrite    = time.Millisecond
	stalledLogWrite = time.Second
)

// timedLogStore times the writes of the log store it wraps. Everything else
// passes through, including whether the store is monotonic, which Raft asks
// to decide how to drop the log after installing a snapshot.
type timedLogStore struct {
	raft.LogStore
	hist *logWriteHist
	log  *slog.Logger // nil: no logging
}

// StoreLog implements raft.LogStore.
func (s timedLogStore) StoreLog(l *raft.Log) error {
	start := time.Now()
	err := s.LogStore.StoreLog(l)
	s.done(start, 1)
	return err
}

// StoreLogs implements raft.LogStore.
func (s timedLogStore) StoreLogs(logs []*raft.Log) error {
	start := time.Now()
	err := s.LogStore.StoreLogs(logs)
	s.done(start, len(logs))
	return err
}

func (s timedLogStore) done(start time.Time, entries int) {
	d := time.Since(start)
	s.hist.observe(d)
	if d <= slowLogWrite || s.log == nil {
		return
	}
	level, msg := slog.LevelDebug, "slow log write"
	if d > stalledLogWrite {
		level, msg = slog.LevelWarn, "log write took over a second: the disk is stalling, and commits wait for it"
	}
	if ctx := context.Background(); s.log.Enabled(ctx, level) {
		s.log.Log(ctx, level, msg, "started", start.Format(time.RFC3339Nano), "took", d, "entries", entries)
	}
}

// IsMonotonic implements raft.MonotonicLogStore for the wrapped store.
func (s timedLogStore) IsMonotonic() bool {
	m, ok := s.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}
