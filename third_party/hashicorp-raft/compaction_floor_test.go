package raft

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// TestCompactionFloor_HoldsBackCompaction checks that compaction after a
// snapshot keeps the entry CompactionFloor names and every later one, and
// compacts as TrailingLogs says once the floor is gone.
func TestCompactionFloor_HoldsBackCompaction(t *testing.T) {
	var floor atomic.Uint64
	conf := inmemConfig(t)
	conf.TrailingLogs = 10
	conf.CompactionFloor = floor.Load
	c := MakeCluster(1, t, conf)
	defer c.Close()
	leader := c.Leader()

	apply := func(n int) {
		t.Helper()
		var f Future
		for i := 0; i < n; i++ {
			f = leader.Apply([]byte(fmt.Sprintf("test%d", i)), 0)
		}
		if err := f.Error(); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	snapshot := func() uint64 {
		t.Helper()
		if err := leader.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		snaps, err := leader.snapshots.List()
		if err != nil || len(snaps) == 0 {
			t.Fatalf("no snapshot: %v", err)
		}
		return snaps[0].Index
	}
	first := func() uint64 {
		t.Helper()
		idx, err := leader.logs.FirstIndex()
		if err != nil {
			t.Fatalf("first index: %v", err)
		}
		return idx
	}

	apply(100)
	floor.Store(20) // the FSM still reads entry 20
	snapshot()
	if got := first(); got != 20 {
		t.Fatalf("first index after a snapshot with floor 20 = %d, want 20", got)
	}
	var l Log
	if err := leader.logs.GetLog(20, &l); err != nil {
		t.Fatalf("entry 20 was compacted: %v", err)
	}

	apply(100)
	floor.Store(0) // nothing read any more: TrailingLogs alone decides
	snap := snapshot()
	if got, want := first(), snap-conf.TrailingLogs+1; got != want {
		t.Fatalf("first index after a snapshot with no floor = %d, want %d", got, want)
	}

	apply(100)
	floor.Store(first() + 1000) // beyond the snapshot: no limit from the floor
	snap = snapshot()
	if got, want := first(), snap-conf.TrailingLogs+1; got != want {
		t.Fatalf("first index with a floor past the snapshot = %d, want %d", got, want)
	}
}
