// Copyright (c) raftmq authors
// SPDX-License-Identifier: MPL-2.0

package raft

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
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
func newParallelCluster(t *testing.T, parallel bool, mods ...func(*Config)) *parallelCluster {
	t.Helper()
	return newParallelClusterCache(t, parallel, 64, mods...)
}

// newParallelClusterCache is newParallelCluster with LogCaches of the given
// size.
func newParallelClusterCache(t *testing.T, parallel bool, cacheSize int, mods ...func(*Config)) *parallelCluster {
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
		// Steadier than inmemConfig's 50 ms on a slow machine under the
		// race detector: an election during a held write would make the
		// leader wait for it before handling the vote.
		conf.HeartbeatTimeout = 500 * time.Millisecond
		conf.ElectionTimeout = 500 * time.Millisecond
		conf.LeaderLeaseTimeout = 250 * time.Millisecond
		conf.LocalID = configuration.Servers[i].ID
		conf.LeaderWritesInParallel = parallel
		for _, mod := range mods {
			mod(conf)
		}
		store := &gatedStore{InmemStore: NewInmemStore()}
		logs, err := NewLogCache(cacheSize, store)
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

// written waits until the leader l's own store holds every entry of its
// log: an apply may be answered before the leader's write of it has ended,
// and a hold set meanwhile would hold that write.
func (c *parallelCluster) written(t *testing.T, l int) {
	t.Helper()
	waitFor(t, "the leader's writes to end", func() bool {
		last, err := c.stores[l].LastIndex()
		return err == nil && last >= c.rafts[l].LastIndex()
	})
}

func applyAsync(r *Raft, cmd []byte) (ApplyFuture, <-chan error) {
	f := r.Apply(cmd, time.Second)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	return f, done
}

// While the leader's own write of an entry is held, the followers receive
// and store it. The entry commits only on a majority's disks: not while the
// leader and one follower are held, but as soon as both followers have it,
// without waiting for the leader's disk. Meanwhile the leader takes and
// commits new entries, and its writes all end in its log, in order.
func TestLeaderWritesInParallel_ReplicatesDuringLocalWrite(t *testing.T) {
	c := newParallelCluster(t, true)
	l := c.leader(t)
	if err := c.rafts[l].Apply([]byte("warm-up"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.written(t, l)
	want := c.rafts[l].LastIndex() + 1
	var fs []int // the followers
	for i := range c.rafts {
		if i != l {
			fs = append(fs, i)
		}
	}
	c.stores[l].hold()
	c.stores[fs[0]].hold()
	f, done := applyAsync(c.rafts[l], []byte("held"))
	waitFor(t, "the free follower to store the held entry", func() bool { return c.rafts[fs[1]].LastIndex() >= want })
	select {
	case err := <-done:
		t.Fatalf("apply answered (err %v) with the entry on one disk of three", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.stores[fs[0]].release()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("apply with the entry on both followers' disks: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("apply not answered with the entry on both followers' disks while the leader's write was held")
	}
	if f.Index() != want || c.rafts[l].AppliedIndex() < want {
		t.Fatalf("entry index %d, leader applied %d; want %d", f.Index(), c.rafts[l].AppliedIndex(), want)
	}
	var got Log
	if err := c.stores[l].GetLog(want, &got); err == nil {
		t.Fatal("the leader's store has the entry although its write is held")
	}
	// The leader goes on taking entries while its write is held: the next
	// ones commit on the followers too.
	for i := 0; i < 3; i++ {
		if err := c.rafts[l].Apply([]byte(fmt.Sprintf("next-%d", i)), 2*time.Second).Error(); err != nil {
			t.Fatalf("apply %d while the leader's first write is held: %v", i, err)
		}
	}
	c.stores[l].release()
	c.written(t, l)
	for i, data := range []string{"held", "next-0", "next-1", "next-2"} {
		if err := c.stores[l].GetLog(want+uint64(i), &got); err != nil || !bytes.Equal(got.Data, []byte(data)) {
			t.Fatalf("leader's store after release, index %d: %v %q, want %q", want+uint64(i), err, got.Data, data)
		}
	}
	// The leader goes on as before.
	if err := c.rafts[l].Apply([]byte("after"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
}

// Entries the followers committed while the leader's write of them was held
// stay committed when that write then fails. The old leader has applied
// them although its log lacks them, so it shuts down rather than go on;
// the two others go on with every entry.
func TestLeaderWritesInParallel_CommittedThenLocalWriteFails(t *testing.T) {
	c := newParallelCluster(t, true)
	l := c.leader(t)
	if err := c.rafts[l].Apply([]byte("before"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.written(t, l)
	c.stores[l].hold()
	c.stores[l].failNext(errors.New("disk on fire"))
	// The second batch waits behind the first in the writer, which does not
	// write it once the first has failed.
	for _, data := range []string{"held-1", "held-2"} {
		if err := c.rafts[l].Apply([]byte(data), 2*time.Second).Error(); err != nil {
			t.Fatalf("apply %s with the entry on both followers' disks: %v", data, err)
		}
	}
	c.stores[l].release()
	waitFor(t, "the old leader to shut down after its failed write", func() bool { return c.rafts[l].State() == Shutdown })
	if last, _ := c.stores[l].LastIndex(); last >= c.rafts[l].AppliedIndex() {
		t.Fatalf("old leader's store ends at %d, applied %d: the failed writes are in it", last, c.rafts[l].AppliedIndex())
	}
	var live []int
	for i := range c.rafts {
		if i != l {
			live = append(live, i)
		}
	}
	var last uint64
	waitFor(t, "an apply on a new leader", func() bool {
		for _, i := range live {
			if c.rafts[i].State() == Leader {
				f := c.rafts[i].Apply([]byte("after"), time.Second)
				if f.Error() == nil {
					last = f.Index()
					return true
				}
			}
		}
		return false
	})
	for _, i := range live {
		r := c.rafts[i]
		waitFor(t, fmt.Sprintf("server %d to apply index %d", i, last), func() bool { return r.AppliedIndex() >= last })
		var got []string
		for _, b := range c.fsms[i].Logs() {
			got = append(got, string(b))
		}
		if strings.Join(got, ",") != "before,held-1,held-2,after" {
			t.Fatalf("server %d applied %q, want before, held-1, held-2, after", i, got)
		}
	}
}

// A snapshot taken while the leader's write is held covers entries the
// followers committed, and its compaction leaves the entries not yet
// written alone: they are still served, and end in the leader's store.
func TestLeaderWritesInParallel_CompactionKeepsUnwrittenEntries(t *testing.T) {
	c := newParallelCluster(t, true, func(conf *Config) {
		conf.TrailingLogs = 0
		conf.SnapshotThreshold = 1 << 30 // only the snapshot below
	})
	l := c.leader(t)
	for i := 0; i < 5; i++ {
		if err := c.rafts[l].Apply([]byte(fmt.Sprintf("old-%d", i)), time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	c.written(t, l)
	first := c.rafts[l].LastIndex() + 1
	c.stores[l].hold()
	for i := 0; i < 3; i++ {
		if err := c.rafts[l].Apply([]byte(fmt.Sprintf("held-%d", i)), 2*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.rafts[l].Snapshot().Error(); err != nil {
		t.Fatalf("snapshot while the leader's write is held: %v", err)
	}
	var got Log
	for idx := first; idx < first+3; idx++ {
		if err := c.rafts[l].logs.GetLog(idx, &got); err != nil {
			t.Fatalf("entry %d, applied but not written, after the compaction: %v", idx, err)
		}
	}
	c.stores[l].release()
	c.written(t, l)
	for i := uint64(0); i < 3; i++ {
		if err := c.stores[l].GetLog(first+i, &got); err != nil || string(got.Data) != fmt.Sprintf("held-%d", i) {
			t.Fatalf("leader's store at %d: %v %q", first+i, err, got.Data)
		}
	}
}

// A configuration change waits for the leader's writes before it takes
// effect, and a shutdown waits for them too, without hanging.
func TestLeaderWritesInParallel_ConfigurationAndShutdownWaitForWrites(t *testing.T) {
	c := newParallelCluster(t, true)
	l := c.leader(t)
	if err := c.rafts[l].Apply([]byte("before"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.written(t, l)
	c.stores[l].hold()
	if err := c.rafts[l].Apply([]byte("held"), 2*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	f := c.rafts[l].AddNonvoter("extra", "extra-addr", 0, 0)
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		t.Fatalf("configuration change done (err %v) while the leader's write was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.stores[l].release()
	if err := <-done; err != nil {
		t.Fatalf("configuration change after release: %v", err)
	}
	cf := c.rafts[l].GetConfiguration()
	if err := cf.Error(); err != nil || len(cf.Configuration().Servers) != 4 {
		t.Fatalf("configuration %+v (%v), want 4 servers", cf.Configuration().Servers, err)
	}

	c.written(t, l)
	c.stores[l].hold()
	if err := c.rafts[l].Apply([]byte("held-again"), 2*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() { shut <- c.rafts[l].Shutdown().Error() }()
	select {
	case err := <-shut:
		t.Fatalf("shutdown done (err %v) while the leader's write was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.stores[l].release()
	select {
	case err := <-shut:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown hangs after the leader's write was released")
	}
	var got Log
	if err := c.stores[l].GetLog(c.rafts[l].LastIndex(), &got); err != nil || string(got.Data) != "held-again" {
		t.Fatalf("the held write did not end in the store before the shutdown: %v %q", err, got.Data)
	}
}

// With a cache of 4 entries, the leader stages at most 4 unwritten entries:
// while its write is held, the first entries commit on the followers, the
// next wait for room, and all end in the leader's store in order.
func TestLeaderWritesInParallel_BoundedByTheCache(t *testing.T) {
	c := newParallelClusterCache(t, true, 4)
	l := c.leader(t)
	if err := c.rafts[l].Apply([]byte("before"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.written(t, l)
	first := c.rafts[l].LastIndex() + 1
	c.stores[l].hold()
	var dones []<-chan error
	for i := 0; i < 4; i++ {
		_, done := applyAsync(c.rafts[l], []byte(fmt.Sprintf("e%d", i)))
		if err := <-done; err != nil {
			t.Fatalf("apply %d within the cache while the leader's write is held: %v", i, err)
		}
	}
	for i := 4; i < 6; i++ {
		_, done := applyAsync(c.rafts[l], []byte(fmt.Sprintf("e%d", i)))
		dones = append(dones, done)
	}
	select {
	case err := <-dones[0]:
		t.Fatalf("apply beyond the cache answered (err %v) while the leader's write was held", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.stores[l].release()
	for i, done := range dones {
		if err := <-done; err != nil {
			t.Fatalf("apply %d after release: %v", 4+i, err)
		}
	}
	c.written(t, l)
	var got Log
	for i := 0; i < 6; i++ {
		if err := c.stores[l].GetLog(first+uint64(i), &got); err != nil || string(got.Data) != fmt.Sprintf("e%d", i) {
			t.Fatalf("leader's store at %d: %v %q, want e%d", first+uint64(i), err, got.Data, i)
		}
	}
}

// applyOnAnyLeader applies data on whichever server leads, retrying until
// one takes it, and returns its index.
func applyOnAnyLeader(t *testing.T, c *parallelCluster, data string) uint64 {
	t.Helper()
	var index uint64
	waitFor(t, "an apply on a leader", func() bool {
		for _, r := range c.rafts {
			if r.State() == Leader {
				f := r.Apply([]byte(data), time.Second)
				if f.Error() == nil {
					index = f.Index()
					return true
				}
			}
		}
		return false
	})
	return index
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

// A leader whose write fails before a majority has the entry answers it with
// the error and steps down;
// the cluster goes on under a new leader and every server ends with the same
// log, with or without the failed entry.
func TestLeaderWritesInParallel_LocalWriteFailure(t *testing.T) {
	c := newParallelCluster(t, true)
	l := c.leader(t)
	if err := c.rafts[l].Apply([]byte("before"), time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.written(t, l)
	diskErr := errors.New("disk on fire")
	// The followers are held, so that the entry is on no majority when the
	// leader's write fails (they would commit it without the leader).
	for i := range c.stores {
		if i != l {
			c.stores[i].hold()
		}
	}
	c.stores[l].failNext(diskErr)
	err := c.rafts[l].Apply([]byte("failed"), time.Second).Error()
	for i := range c.stores {
		c.stores[i].release()
	}
	if err == nil || !strings.Contains(err.Error(), diskErr.Error()) {
		t.Fatalf("apply with the leader's write failed and the followers not done: %v, want the disk's error", err)
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
