package systemtest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// TestWholeClusterRestart stops every node and starts them again from their
// data directories: every unacked message is still there, in order.
func TestWholeClusterRestart(t *testing.T) {
	tc := testcluster.Start(t, 3)
	c := dial(t, tc.ClientAddrs()...)
	ctx := ctxFor(t, 2*time.Minute)
	if err := c.DeclareQueue(ctx, "durable", client.QueueArgs{}); err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		if _, err := c.Publish(ctx, "", "durable", client.Message{ID: msgID(0, i), Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	// Ack the first 100.
	got := drain(t, c, "durable", 100, 5*time.Second)
	if len(got) != 100 {
		t.Fatalf("drained %d, want 100", len(got))
	}
	waitCaughtUp(t, tc, 20*time.Second)
	c.Close()
	tc.RestartAll()
	c2 := dial(t, tc.ClientAddrs()...)
	sub, err := c2.Subscribe(ctx, "durable", client.WithPrefetch(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var order []string
	timeout := time.After(60 * time.Second)
	for len(order) < n-100 {
		select {
		case d := <-sub.Deliveries():
			order = append(order, d.ID)
			_ = d.Ack()
		case <-timeout:
			t.Fatalf("after restart only %d of %d messages", len(order), n-100)
		}
	}
	for i, id := range order {
		if want := msgID(0, 100+i); id != want {
			t.Fatalf("message %d after restart is %s, want %s", i, id, want)
		}
	}
}

// TestRollingRestart restarts the nodes one after another (gracefully, the
// leader last) under load: nothing is lost, and the cluster is never without
// a leader for longer than a leadership transfer takes.
func TestRollingRestart(t *testing.T) {
	tc := testcluster.Start(t, 3)
	c := dial(t, tc.ClientAddrs()...)
	ctx := ctxFor(t, 3*time.Minute)
	if err := c.DeclareQueue(ctx, "rolling", client.QueueArgs{}); err != nil {
		t.Fatal(err)
	}
	confirmed := newConfirmedSet()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc := dial(t, tc.ClientAddrs()...)
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				_, err := pc.Publish(pctx, "", "rolling", client.Message{ID: msgID(p, i)})
				cancel()
				if err == nil {
					confirmed.add(msgID(p, i))
				}
			}
		}()
	}
	// Watch for leaderless stretches.
	var maxNoLeader time.Duration
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		var since time.Time
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if tc.Leader() == nil {
				if since.IsZero() {
					since = time.Now()
				}
				if d := time.Since(since); d > maxNoLeader {
					maxNoLeader = d
				}
			} else {
				since = time.Time{}
			}
		}
	}()
	order := []int{}
	leader := tc.LeaderIndex()
	for i := range tc.Size() {
		if i != leader {
			order = append(order, i)
		}
	}
	order = append(order, leader)
	for _, i := range order {
		tc.WaitFor(30*time.Second, "progress", func() bool { return confirmed.len() > 0 })
		tc.Stop(i)
		tc.Restart(i)
		tc.WaitLeader()
		waitCaughtUp(t, tc, 30*time.Second)
		tc.WaitFor(30*time.Second, "restarted node is a voter again", func() bool {
			st, err := c.Status(ctx)
			if err != nil {
				return false
			}
			voters := 0
			for _, m := range st.Members {
				if m.Voter {
					voters++
				}
			}
			return voters == 3
		})
	}
	close(stop)
	wg.Wait()
	<-watchDone
	t.Logf("rolling restart: %d confirmed, longest time without a leader %v", confirmed.len(), maxNoLeader)
	if maxNoLeader > 3*time.Second {
		t.Errorf("the cluster was without a leader for %v", maxNoLeader)
	}
	got := drain(t, c, "rolling", confirmed.len(), 5*time.Second)
	checkExactlyOnce(t, confirmed.snapshot(), got)
}

// TestFollowerCatchesUpBySnapshot keeps a follower down while thousands of
// entries are written and the leader compacts its log: the follower rejoins
// through a snapshot install and ends with the same state.
func TestFollowerCatchesUpBySnapshot(t *testing.T) {
	tc := testcluster.Start(t, 3, testcluster.WithConfig(func(_ int, cfg *broker.Config) {
		cfg.Cluster.SnapshotThreshold = 500
		cfg.Cluster.TrailingLogs = 100
		cfg.Cluster.SnapshotInterval = 200 * time.Millisecond
	}))
	c := dial(t, tc.ClientAddrs()...)
	ctx := ctxFor(t, 3*time.Minute)
	if err := c.DeclareQueue(ctx, "snap", client.QueueArgs{}); err != nil {
		t.Fatal(err)
	}
	down := tc.Index(tc.Followers()[0])
	tc.Kill(down)
	// Sequential publishes: one Raft entry each.
	const n = 3000
	for i := range n {
		if _, err := c.Publish(ctx, "", "snap", client.Message{ID: msgID(0, i)}); err != nil {
			t.Fatal(err)
		}
	}
	l := tc.Leader()
	tc.WaitFor(30*time.Second, "leader snapshot", func() bool {
		return l.Node().Raft().Stats()["last_snapshot_index"] != "0"
	})
	b := tc.Restart(down)
	waitCaughtUp(t, tc, 60*time.Second)
	if s := b.Node().Raft().Stats()["last_snapshot_index"]; s == "0" {
		t.Fatalf("the follower caught up without a snapshot (last_snapshot_index %s)", s)
	}
	leaderMsgs, _ := l.FSM().Totals()
	followerMsgs, _ := b.FSM().Totals()
	if leaderMsgs != n || followerMsgs != n {
		t.Fatalf("messages: leader %d, restarted follower %d, want %d", leaderMsgs, followerMsgs, n)
	}
}
