package inbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/client/outbox"
	"github.com/raftmq/raftmq/client/outbox/inbox"
	"github.com/raftmq/raftmq/client/outbox/internal/bustest"
	"github.com/raftmq/raftmq/client/outbox/internal/dbtest"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// forDialects runs f once per dialect, each with a fresh database holding
// the inbox and a side-effect table "effects" (one row per handled
// message).
func forDialects(t *testing.T, f func(t *testing.T, db *dbtest.Database, h *sql.DB)) {
	for _, d := range dbtest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			db, h := dbtest.Migrated(t, d, inbox.Migrate)
			if _, err := h.Exec(`CREATE TABLE effects (msg TEXT NOT NULL, body TEXT NOT NULL)`); err != nil {
				t.Fatal(err)
			}
			f(t, db, h)
		})
	}
}

// effect is a handler's database work: one row in effects.
func effect(d *client.Delivery) func(tx *sql.Tx) error {
	return func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO effects (msg, body) VALUES ($1, $2)`, d.ID, string(d.Body))
		return err
	}
}

func effects(t testing.TB, h *sql.DB, id string) int {
	t.Helper()
	var n int
	if err := h.QueryRow(`SELECT COUNT(*) FROM effects WHERE msg = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func inboxRows(t testing.TB, h *sql.DB) int {
	t.Helper()
	var n int
	if err := h.QueryRow(`SELECT COUNT(*) FROM raftmq_inbox`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestProcessRunsOncePerMessage(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		ctx := context.Background()
		d := &client.Delivery{Queue: "billing", ID: "m1", Body: []byte("a")}

		// A failing handler leaves nothing: neither its work nor the record.
		boom := errors.New("boom")
		ran, err := inbox.Process(ctx, h, d, func(tx *sql.Tx) error {
			if err := effect(d)(tx); err != nil {
				return err
			}
			return boom
		})
		if ran || !errors.Is(err, boom) {
			t.Fatalf("Process with a failing handler = %v, %v", ran, err)
		}
		if effects(t, h, "m1") != 0 || inboxRows(t, h) != 0 {
			t.Fatal("a failed handler's transaction was not rolled back")
		}

		ran, err = inbox.Process(ctx, h, d, effect(d))
		if !ran || err != nil {
			t.Fatalf("first Process = %v, %v", ran, err)
		}
		calls := 0
		ran, err = inbox.Process(ctx, h, d, func(tx *sql.Tx) error { calls++; return effect(d)(tx) })
		if ran || err != nil || calls != 0 {
			t.Fatalf("Process of a redelivery = %v, %v, handler ran %d times", ran, err, calls)
		}
		if effects(t, h, "m1") != 1 {
			t.Fatalf("%d effects, want 1", effects(t, h, "m1"))
		}
		// The same message consumed from another queue is another job.
		other := &client.Delivery{Queue: "audit", ID: "m1", Body: []byte("a")}
		if ran, err := inbox.Process(ctx, h, other, effect(other)); !ran || err != nil {
			t.Fatalf("Process from another queue = %v, %v", ran, err)
		}
		if _, err := inbox.Process(ctx, h, &client.Delivery{Queue: "billing"}, effect(d)); !errors.Is(err, inbox.ErrNoID) || !errors.Is(err, client.ErrReject) {
			t.Fatalf("Process without an ID = %v, want ErrNoID and ErrReject", err)
		}
		if _, err := inbox.Process(ctx, nil, d, effect(d)); !errors.Is(err, inbox.ErrInvalidArgument) {
			t.Fatalf("Process(nil db) = %v", err)
		}
	})
}

// TestConcurrentDeliveriesOfOneMessage: copies of a message handled at the
// same time (a redelivery racing the first delivery) have one effect.
func TestConcurrentDeliveriesOfOneMessage(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		for i := range 5 {
			d := &client.Delivery{Queue: "q", ID: fmt.Sprintf("m%d", i)}
			var ran atomic.Int32
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for range 8 {
				wg.Go(func() {
					ok, err := inbox.Process(context.Background(), h, d, func(tx *sql.Tx) error {
						time.Sleep(time.Millisecond) // hold the transaction a moment
						return effect(d)(tx)
					})
					if ok {
						ran.Add(1)
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if ran.Load() != 1 || effects(t, h, d.ID) != 1 {
				t.Fatalf("message %s: handler committed %d times, %d effects; want 1", d.ID, ran.Load(), effects(t, h, d.ID))
			}
		}
	})
}

func TestPurgeDeletesOldRecords(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		ctx := context.Background()
		for _, id := range []string{"a", "b"} {
			d := &client.Delivery{Queue: "q", ID: id}
			if _, err := inbox.Process(ctx, h, d, effect(d)); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := inbox.Purge(ctx, h, time.Now().Add(-time.Hour)); err != nil || n != 0 {
			t.Fatalf("Purge of records older than an hour = %d, %v", n, err)
		}
		if n, err := inbox.Purge(ctx, h, time.Now().Add(time.Second)); err != nil || n != 2 {
			t.Fatalf("Purge of every record = %d, %v; want 2", n, err)
		}
		// Once purged, a redelivery is processed again: the documented cost.
		d := &client.Delivery{Queue: "q", ID: "a"}
		if ran, err := inbox.Process(ctx, h, d, effect(d)); !ran || err != nil {
			t.Fatalf("Process after Purge = %v, %v", ran, err)
		}
	})
}

func TestMigrate(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		if err := inbox.Migrate(context.Background(), h, db.Dialect); err != nil {
			t.Fatalf("Migrate again: %v", err)
		}
	})
	if err := inbox.Migrate(context.Background(), nil, outbox.Dialect(0)); !errors.Is(err, outbox.ErrUnknownDialect) {
		t.Fatalf("Migrate(unknown dialect) = %v", err)
	}
}

// TestConsumerCrashAfterCommitBeforeAck: a consumer commits its inbox
// transaction and dies before acking. The messages come back redelivered;
// Handle recognises them, acks them, and the handler does not run again.
func TestConsumerCrashAfterCommitBeforeAck(t *testing.T) {
	cl := testcluster.Start(t, 3)
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		ctx := bustest.Ctx(t, 60*time.Second)
		exchange, queue := "x-ack-"+db.Dialect.String(), "q-ack-"+db.Dialect.String()
		pub := bustest.Dial(t, cl.ClientAddrs())
		bustest.Queue(t, ctx, pub, exchange, queue, client.QueueArgs{})
		const n = 5
		var ps []client.Publishing
		for i := range n {
			ps = append(ps, client.Publishing{Exchange: exchange, Key: "k",
				Message: client.Message{ID: fmt.Sprintf("ack-%s-%d", db.Dialect, i), Body: []byte(fmt.Sprint(i))}})
		}
		if _, err := pub.PublishBatch(ctx, ps); err != nil {
			t.Fatal(err)
		}

		// The first consumer handles every message and commits, then its
		// process dies before the acks: the client is closed unacked.
		first := bustest.Dial(t, cl.ClientAddrs())
		s, err := first.Subscribe(ctx, queue, client.WithPrefetch(n))
		if err != nil {
			t.Fatal(err)
		}
		crashed := inbox.Handler(h, func(ctx context.Context, tx *sql.Tx, d *client.Delivery) error {
			return effect(d)(tx)
		})
		for range n {
			select {
			case d := <-s.Deliveries():
				if err := crashed(ctx, d); err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				t.Fatal("first delivery did not come")
			}
		}
		_ = first.Close()

		// The restarted consumer gets them again and only acks them.
		second := bustest.Dial(t, cl.ClientAddrs())
		s2, err := second.Subscribe(ctx, queue, client.WithPrefetch(n))
		if err != nil {
			t.Fatal(err)
		}
		defer s2.Close()
		calls := 0
		for range n {
			select {
			case d := <-s2.Deliveries():
				if !d.Redelivered {
					t.Errorf("message %s not marked redelivered", d.ID)
				}
				if err := inbox.Handle(ctx, h, d, func(tx *sql.Tx) error { calls++; return effect(d)(tx) }); err != nil {
					t.Fatal(err)
				}
				if !d.Settled() {
					t.Fatalf("Handle left message %s unsettled", d.ID)
				}
			case <-ctx.Done():
				t.Fatal("redelivery did not come")
			}
		}
		if calls != 0 {
			t.Fatalf("handler ran %d times for redeliveries of processed messages", calls)
		}
		for _, p := range ps {
			if c := effects(t, h, p.ID); c != 1 {
				t.Fatalf("message %s has %d effects, want 1", p.ID, c)
			}
		}
		bustest.WaitQueue(t, ctx, second, queue, func(qi client.QueueInfo) bool { return qi.Messages == 0 })
	})
}

// TestHandleNacksFailureAndRunsAgain: Handle requeues a message whose
// handler failed, and its redelivery runs the handler again.
func TestHandleNacksFailureAndRunsAgain(t *testing.T) {
	cl := testcluster.Start(t, 1)
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		ctx := bustest.Ctx(t, 30*time.Second)
		exchange, queue := "x-nack-"+db.Dialect.String(), "q-nack-"+db.Dialect.String()
		c := bustest.Dial(t, cl.ClientAddrs())
		bustest.Queue(t, ctx, c, exchange, queue, client.QueueArgs{})
		id := "nack-" + db.Dialect.String()
		if _, err := c.Publish(ctx, exchange, "k", client.Message{ID: id}); err != nil {
			t.Fatal(err)
		}
		s, err := c.Subscribe(ctx, queue)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		boom := errors.New("database down")
		for attempt := 0; attempt < 2; attempt++ {
			var d *client.Delivery
			select {
			case d = <-s.Deliveries():
			case <-ctx.Done():
				t.Fatalf("delivery %d did not come", attempt)
			}
			err := inbox.Handle(ctx, h, d, func(tx *sql.Tx) error {
				if attempt == 0 {
					return boom
				}
				return effect(d)(tx)
			})
			if attempt == 0 && !errors.Is(err, boom) {
				t.Fatalf("Handle = %v, want the handler's error", err)
			}
			if attempt == 1 && (err != nil || d.DeliveryCount < 1) {
				t.Fatalf("Handle of the redelivery = %v (delivery count %d)", err, d.DeliveryCount)
			}
		}
		if effects(t, h, id) != 1 {
			t.Fatalf("%d effects, want 1", effects(t, h, id))
		}
		bustest.WaitQueue(t, ctx, c, queue, func(qi client.QueueInfo) bool { return qi.Messages == 0 })
	})
}

// TestPoisonMessageIsDeadLettered: a message whose handler always fails is
// retried by the Retry middleware the configured number of times, then
// rejected into the dead-letter queue with a death record saying why; the
// other messages are handled, and the poison message left no trace in the
// inbox.
func TestPoisonMessageIsDeadLettered(t *testing.T) {
	cl := testcluster.Start(t, 3)
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		ctx := bustest.Ctx(t, 60*time.Second)
		sfx := db.Dialect.String()
		exchange, queue, dlx, dlq := "x-poison-"+sfx, "q-poison-"+sfx, "dlx-"+sfx, "dlq-"+sfx
		c := bustest.Dial(t, cl.ClientAddrs())
		if err := c.DeclareExchange(ctx, dlx, client.Fanout); err != nil {
			t.Fatal(err)
		}
		if err := c.DeclareQueue(ctx, dlq, client.QueueArgs{}); err != nil {
			t.Fatal(err)
		}
		if err := c.Bind(ctx, client.Binding{Source: dlx, Dest: dlq}); err != nil {
			t.Fatal(err)
		}
		bustest.Queue(t, ctx, c, exchange, queue, client.QueueArgs{DeadLetterExchange: dlx})
		ids := map[string]string{"good1": "poison-good1-" + sfx, "poison": "poison-" + sfx, "good2": "poison-good2-" + sfx}
		for _, body := range []string{"good1", "poison", "good2"} {
			if _, err := c.Publish(ctx, exchange, "k", client.Message{ID: ids[body], Body: []byte(body)}); err != nil {
				t.Fatal(err)
			}
		}

		const maxAttempts = 3
		var poisonCalls atomic.Int32
		handler := inbox.Handler(h, func(ctx context.Context, tx *sql.Tx, d *client.Delivery) error {
			if string(d.Body) == "poison" {
				poisonCalls.Add(1)
				if err := effect(d)(tx); err != nil { // rolled back with the failure
					return err
				}
				return errors.New("cannot bill this order")
			}
			return effect(d)(tx)
		})
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- c.Consume(cctx, queue, handler, client.WithMiddleware(
				client.Recover(),
				client.Retry(maxAttempts, func(int) time.Duration { return 10 * time.Millisecond }),
			))
		}()
		bustest.WaitQueue(t, ctx, c, dlq, func(qi client.QueueInfo) bool { return qi.Messages >= 1 })
		bustest.WaitQueue(t, ctx, c, queue, func(qi client.QueueInfo) bool { return qi.Messages == 0 })
		stop()
		if err := <-done; err != nil {
			t.Fatalf("Consume = %v", err)
		}

		if got := poisonCalls.Load(); got != maxAttempts {
			t.Fatalf("poison handler ran %d times, want %d", got, maxAttempts)
		}
		if effects(t, h, ids["good1"]) != 1 || effects(t, h, ids["good2"]) != 1 || effects(t, h, ids["poison"]) != 0 {
			t.Fatal("effects: want one per good message and none for the poison one")
		}
		var recorded int
		if err := h.QueryRow(`SELECT COUNT(*) FROM raftmq_inbox WHERE id = $1`, ids["poison"]).Scan(&recorded); err != nil || recorded != 0 {
			t.Fatalf("poison message recorded in the inbox: %d, %v", recorded, err)
		}
		dead := bustest.Drain(t, ctx, c, dlq, 200*time.Millisecond)
		if len(dead) != 1 || dead[0].ID != ids["poison"] || string(dead[0].Body) != "poison" {
			t.Fatalf("dead-letter queue holds %d messages: %+v", len(dead), dead)
		}
		if len(dead[0].Deaths) == 0 {
			t.Fatal("dead-lettered message has no death record")
		}
		death := dead[0].Deaths[0]
		if death.Reason != "rejected" || death.Queue != queue || death.Count != 1 || death.Exchange != exchange {
			t.Fatalf("death record = %+v, want reason rejected from %s", death, queue)
		}
	})
}
