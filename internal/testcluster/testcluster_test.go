package testcluster_test

import (
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testcluster"
)

func TestStopRestartKeepsAddresses(t *testing.T) {
	cl := testcluster.Start(t, 3)
	if cl.Size() != 3 || len(cl.Followers()) != 2 {
		t.Fatalf("size %d, followers %d", cl.Size(), len(cl.Followers()))
	}
	old := cl.LeaderIndex()
	addr := cl.ClientAddr(old)
	cl.Stop(old)
	if cl.Node(old) != nil {
		t.Fatal("stopped node still listed as running")
	}
	next := cl.WaitLeader()
	if cl.Index(next) == old {
		t.Fatal("the stopped node still leads")
	}
	b := cl.Restart(old)
	if b.ClientAddr() != addr || cl.ClientAddrs()[old] != addr {
		t.Fatalf("restarted on %s, want %s", b.ClientAddr(), addr)
	}
	cl.WaitFor(testcluster.DefaultWait, "the restarted node to follow the leader", func() bool {
		m, ok := b.Node().Leader()
		return ok && m.ClientAddr == cl.WaitLeader().ClientAddr()
	})
	cl.Kill(cl.LeaderIndex())
	start := time.Now()
	cl.WaitLeader()
	t.Logf("new leader %v after the leader was killed", time.Since(start).Round(time.Millisecond))
}
