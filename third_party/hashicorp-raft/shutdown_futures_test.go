// Copyright (c) raftmq authors
// SPDX-License-Identifier: MPL-2.0

package raft

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// gatedFSM is a MockFSM whose Apply waits for gate to close.
type gatedFSM struct {
	MockFSM
	gate chan struct{}
}

func (f *gatedFSM) Apply(l *Log) interface{} {
	<-f.gate
	return f.MockFSM.Apply(l)
}

// Every apply future is answered when Raft shuts down with committed
// entries still waiting for the FSM: with the applied ones' results, the
// rest with ErrRaftShutdown. Stock hashicorp/raft leaves the batches queued
// for the FSM unanswered (hashicorp/raft#498), and a caller waiting on one
// waits for ever.
func TestShutdownAnswersCommittedButUnappliedFutures(t *testing.T) {
	conf := inmemConfig(t)
	conf.LocalID = "s0"
	addr, trans := NewInmemTransport("")
	store := NewInmemStore()
	snaps := NewInmemSnapshotStore()
	configuration := Configuration{Servers: []Server{{Suffrage: Voter, ID: conf.LocalID, Address: addr}}}
	if err := BootstrapCluster(conf, store, store, snaps, trans, configuration); err != nil {
		t.Fatal(err)
	}
	fsm := &gatedFSM{gate: make(chan struct{})}
	r, err := NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	released := false
	t.Cleanup(func() {
		if !released {
			close(fsm.gate)
		}
		_ = r.Shutdown().Error()
	})
	waitFor(t, "leadership", func() bool { return r.State() == Leader })
	// After the barrier the leader's own first entries are applied and
	// only the commands below add entries, so their indexes are known.
	if err := r.Barrier(time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	first := r.getLastIndex() + 1

	// One at a time, so that each entry is a batch of its own for the FSM:
	// the first holds the FSM in Apply, the rest queue behind it. Each is
	// committed before the next is proposed, so none is still in flight
	// (answered ErrLeadershipLost) at the shutdown.
	const n = 40
	futures := make([]ApplyFuture, n)
	for i := range futures {
		futures[i] = r.Apply([]byte(fmt.Sprintf("e%d", i)), time.Second)
		index := first + uint64(i)
		waitFor(t, "commit", func() bool { return r.getCommitIndex() >= index })
	}

	shutdown := r.Shutdown()
	close(fsm.gate)
	released = true
	done := make(chan error, 1)
	go func() { done <- shutdown.Error() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not complete")
	}

	applied, refused := 0, 0
	for i, f := range futures {
		errCh := make(chan error, 1)
		go func() { errCh <- f.Error() }()
		select {
		case err := <-errCh:
			switch {
			case err == nil:
				applied++
			case errors.Is(err, ErrRaftShutdown):
				refused++
			default:
				t.Fatalf("future %d: unexpected error %v", i, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("future %d was never answered (%d applied, %d answered ErrRaftShutdown before it)", i, applied, refused)
		}
	}
	if refused == 0 {
		t.Fatalf("all %d entries were applied before the shutdown: the test did not leave any queued for the FSM", n)
	}
	t.Logf("%d applied, %d answered ErrRaftShutdown", applied, refused)
}
