package outbox_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/client/outbox"
	"github.com/raftmq/raftmq/client/outbox/internal/bustest"
	"github.com/raftmq/raftmq/client/outbox/internal/dbtest"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// addN commits n messages for exchange/"k", in transactions of up to 50,
// with IDs prefix-0000... and aggregates round-robin over aggs (none when
// aggs is 0). It returns the IDs in order.
func addN(t testing.TB, h *sql.DB, exchange, prefix string, n, aggs int) []string {
	t.Helper()
	var ids []string
	for start := 0; start < n; start += 50 {
		var msgs []outbox.Message
		for i := start; i < min(start+50, n); i++ {
			m := outbox.Message{ID: fmt.Sprintf("%s-%04d", prefix, i), Exchange: exchange, Key: "k", Body: []byte(fmt.Sprint(i))}
			if aggs > 0 {
				m.Aggregate = fmt.Sprintf("agg%d", i%aggs)
			}
			msgs = append(msgs, m)
			ids = append(ids, m.ID)
		}
		add(t, h, msgs...)
	}
	return ids
}

// Message IDs must differ between the dialect cases: the broker drops an ID
// it saw within its de-duplication window, whichever queue it went to.

// checkOnce fails t unless ds are exactly the messages ids, each once.
func checkOnce(t testing.TB, ds []*client.Delivery, ids []string) {
	t.Helper()
	seen := make(map[string]int, len(ds))
	for _, d := range ds {
		seen[d.ID]++
		if seen[d.ID] > 1 {
			t.Fatalf("message %s enqueued more than once", d.ID)
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Fatalf("message %s lost", id)
		}
	}
	if len(ds) != len(ids) {
		t.Fatalf("%d deliveries for %d messages", len(ds), len(ids))
	}
}

// TestRelayCrashBetweenPublishAndMarkIsEnqueuedOnce: a relay publishes,
// then "crashes" before marking the rows sent; a new relay (another pool,
// another client, as a restarted process has) publishes them again, and the
// broker's de-duplication leaves each event in the queue once.
func TestRelayCrashBetweenPublishAndMarkIsEnqueuedOnce(t *testing.T) {
	cl := testcluster.Start(t, 3)
	for _, d := range dbtest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			db, h := dbtest.Migrated(t, d)
			ctx := bustest.Ctx(t, 60*time.Second)
			c1 := bustest.Dial(t, cl.ClientAddrs())
			exchange, queue := "x-crash-"+d.String(), "q-crash-"+d.String()
			bustest.Queue(t, ctx, c1, exchange, queue, client.QueueArgs{})
			ids := addN(t, h, exchange, "crash-"+d.String(), 30, 3)

			crash := errors.New("killed between publish and mark-sent")
			r1 := newRelay(t, db, h, c1, outbox.WithAfterPublishHook(func() error { return crash }))
			if err := r1.Run(ctx); !errors.Is(err, crash) {
				t.Fatalf("first relay's Run = %v, want the crash", err)
			}
			if n := pending(t, r1); n != 30 {
				t.Fatalf("%d rows pending after the crash, want 30", n)
			}
			_ = c1.Close()

			c2 := bustest.Dial(t, cl.ClientAddrs())
			r2 := newRelay(t, db, db.Open(t), c2)
			stop := start(t, r2)
			waitFor(t, 30*time.Second, "the new relay to send every row", func() bool { return pending(t, r2) == 0 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			qi := bustest.WaitQueue(t, ctx, c2, queue, func(qi client.QueueInfo) bool { return qi.Messages >= 30 })
			if qi.Messages != 30 {
				t.Fatalf("queue holds %d messages for 30 events published twice", qi.Messages)
			}
			checkOnce(t, bustest.Drain(t, ctx, c2, queue, 200*time.Millisecond), ids)
		})
	}
}

// TestLeaderKilledWhileRelaying: the broker's leader dies while a relay
// publishes 1,000 events; every event is in the queue exactly once.
func TestLeaderKilledWhileRelaying(t *testing.T) {
	cl := testcluster.Start(t, 3)
	for _, d := range dbtest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			const n = 1000
			db, h := dbtest.Migrated(t, d)
			ctx := bustest.Ctx(t, 90*time.Second)
			c := bustest.Dial(t, cl.ClientAddrs())
			exchange, queue := "x-kill-"+d.String(), "q-kill-"+d.String()
			bustest.Queue(t, ctx, c, exchange, queue, client.QueueArgs{})
			ids := addN(t, h, exchange, "kill-"+d.String(), n, 10)

			r := newRelay(t, db, h, c, outbox.WithBatchSize(25))
			stop := start(t, r)
			waitFor(t, 30*time.Second, "a fifth of the events sent", func() bool { return pending(t, r) <= n*4/5 })
			leader := cl.LeaderIndex()
			if leader < 0 {
				t.Fatal("no leader")
			}
			cl.Kill(leader)
			t.Logf("killed leader node%d with %d events pending", leader, pending(t, r))
			waitFor(t, 60*time.Second, "every event sent", func() bool { return pending(t, r) == 0 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			qi := bustest.WaitQueue(t, ctx, c, queue, func(qi client.QueueInfo) bool { return qi.Messages >= n })
			if qi.Messages != n {
				t.Fatalf("queue holds %d messages for %d events", qi.Messages, n)
			}
			checkOnce(t, bustest.Drain(t, ctx, c, queue, 200*time.Millisecond), ids)

			// Bring the node back so the next case can kill a leader again.
			cl.Restart(leader)
			cl.WaitLeader()
		})
	}
}

// TestTwoRelaysKeepAggregateOrderOnCluster: two relays, each with its own
// pool and client, publish interleaved aggregates while rows are added; a
// single consumer sees each aggregate's events in the order they were
// added, and every event once.
func TestTwoRelaysKeepAggregateOrderOnCluster(t *testing.T) {
	cl := testcluster.Start(t, 3)
	for _, d := range dbtest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			const aggregates, perAggregate = 6, 40
			db, h := dbtest.Migrated(t, d)
			ctx := bustest.Ctx(t, 60*time.Second)
			exchange, queue := "x-order-"+d.String(), "q-order-"+d.String()
			c0 := bustest.Dial(t, cl.ClientAddrs())
			bustest.Queue(t, ctx, c0, exchange, queue, client.QueueArgs{})
			var relays []*outbox.Relay
			for i := range 2 {
				r := newRelay(t, db, db.Open(t), bustest.Dial(t, cl.ClientAddrs()),
					outbox.WithBatchSize(8), outbox.WithName(fmt.Sprintf("relay%d", i)))
				start(t, r)
				relays = append(relays, r)
			}
			var ids []string
			for i := range perAggregate {
				var msgs []outbox.Message
				for a := range aggregates {
					m := outbox.Message{ID: fmt.Sprintf("agg%d-%s-%03d", a, d, i), Exchange: exchange, Key: "k", Aggregate: fmt.Sprintf("agg%d", a)}
					msgs = append(msgs, m)
					ids = append(ids, m.ID)
				}
				add(t, h, msgs...)
				for _, r := range relays {
					r.Notify()
				}
			}
			waitFor(t, 30*time.Second, "every event sent", func() bool { return pending(t, relays[0]) == 0 })
			ds := bustest.Drain(t, ctx, c0, queue, 200*time.Millisecond)
			checkOnce(t, ds, ids)
			last := map[string]string{}
			for _, dl := range ds {
				agg := dl.ID[:strings.IndexByte(dl.ID, '-')]
				if prev := last[agg]; prev >= dl.ID {
					t.Fatalf("aggregate %s: %s delivered after %s", agg, dl.ID, prev)
				}
				last[agg] = dl.ID
			}
		})
	}
}
