package systemtest

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testcluster"
	"github.com/raftmq/raftmq/wire"
)

// rawHello opens a connection to addr, says hello and returns the answer
// and how long it took.
func rawHello(t *testing.T, addr string) (wire.HelloOK, time.Duration) {
	t.Helper()
	start := time.Now()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer nc.Close()
	w := wire.NewWriter(nc)
	if err := w.WriteFrame(wire.THello, 1, &wire.Hello{Version: wire.Version, Client: "systemtest"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := wire.NewReader(nc, 0).Next()
	if err != nil {
		t.Fatalf("read the hello answer: %v", err)
	}
	var ok wire.HelloOK
	if f.Type != wire.THelloOK {
		t.Fatalf("hello answered with %s", f.Type)
	}
	if err := wire.Decode(f, &ok); err != nil {
		t.Fatal(err)
	}
	return ok, time.Since(start)
}

// TestHandshakeWaitsForAnElection: a node that knows no leader holds a new
// connection's hello for a while instead of answering "no leader" at once,
// and answers with the new leader's address as soon as one is elected. This
// is what lets a client reconnect the moment a failover ends.
func TestHandshakeWaitsForAnElection(t *testing.T) {
	tc := testcluster.Start(t, 3)
	survivor := tc.Followers()[0]
	var killed []int
	for i := range tc.Size() {
		if tc.Node(i) != survivor {
			tc.Kill(i)
			killed = append(killed, i)
		}
	}
	ctx := ctxFor(t, time.Minute)
	tc.WaitFor(20*time.Second, "survivor to know no leader", func() bool {
		st, err := client.NodeStatus(ctx, survivor.ClientAddr())
		return err == nil && st.LeaderID == ""
	})

	// No majority: the hello is held, then answered without a leader.
	ok, took := rawHello(t, survivor.ClientAddr())
	if ok.Leader || ok.LeaderAddr != "" {
		t.Fatalf("survivor without a majority named a leader: %+v", ok)
	}
	if took < 800*time.Millisecond {
		t.Fatalf("hello without a leader answered after %v: not held", took)
	}

	// Bring a majority back while hellos are held: one of them answers with
	// the new leader.
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		time.Sleep(200 * time.Millisecond)
		tc.Restart(killed[0])
	}()
	t.Cleanup(func() { <-restarted })
	live := []string{survivor.ClientAddr(), tc.ClientAddr(killed[0])}
	for attempt := 1; ; attempt++ {
		ok, took = rawHello(t, survivor.ClientAddr())
		if ok.Leader || ok.LeaderAddr != "" {
			break
		}
		if attempt == 20 {
			t.Fatalf("no leader named in %d hellos", attempt)
		}
	}
	if !ok.Leader && !slices.Contains(live, ok.LeaderAddr) {
		t.Fatalf("hello named %q as leader, want one of the live nodes %v", ok.LeaderAddr, live)
	}
	t.Logf("hello answered with the new leader %q after %v", ok.LeaderAddr, took)
	<-restarted
}
