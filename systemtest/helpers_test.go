package systemtest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testcluster"
)

func dial(t *testing.T, addrs ...string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, addrs, client.WithBackoff(10*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatalf("dial %v: %v", addrs, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// confirmedSet records confirmed message IDs from several goroutines.
type confirmedSet struct {
	mu  sync.Mutex
	ids map[string]bool
}

func newConfirmedSet() *confirmedSet { return &confirmedSet{ids: map[string]bool{}} }

func (s *confirmedSet) add(id string) {
	s.mu.Lock()
	s.ids[id] = true
	s.mu.Unlock()
}

func (s *confirmedSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

func (s *confirmedSet) snapshot() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]bool, len(s.ids))
	for k := range s.ids {
		out[k] = true
	}
	return out
}

// drain consumes a queue until want distinct IDs arrived or nothing arrives
// for idle, acking everything, and returns how many times each ID arrived
// as a distinct queue entry (queue, seq).
func drain(t *testing.T, c *client.Client, queue string, want int, idle time.Duration) map[string]int {
	t.Helper()
	ctx := ctxFor(t, 2*time.Minute)
	sub, err := c.Subscribe(ctx, queue, client.WithPrefetch(512))
	if err != nil {
		t.Fatalf("subscribe %s: %v", queue, err)
	}
	defer sub.Close()
	entries := map[string]map[uint64]bool{}
	distinct := 0
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for distinct < want {
		select {
		case d, ok := <-sub.Deliveries():
			if !ok {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			if entries[d.ID] == nil {
				entries[d.ID] = map[uint64]bool{}
				distinct++
			}
			entries[d.ID][d.Seq] = true
			if err := d.Ack(); err != nil {
				t.Fatalf("ack: %v", err)
			}
			timer.Reset(idle)
		case <-timer.C:
			t.Logf("drain %s: idle after %d distinct IDs (want %d)", queue, distinct, want)
			want = distinct
		case <-ctx.Done():
			t.Fatalf("drain %s: %v after %d", queue, ctx.Err(), distinct)
		}
	}
	out := make(map[string]int, len(entries))
	for id, seqs := range entries {
		out[id] = len(seqs)
	}
	return out
}

// checkExactlyOnce fails the test unless every confirmed ID was enqueued
// exactly once.
func checkExactlyOnce(t *testing.T, confirmed map[string]bool, got map[string]int) {
	t.Helper()
	lost, dups := 0, 0
	for id := range confirmed {
		switch n := got[id]; {
		case n == 0:
			lost++
			if lost <= 5 {
				t.Errorf("confirmed message %s was never delivered", id)
			}
		case n > 1:
			dups++
			if dups <= 5 {
				t.Errorf("message %s was enqueued %d times", id, n)
			}
		}
	}
	for id, n := range got {
		if n > 1 && !confirmed[id] {
			dups++
			t.Errorf("unconfirmed message %s was enqueued %d times", id, n)
		}
	}
	if lost > 0 || dups > 0 {
		t.Fatalf("%d confirmed messages lost, %d enqueued more than once (of %d confirmed)", lost, dups, len(confirmed))
	}
}

// waitCaughtUp waits until every running node applied what the leader has
// committed.
func waitCaughtUp(t *testing.T, tc *testcluster.Cluster, d time.Duration) {
	t.Helper()
	tc.WaitFor(d, "all nodes caught up", func() bool {
		l := tc.Leader()
		if l == nil {
			return false
		}
		commit := l.Node().Raft().CommitIndex()
		for i := 0; i < tc.Size(); i++ {
			if b := tc.Node(i); b != nil && b.FSM().AppliedIndex() < commit {
				return false
			}
		}
		return true
	})
}

func msgID(p, i int) string { return fmt.Sprintf("p%d-%06d", p, i) }
