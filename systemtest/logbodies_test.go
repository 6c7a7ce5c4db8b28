package systemtest

import (
	"bytes"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/fsm"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// bodyFor is message i's 1 KiB body, different for every i.
func bodyFor(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("body %06d|", i)), 94)[:1024]
}

// TestBodiesInTheLogSurviveCompactionSnapshotsAndRestarts runs a cluster
// that snapshots and compacts its log every few dozen entries while queued
// messages keep their bodies in the log: old messages' bodies move into
// memory before their entries are compacted, a follower that fell behind
// the compaction is caught up by a snapshot and then leads, and the whole
// cluster restarts. Every body delivered is the body published.
func TestBodiesInTheLogSurviveCompactionSnapshotsAndRestarts(t *testing.T) {
	tc := testcluster.Start(t, 3, testcluster.WithConfig(func(_ int, cfg *broker.Config) {
		cfg.Cluster.SnapshotThreshold = 32
		cfg.Cluster.SnapshotInterval = 50 * time.Millisecond
		cfg.Cluster.TrailingLogs = 16
	}))
	c := dial(t, tc.ClientAddrs()...)
	ctx := ctxFor(t, 3*time.Minute)
	for _, q := range []string{"keep", "churn"} {
		if err := c.DeclareQueue(ctx, q, client.QueueArgs{}); err != nil {
			t.Fatal(err)
		}
	}
	waitCaughtUp(t, tc, 20*time.Second)

	// One follower stops, so the log moves past it.
	lagging := tc.Index(tc.Followers()[0])
	tc.Stop(lagging)

	publish := func(queueName string, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := c.Publish(ctx, "", queueName, client.Message{ID: msgID(0, i), Body: bodyFor(i)}); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
	}
	const keepOld, keepNew = 60, 40
	publish("keep", 0, keepOld)
	// Hundreds of entries of traffic: publishes and acks of another queue.
	publish("churn", 1000, 1300)
	if got := drain(t, c, "churn", 300, 10*time.Second); len(got) != 300 {
		t.Fatalf("drained %d churn messages, want 300", len(got))
	}
	publish("keep", keepOld, keepOld+keepNew)

	// The leader snapshotted, and at the compaction after it moved the old
	// messages' bodies into memory; the new ones are still read from the log.
	leader := tc.Leader()
	tc.WaitFor(20*time.Second, "a snapshot that moved old bodies into memory", func() bool {
		inMemory, inLog := bodyPlaces(leader, "keep")
		return inMemory >= keepOld/2 && inLog > 0
	})

	// The follower comes back behind the leader's first log entry: it is
	// sent a snapshot, which carries the bodies themselves.
	tc.Restart(lagging)
	waitCaughtUp(t, tc, 30*time.Second)
	if idx := tc.Node(lagging).Node().Raft().Stats()["last_snapshot_index"]; idx == "0" {
		t.Fatalf("the follower that fell behind holds no snapshot")
	}

	// It leads, and delivers the first half.
	l := tc.Leader()
	target := tc.Node(lagging)
	if l != target {
		f := l.Node().Raft().LeadershipTransferToServer(raft.ServerID(target.Node().ID()), raft.ServerAddress(target.Node().RaftAddr()))
		if err := f.Error(); err != nil {
			t.Fatalf("leadership transfer: %v", err)
		}
	}
	tc.WaitFor(20*time.Second, "the caught-up follower leads", func() bool { return tc.Leader() == target })
	total := keepOld + keepNew
	seen := map[string]bool{}
	consumeChecked(t, c, "keep", total/2, seen)

	// The whole cluster restarts: each node restores its snapshot and
	// applies its log after it again.
	waitCaughtUp(t, tc, 20*time.Second)
	tc.RestartAll()
	c2 := dial(t, tc.ClientAddrs()...)
	consumeChecked(t, c2, "keep", total-len(seen), seen)
	if len(seen) != total {
		t.Fatalf("delivered %d distinct messages, want %d", len(seen), total)
	}
}

// bodyPlaces counts the messages of a queue on b whose bodies are in memory
// and those read from the log, from the queue's own counts of log references.
func bodyPlaces(b *broker.Broker, queueName string) (inMemory, inLog int) {
	b.FSM().View(func(v fsm.View) {
		if q, ok := v.Queue(queueName); ok {
			inLog = q.LogRefsAtOrBelow(math.MaxUint64)
			inMemory = q.Len() - inLog
		}
	})
	return inMemory, inLog
}

// consumeChecked acks n new messages of queueName, checking that each body
// is the one published with its ID, and adds their IDs to seen.
func consumeChecked(t *testing.T, c *client.Client, queueName string, n int, seen map[string]bool) {
	t.Helper()
	ctx := ctxFor(t, time.Minute)
	sub, err := c.Subscribe(ctx, queueName, client.WithPrefetch(16))
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	defer sub.Close()
	for got := 0; got < n; {
		select {
		case d, ok := <-sub.Deliveries():
			if !ok {
				t.Fatalf("subscription ended: %v", sub.Err())
			}
			var i int
			if _, err := fmt.Sscanf(d.ID, "p0-%06d", &i); err != nil {
				t.Fatalf("unexpected ID %q", d.ID)
			}
			if !bytes.Equal(d.Body, bodyFor(i)) {
				t.Fatalf("message %s: body %.40q..., want %.40q...", d.ID, d.Body, bodyFor(i))
			}
			if !seen[d.ID] {
				seen[d.ID] = true
				got++
			}
			if err := d.Ack(); err != nil {
				t.Fatalf("ack: %v", err)
			}
		case <-ctx.Done():
			t.Fatalf("consumed %d of %d: %v", got, n, ctx.Err())
		}
	}
}
