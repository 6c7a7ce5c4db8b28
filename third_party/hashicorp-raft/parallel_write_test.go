// Copyright (c) raftmq authors
// SPDX-License-Identifier: MPL-2.0

package raft

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gatedStore is an InmemStore whose StoreLogs can be held or made to fail,
// standing in for a slow or broken disk.
type gatedStore struct {
	*InmemStore
	mu   sync.Mutex
	gate chan struct{} // when set, StoreLogs waits for it to close
	fail error         // when set, the next StoreLogs returns it
}

func (s *gatedStore) hold() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *gatedStore) release() {
	s.mu.Lock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
	s.mu.Unlock()
}

func (s *gatedStore) failNext(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *gatedStore) StoreLogs(logs []*Log) error {
	s.mu.Lock()
	gate, fail := s.gate, s.fail
	s.fail = nil
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != nil {
		return fail
	}
	return s.InmemStore.StoreLogs(logs)
}

func (s *gatedStore) StoreLog(l *Log) error { return s.StoreLogs([]*Log{l}) }

type parallelCluster struct {
	rafts  []*Raft
	stores []*gatedStore
	fsms   []*MockFSM
}

// newParallelCluster starts three bootstrapped servers on in-memory
// transports whose log stores are LogCaches over gatedStores.
func newParallelCluster(t *testing.T, parallel bool) *parallelCluster {
	t.Helper()
	c := &parallelCluster{}
	var trans []*InmemTransport
	var configuration Configuration
	for i := 0; i < 3; i++ {
		addr, tr := NewInmemTransport("")
		trans = append(trans, tr)
		configuration.Servers = append(configuration.Servers, Server{
			Suffrage: Voter, ID: ServerID(fmt.Sprintf("s%d", i)), Address: addr,
		})
	}
	for _, a := range trans {
		for _, b := range trans {
			if a != b {
				a.Connect(b.LocalAddr(), b)
			}
		}
	}
	for i := 0; i < 3; i++ {
		conf := inmemConfig(t)
		conf.LocalID = configuration.Servers[i].ID
		conf.LeaderWritesInParallel = parallel
		store := &gatedStore{InmemStore: NewInmemStore()}
		logs, err := NewLogCache(64, store)
		if err != nil {
			t.Fatal(err)
		}
		snaps := NewInmemSnapshotStore()
		if err := BootstrapCluster(conf, logs, store, snaps, trans[i], configuration); err != nil {
			t.Fatal(err)
		}
		fsm := &MockFSM{}
		r, err := NewRaft(conf, fsm, logs, store, snaps, trans[i])
		if err != nil {
			t.Fatal(err)
		}
		c.rafts = append(c.rafts, r)
		c.stores = append(c.stores, store)
		c.fsms = append(c.fsms, fsm)
	}
	t.Cleanup(func() {
		for _, s := range c.stores {
			s.release()
		}
		for _, r := range c.rafts {
			_ = r.Shutdown().Error()
		}
	})
	return c
}

// leader waits for a leader and returns its index.
func (c *parallelCluster) leader(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for i, r := range c.rafts {
			if r.State() == Leader {
				return i
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no leader elected in 5 s")
	return -1
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func applyAsync(r *Raft, cmd []byte) (ApplyFuture, <-chan error) {
	f := r.Apply(cmd, time.Second)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	return f, done
}

// While the leader's own write of an entry is held, the followers receive
// and store it, and the entry is not answered before the leader has it too.
func TestLeaderWritesInParallel_ReplicatesDuringLocalWrite(t *testing.T) {
	c := newParallelCluster(t, true)
	l := c.leader(t)
	if err := c.rafts[l].Apply([]byte("warm-up"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	want := c.rafts[l].LastIndex() + 1
	c.stores[l].hold()
	f, done := applyAsync(c.rafts[l], []byte("held"))
	for i, r := range c.rafts {
		if i != l {
			waitFor(t, fmt.Sprintf("follower %d to store the held entry", i), func() bool { return r.LastIndex() >= want })
		}
	}
	select {
	case err := <-done:
		t.Fatalf("apply answered (err %v) before the leader's own write finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.stores[l].release()
	if err := <-done; err != nil {
		t.Fatalf("apply after release: %v", err)
	}
	if f.Index() != want {
		t.Fatalf("entry index %d, want %d", f.Index(), want)
	}
	var got Log
	if err := c.stores[l].GetLog(want, &got); err != nil || !bytes.Equal(got.Data, []byte("held")) {
		t.Fatalf("leader's store after release: %v %q", err, got.Data)
	}
}

// The stock order, for contrast: nothing reaches a follower before the
// leader's write is done.
func TestLeaderWritesInParallel_OffReplicatesAfterLocalWrite(t *testing.T) {
	c := newParallelCluster(t, false)
	l := c.leader(t)
	if err := c.rafts[l].Apply([]byte("warm-up"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	before := c.rafts[l].LastIndex()
	c.stores[l].hold()
	_, done := applyAsync(c.rafts[l], []byte("held"))
	time.Sleep(200 * time.Millisecond)
	for i, r := range c.rafts {
		if i != l && r.LastIndex() > before {
			t.Fatalf("follower %d stored index %d while the leader's write of it was held", i, r.LastIndex())
		}
	}
	c.stores[l].release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A leader whose write fails answers the entry with the error and steps down;
// the cluster goes on under a new leader and every server ends with the same
// log, with or without the failed entry.
func TestLeaderWritesInParallel_LocalWriteFailure(t *testing.T) {
	c := newParallelCluster(t, true)
	l := c.leader(t)
	if err := c.rafts[l].Apply([]byte("before"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	diskErr := errors.New("disk on fire")
	c.stores[l].failNext(diskErr)
	if err := c.rafts[l].Apply([]byte("failed"), time.Second).Error(); err == nil {
		t.Fatal("apply succeeded although the leader's write failed")
	}
	var nl int
	waitFor(t, "a leader after the failure", func() bool {
		for i, r := range c.rafts {
			if r.State() == Leader {
				nl = i
				return true
			}
		}
		return false
	})
	var err error
	waitFor(t, "an apply on the new leader", func() bool {
		for i, r := range c.rafts {
			if r.State() == Leader {
				nl = i
			}
		}
		err = c.rafts[nl].Apply([]byte("after"), time.Second).Error()
		return err == nil
	})
	last := c.rafts[nl].LastIndex()
	for i, r := range c.rafts {
		waitFor(t, fmt.Sprintf("server %d to apply index %d", i, last), func() bool { return r.AppliedIndex() >= last })
	}
	want := c.fsms[nl].Logs()
	for i, f := range c.fsms {
		got := f.Logs()
		if len(got) != len(want) {
			t.Fatalf("server %d applied %d entries, leader %d", i, len(got), len(want))
		}
		for j := range got {
			if !bytes.Equal(got[j], want[j]) {
				t.Fatalf("server %d entry %d is %q, leader's %q", i, j, got[j], want[j])
			}
		}
	}
	if n := len(want); n < 2 || string(want[0]) != "before" || string(want[n-1]) != "after" {
		t.Fatalf("applied %q, want before, [failed,] after", want)
	}
}

// Entries staged by the leader survive a compaction of older entries, and a
// deleted range is not served from the cache any more.
func TestLeaderWritesInParallel_StagedEntriesSurviveDeleteRange(t *testing.T) {
	store := NewInmemStore()
	c, err := NewLogCache(16, store)
	if err != nil {
		t.Fatal(err)
	}
	var stored []*Log
	for i := uint64(1); i <= 10; i++ {
		stored = append(stored, &Log{Index: i, Term: 1, Data: []byte{byte(i)}})
	}
	if err := c.StoreLogs(stored); err != nil {
		t.Fatal(err)
	}
	staged := []*Log{{Index: 11, Term: 1, Data: []byte{11}}, {Index: 12, Term: 1, Data: []byte{12}}}
	if !c.StageLogs(staged) {
		t.Fatal("StageLogs refused two entries in a 16-entry cache")
	}
	if err := c.DeleteRange(1, 5); err != nil {
		t.Fatal(err)
	}
	var l Log
	for _, idx := range []uint64{11, 12} {
		if err := c.GetLog(idx, &l); err != nil || l.Index != idx {
			t.Fatalf("staged entry %d after DeleteRange(1, 5): %v (got index %d)", idx, err, l.Index)
		}
	}
	for _, idx := range []uint64{1, 3, 5} {
		if err := c.GetLog(idx, &l); !errors.Is(err, ErrLogNotFound) {
			t.Fatalf("deleted entry %d: err %v, want ErrLogNotFound", idx, err)
		}
	}
	if err := c.GetLog(6, &l); err != nil || l.Index != 6 {
		t.Fatalf("entry 6 after DeleteRange(1, 5): %v", err)
	}
	if c.StageLogs(make([]*Log, 17)) {
		t.Fatal("StageLogs accepted more entries than the cache holds")
	}
}
