package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/client/outbox"
	"github.com/raftmq/raftmq/client/outbox/internal/bustest"
	"github.com/raftmq/raftmq/client/outbox/internal/dbtest"
)

// fakePub records what relays publish, in the order PublishBatch is
// called, and fails messages as told.
type fakePub struct {
	mu    sync.Mutex
	got   []client.Publishing
	fail  func(client.Publishing) error
	whole error
	delay time.Duration
}

func (f *fakePub) PublishBatch(ctx context.Context, ps []client.Publishing) ([]client.Confirm, error) {
	f.mu.Lock()
	whole, fail, delay := f.whole, f.fail, f.delay
	f.mu.Unlock()
	if whole != nil {
		return nil, whole
	}
	confs := make([]client.Confirm, len(ps))
	var errs []error
	f.mu.Lock()
	for i, p := range ps {
		if fail != nil {
			if err := fail(p); err != nil {
				if errs == nil {
					errs = make([]error, len(ps))
				}
				errs[i] = err
				continue
			}
		}
		f.got = append(f.got, p)
		confs[i] = client.Confirm{ID: p.ID, Status: client.Routed, Queues: 1}
	}
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if errs != nil {
		return confs, &client.BatchError{Errs: errs}
	}
	return confs, nil
}

func (f *fakePub) set(fn func(*fakePub)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakePub) published() []client.Publishing {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func (f *fakePub) ids() []string {
	var out []string
	for _, p := range f.published() {
		out = append(out, p.ID)
	}
	return out
}

// waitFor polls cond every 10 ms until it holds, or fails t after d.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// forDialects runs f once per dialect, each with a fresh migrated database.
func forDialects(t *testing.T, f func(t *testing.T, db *dbtest.Database, h *sql.DB)) {
	for _, d := range dbtest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			db, h := dbtest.Migrated(t, d)
			f(t, db, h)
		})
	}
}

// add commits msgs in one transaction.
func add(t testing.TB, h *sql.DB, msgs ...outbox.Message) {
	t.Helper()
	tx, err := h.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := outbox.Add(context.Background(), tx, m); err != nil {
			_ = tx.Rollback()
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func newRelay(t testing.TB, db *dbtest.Database, h *sql.DB, pub outbox.Publisher, opts ...outbox.Option) *outbox.Relay {
	t.Helper()
	opts = append([]outbox.Option{outbox.WithPollInterval(20 * time.Millisecond), outbox.WithLease(2 * time.Second),
		outbox.WithLogger(bustest.Logger(t))}, opts...)
	r, err := outbox.NewRelay(h, db.Dialect, pub, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// start runs r until the test ends, and returns a function that stops it
// and returns Run's result.
func start(t testing.TB, r *outbox.Relay) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func count(t testing.TB, h *sql.DB, where string) int {
	t.Helper()
	var n int
	if err := h.QueryRow(`SELECT COUNT(*) FROM raftmq_outbox WHERE ` + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func pending(t testing.TB, r *outbox.Relay) int64 {
	t.Helper()
	n, err := r.Pending(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRelayPublishesCommittedRowsInOrder(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		add(t, h,
			outbox.Message{ID: "m1", Exchange: "orders", Key: "order.created", Aggregate: "o-1",
				Headers: map[string]string{"content-type": "application/json", "x": "1"}, Body: []byte(`{"n":1}`)},
			outbox.Message{Exchange: "orders", Key: "order.paid", Aggregate: "o-1", Body: []byte{0, 1, 2, 255}},
		)
		// A rolled-back transaction leaves nothing to publish.
		tx, err := h.Begin()
		if err != nil {
			t.Fatal(err)
		}
		if err := outbox.Add(context.Background(), tx, outbox.Message{ID: "rolled-back", Exchange: "orders"}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		add(t, h, outbox.Message{ID: "m3", Key: "direct-to-queue"})

		pub := &fakePub{}
		r := newRelay(t, db, h, pub)
		if got := pending(t, r); got != 3 {
			t.Fatalf("pending before run = %d, want 3", got)
		}
		stop := start(t, r)
		waitFor(t, 10*time.Second, "all rows sent", func() bool { return pending(t, r) == 0 })
		if err := stop(); err != nil {
			t.Fatalf("Run returned %v after its context ended, want nil", err)
		}

		got := pub.published()
		if len(got) != 3 {
			t.Fatalf("published %d messages, want 3: %v", len(got), pub.ids())
		}
		if got[0].ID != "m1" || got[2].ID != "m3" || !hexID.MatchString(got[1].ID) {
			t.Fatalf("IDs = %v, want m1, a generated 32-hex ID, m3", pub.ids())
		}
		if got[0].Exchange != "orders" || got[0].Key != "order.created" || string(got[0].Body) != `{"n":1}` ||
			got[0].Headers["content-type"] != "application/json" || got[0].Headers["x"] != "1" || len(got[0].Headers) != 2 {
			t.Fatalf("first message = %+v", got[0])
		}
		if string(got[1].Body) != "\x00\x01\x02\xff" || got[1].Headers != nil {
			t.Fatalf("second message = %+v", got[1])
		}
		if got[2].Exchange != "" || got[2].Key != "direct-to-queue" || len(got[2].Body) != 0 {
			t.Fatalf("third message = %+v", got[2])
		}
		if n := count(t, h, "sent_at IS NOT NULL"); n != 3 {
			t.Fatalf("%d rows marked sent, want 3", n)
		}
		lag, err := r.Lag(context.Background())
		if err != nil || lag != 0 {
			t.Fatalf("Lag() = %v, %v; want 0 with nothing pending", lag, err)
		}
	})
}

func TestNotifyWakesIdleRelay(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		pub := &fakePub{}
		r := newRelay(t, db, h, pub, outbox.WithPollInterval(time.Hour), outbox.WithLease(3*time.Hour))
		add(t, h, outbox.Message{ID: "first"})
		start(t, r)
		waitFor(t, 10*time.Second, "the first row published", func() bool { return len(pub.published()) == 1 })
		// The relay now sleeps for an hour unless notified.
		add(t, h, outbox.Message{ID: "second"})
		r.Notify()
		waitFor(t, 10*time.Second, "the second row published after Notify", func() bool { return len(pub.published()) == 2 })
		if ids := pub.ids(); ids[1] != "second" {
			t.Fatalf("published %v", ids)
		}
	})
}

func TestLagIsAgeOfOldestPendingRow(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		r := newRelay(t, db, h, &fakePub{})
		lag, err := r.Lag(context.Background())
		if err != nil || lag != 0 {
			t.Fatalf("Lag() on an empty outbox = %v, %v", lag, err)
		}
		add(t, h, outbox.Message{ID: "old"})
		time.Sleep(60 * time.Millisecond)
		add(t, h, outbox.Message{ID: "new"})
		lag, err = r.Lag(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if lag < 60*time.Millisecond || lag > 10*time.Second {
			t.Fatalf("Lag() = %v, want the age of the older row (>= 60ms)", lag)
		}
		if n := pending(t, r); n != 2 {
			t.Fatalf("Pending() = %d, want 2", n)
		}
	})
}

func TestCleanupDeletesOnlyOldSentRows(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		pub := &fakePub{}
		add(t, h, outbox.Message{ID: "a"}, outbox.Message{ID: "b"}, outbox.Message{ID: "c"})
		r := newRelay(t, db, h, pub, outbox.WithRetention(time.Hour))
		stop := start(t, r)
		waitFor(t, 10*time.Second, "rows sent", func() bool { return pending(t, r) == 0 })
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		add(t, h, outbox.Message{ID: "unsent"})

		n, err := r.Cleanup(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("Cleanup with 1h retention deleted %d, %v; want 0", n, err)
		}
		r0 := newRelay(t, db, h, pub, outbox.WithRetention(0))
		n, err = r0.Cleanup(context.Background())
		if err != nil || n != 3 {
			t.Fatalf("Cleanup with 0 retention deleted %d, %v; want 3", n, err)
		}
		if all := count(t, h, "1 = 1"); all != 1 || count(t, h, "id = 'unsent' AND sent_at IS NULL") != 1 {
			t.Fatalf("after cleanup %d rows remain, want only the unsent one", all)
		}

		// Run cleans up on its schedule.
		r1 := newRelay(t, db, h, pub, outbox.WithRetention(0), outbox.WithCleanupInterval(20*time.Millisecond))
		start(t, r1)
		waitFor(t, 10*time.Second, "the scheduled cleanup to empty the table", func() bool { return count(t, h, "1 = 1") == 0 })
		if ids := pub.ids(); !slices.Equal(ids, []string{"a", "b", "c", "unsent"}) {
			t.Fatalf("published %v", ids)
		}
	})
}

func TestHookFailureLeavesRowsUnsentAndNextRelayRepublishes(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		add(t, h, outbox.Message{ID: "x1"}, outbox.Message{ID: "x2"})
		pub := &fakePub{}
		crash := errors.New("crash after publish")
		calls := 0
		r := newRelay(t, db, h, pub, outbox.WithAfterPublishHook(func() error { calls++; return crash }))
		err := r.Run(context.Background())
		if !errors.Is(err, outbox.ErrAborted) || !errors.Is(err, crash) {
			t.Fatalf("Run = %v, want ErrAborted wrapping the hook's error", err)
		}
		if calls != 1 || !slices.Equal(pub.ids(), []string{"x1", "x2"}) {
			t.Fatalf("hook calls = %d, published %v", calls, pub.ids())
		}
		if n := pending(t, r); n != 2 {
			t.Fatalf("Pending() after the aborted round = %d, want 2", n)
		}
		// A new relay publishes them again with the same IDs.
		r3 := newRelay(t, db, db.Open(t), pub)
		start(t, r3)
		waitFor(t, 10*time.Second, "rows sent by the new relay", func() bool { return pending(t, r3) == 0 })
		if ids := pub.ids(); !slices.Equal(ids, []string{"x1", "x2", "x1", "x2"}) {
			t.Fatalf("published %v, want x1 x2 twice (the broker drops the copies)", ids)
		}
	})
}

func TestRefusedRowIsRecordedAndRetried(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		pub := &fakePub{fail: func(p client.Publishing) error {
			if p.ID == "bad" {
				return fmt.Errorf("exchange %q: %w", p.Exchange, client.ErrNotFound)
			}
			return nil
		}}
		add(t, h, outbox.Message{ID: "a", Exchange: "x"}, outbox.Message{ID: "bad", Exchange: "missing"}, outbox.Message{ID: "c", Exchange: "x"})
		r := newRelay(t, db, h, pub, outbox.WithMaxBackoff(50*time.Millisecond))
		start(t, r)
		waitFor(t, 10*time.Second, "the refused row retried", func() bool {
			return count(t, h, "id = 'bad' AND sent_at IS NULL AND attempts >= 2") == 1
		})
		var lastErr string
		if err := h.QueryRow(`SELECT last_error FROM raftmq_outbox WHERE id = 'bad'`).Scan(&lastErr); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(lastErr, "not found") {
			t.Fatalf("last_error = %q", lastErr)
		}
		if count(t, h, "id IN ('a', 'c') AND sent_at IS NOT NULL") != 2 {
			t.Fatal("the rows around the refused one were not marked sent")
		}
		pub.set(func(f *fakePub) { f.fail = nil })
		waitFor(t, 10*time.Second, "the refused row sent once the broker accepts it", func() bool { return pending(t, r) == 0 })
		if ids := pub.ids(); !slices.Equal(ids, []string{"a", "c", "bad"}) {
			t.Fatalf("published %v", ids)
		}
	})
}

func TestClosedClientStopsRun(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		add(t, h, outbox.Message{ID: "a"})
		pub := &fakePub{whole: fmt.Errorf("publish: %w", client.ErrClosed)}
		r := newRelay(t, db, h, pub)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Run(ctx); !errors.Is(err, client.ErrClosed) {
			t.Fatalf("Run = %v, want client.ErrClosed", err)
		}
		if n := pending(t, r); n != 1 {
			t.Fatalf("Pending() = %d, want 1", n)
		}
	})
}

func TestUnreachableBrokerIsRetried(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		add(t, h, outbox.Message{ID: "a"})
		pub := &fakePub{whole: fmt.Errorf("publish: %w", client.ErrNoLeader)}
		r := newRelay(t, db, h, pub, outbox.WithMaxBackoff(30*time.Millisecond))
		start(t, r)
		waitFor(t, 10*time.Second, "failed attempts recorded", func() bool { return count(t, h, "attempts >= 2") == 1 })
		pub.set(func(f *fakePub) { f.whole = nil })
		waitFor(t, 10*time.Second, "the row sent once the broker is back", func() bool { return pending(t, r) == 0 })
	})
}

// TestTwoRelaysKeepAggregateOrder runs two relays on separate pools while
// rows are added, stops one halfway, and checks that every row was
// published once and each aggregate's rows in the order they were added.
func TestTwoRelaysKeepAggregateOrder(t *testing.T) {
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		pub := &fakePub{delay: time.Millisecond}
		opts := []outbox.Option{outbox.WithBatchSize(7)}
		r1 := newRelay(t, db, db.Open(t), pub, append(opts, outbox.WithName("r1"))...)
		r2 := newRelay(t, db, db.Open(t), pub, append(opts, outbox.WithName("r2"))...)
		stop1 := start(t, r1)
		start(t, r2)
		const aggregates, perAggregate = 8, 40
		for i := range perAggregate {
			if i == perAggregate/2 {
				if err := stop1(); err != nil {
					t.Fatal(err)
				}
			}
			for a := range aggregates {
				add(t, h, outbox.Message{ID: fmt.Sprintf("a%d-%03d", a, i), Aggregate: fmt.Sprintf("a%d", a)})
			}
			r1.Notify()
			r2.Notify()
		}
		waitFor(t, 20*time.Second, "all rows sent", func() bool { return pending(t, r2) == 0 })
		ids := pub.ids()
		if len(ids) != aggregates*perAggregate {
			t.Fatalf("published %d messages, want %d (no row twice)", len(ids), aggregates*perAggregate)
		}
		last := map[string]string{}
		for _, id := range ids {
			agg := id[:strings.IndexByte(id, '-')]
			if prev, ok := last[agg]; ok && prev >= id {
				t.Fatalf("aggregate %s: %s published after %s", agg, id, prev)
			}
			last[agg] = id
		}
	})
}

func TestRunTwiceAtOnce(t *testing.T) {
	db, h := dbtest.Migrated(t, outbox.SQLite)
	pub := &fakePub{}
	r := newRelay(t, db, h, pub)
	add(t, h, outbox.Message{ID: "a"})
	start(t, r)
	waitFor(t, 5*time.Second, "the first Run to publish", func() bool { return len(pub.published()) == 1 })
	if err := r.Run(context.Background()); !errors.Is(err, outbox.ErrRunning) {
		t.Fatalf("second Run = %v, want ErrRunning", err)
	}
}

func TestNewRelayValidates(t *testing.T) {
	db, h := dbtest.Migrated(t, outbox.SQLite)
	cases := []struct {
		name string
		d    outbox.Dialect
		h    *sql.DB
		pub  outbox.Publisher
		opts []outbox.Option
		want error
	}{
		{"unknown dialect", 0, h, &fakePub{}, nil, outbox.ErrUnknownDialect},
		{"nil db", db.Dialect, nil, &fakePub{}, nil, outbox.ErrInvalidArgument},
		{"nil publisher", db.Dialect, h, nil, nil, outbox.ErrInvalidArgument},
		{"batch size", db.Dialect, h, &fakePub{}, []outbox.Option{outbox.WithBatchSize(0)}, outbox.ErrInvalidArgument},
		{"lease", db.Dialect, h, &fakePub{}, []outbox.Option{outbox.WithPollInterval(time.Second), outbox.WithLease(time.Second)}, outbox.ErrInvalidArgument},
		{"retention", db.Dialect, h, &fakePub{}, []outbox.Option{outbox.WithRetention(-1)}, outbox.ErrInvalidArgument},
		{"name", db.Dialect, h, &fakePub{}, []outbox.Option{outbox.WithName("")}, outbox.ErrInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := outbox.NewRelay(c.h, c.d, c.pub, c.opts...); !errors.Is(err, c.want) {
				t.Fatalf("NewRelay = %v, want %v", err, c.want)
			}
		})
	}
	r, err := outbox.NewRelay(h, db.Dialect, &fakePub{}, outbox.WithName("billing-relay"))
	if err != nil || r.Name() != "billing-relay" {
		t.Fatalf("NewRelay = %v, %v", r, err)
	}
}

func TestAddRejectsNilTransactionAndDuplicateID(t *testing.T) {
	if err := outbox.Add(context.Background(), nil, outbox.Message{}); !errors.Is(err, outbox.ErrInvalidArgument) {
		t.Fatalf("Add(nil tx) = %v", err)
	}
	forDialects(t, func(t *testing.T, db *dbtest.Database, h *sql.DB) {
		add(t, h, outbox.Message{ID: "dup"})
		tx, err := h.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		if err := outbox.Add(context.Background(), tx, outbox.Message{ID: "dup"}); err == nil || !strings.Contains(err.Error(), "dup") {
			t.Fatalf("Add of a duplicate ID = %v, want an error naming it", err)
		}
	})
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	for _, d := range dbtest.Dialects {
		t.Run(d.String(), func(t *testing.T) {
			db := dbtest.New(t, d)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				h := db.Open(t)
				wg.Go(func() { errs <- outbox.Migrate(context.Background(), h, d) })
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatalf("concurrent Migrate: %v", err)
				}
			}
			if err := outbox.Migrate(context.Background(), db.Open(t), d); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
		})
	}
	if err := outbox.Migrate(context.Background(), nil, outbox.Dialect(9)); !errors.Is(err, outbox.ErrUnknownDialect) {
		t.Fatalf("Migrate(unknown dialect) = %v", err)
	}
}

func TestParseDialect(t *testing.T) {
	for s, want := range map[string]outbox.Dialect{"sqlite": outbox.SQLite, "SQLite3": outbox.SQLite,
		"postgres": outbox.PostgreSQL, "postgresql": outbox.PostgreSQL, " pgx ": outbox.PostgreSQL} {
		if got, err := outbox.ParseDialect(s); err != nil || got != want {
			t.Errorf("ParseDialect(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := outbox.ParseDialect("mysql"); !errors.Is(err, outbox.ErrUnknownDialect) {
		t.Errorf("ParseDialect(mysql) = %v", err)
	}
	if outbox.SQLite.String() != "sqlite" || outbox.PostgreSQL.String() != "postgres" {
		t.Errorf("String() = %s, %s", outbox.SQLite, outbox.PostgreSQL)
	}
}

// BenchmarkAdd measures Add in its own committed transaction: the cost
// the outbox adds to a service's write.
func BenchmarkAdd(b *testing.B) {
	for _, d := range dbtest.Dialects {
		b.Run(d.String(), func(b *testing.B) {
			_, h := dbtest.Migrated(b, d)
			body := make([]byte, 256)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				add(b, h, outbox.Message{ID: fmt.Sprintf("bench-%d", i), Exchange: "x", Key: "k",
					Aggregate: fmt.Sprintf("agg%d", i%100), Body: body})
			}
		})
	}
}

// BenchmarkRelay measures how fast one relay drains a backlog into a
// publisher that confirms at once (the database's share of the work).
func BenchmarkRelay(b *testing.B) {
	for _, d := range dbtest.Dialects {
		b.Run(d.String(), func(b *testing.B) {
			db, h := dbtest.Migrated(b, d)
			const backlog = 2000
			body := make([]byte, 256)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				msgs := make([]outbox.Message, 0, backlog)
				for j := range backlog {
					msgs = append(msgs, outbox.Message{ID: fmt.Sprintf("bench-%d-%d", i, j), Exchange: "x", Key: "k",
						Aggregate: fmt.Sprintf("agg%d", j%100), Body: body})
				}
				add(b, h, msgs...)
				r := newRelay(b, db, h, &fakePub{}, outbox.WithLogger(slog.New(slog.DiscardHandler)))
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				b.StartTimer()
				go func() { done <- r.Run(ctx) }()
				waitFor(b, time.Minute, "the backlog sent", func() bool { return pending(b, r) == 0 })
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(backlog*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
