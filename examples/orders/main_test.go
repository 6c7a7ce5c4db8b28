package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// syncBuffer is a bytes.Buffer safe for the services' concurrent writes
// and the test's reads.
type syncBuffer struct {
	lockedWriter
	buf bytes.Buffer
}

func newSyncBuffer() *syncBuffer {
	b := &syncBuffer{}
	b.w = &b.buf
	return b
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// databases returns the orders and billing databases for each dialect the
// test runs with: SQLite files, and two fresh schemas of the PostgreSQL
// named by RAFTMQ_TEST_POSTGRES (skipped when unset, except under CI=true).
func databases(t *testing.T, dialect string) (orders, billing string) {
	t.Helper()
	if dialect == "sqlite" {
		dir := t.TempDir()
		return filepath.Join(dir, "orders.db"), filepath.Join(dir, "billing.db")
	}
	base := os.Getenv("RAFTMQ_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("RAFTMQ_TEST_POSTGRES is not set, and CI=true requires the PostgreSQL tests (eval \"$(scripts/pg-test.sh)\")")
		}
		t.Skip("RAFTMQ_TEST_POSTGRES is not set: PostgreSQL case skipped (eval \"$(scripts/pg-test.sh)\")")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := func() string {
		var b [6]byte
		_, _ = rand.Read(b[:])
		name := "ex_" + hex.EncodeToString(b[:])
		if _, err := admin.Exec("CREATE SCHEMA " + name); err != nil {
			t.Fatalf("create schema: %v", err)
		}
		t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + name + " CASCADE") })
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", name)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return schema(), schema()
}

func count(t *testing.T, dsn, query string) int {
	t.Helper()
	db, _, err := openDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestDemo runs both services against a real three-node cluster until
// every order is invoiced, then checks the databases.
func TestDemo(t *testing.T) {
	cl := testcluster.Start(t, 3)
	servers := strings.Join(cl.ClientAddrs(), ",")
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ordersDB, billingDB := databases(t, dialect)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			out := newSyncBuffer()
			const n = 15
			err := run(ctx, []string{"demo", "--servers", servers, "--orders-db", ordersDB, "--billing-db", billingDB,
				"--count", "15", "--every", "1ms"}, out, io.Discard)
			if err != nil {
				t.Fatalf("demo: %v\n%s", err, out)
			}
			text := out.String()
			if c := strings.Count(text, "orders:  created "); c != n {
				t.Fatalf("%d orders created, want %d:\n%s", c, n, text)
			}
			if c := strings.Count(text, "billing: invoiced "); c != n {
				t.Fatalf("%d invoices, want %d:\n%s", c, n, text)
			}
			if !strings.Contains(text, "demo: 15 orders created, 15 invoiced") {
				t.Fatalf("no summary:\n%s", text)
			}
			if got := count(t, ordersDB, `SELECT COUNT(*) FROM raftmq_outbox WHERE sent_at IS NOT NULL`); got != n {
				t.Fatalf("%d outbox rows sent, want %d", got, n)
			}
			if got := count(t, billingDB, `SELECT COUNT(*) FROM invoices`); got != n {
				t.Fatalf("%d invoices stored, want %d", got, n)
			}
			if got := count(t, billingDB, `SELECT COUNT(*) FROM raftmq_inbox`); got != n {
				t.Fatalf("%d inbox records, want %d", got, n)
			}
		})
	}
}

// TestBillingAcksAlreadyProcessedEvent: billing committed an invoice and
// its inbox record, then died before acking; the event comes again. The
// restarted billing acknowledges it without a second invoice (which the
// invoices table's primary key would refuse, sending the event to the
// dead-letter queue), and goes on with the next order.
func TestBillingAcksAlreadyProcessedEvent(t *testing.T) {
	cl := testcluster.Start(t, 1)
	servers := strings.Join(cl.ClientAddrs(), ",")
	billingDB := filepath.Join(t.TempDir(), "billing.db")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// What the crashed run left: the invoice and the inbox record.
	db, dialect, err := openDB(billingDB)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := migrateBilling(ctx, db, dialect); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO invoices VALUES ('o-1', 'alice', 1250, 'event-1', '2026-01-01T00:00:00Z')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO raftmq_inbox (queue, id, received_at) VALUES ($1, 'event-1', 0)`, queueBilling); err != nil {
		t.Fatal(err)
	}

	c, err := client.Dial(ctx, cl.ClientAddrs(), client.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := declareTopology(ctx, c); err != nil {
		t.Fatal(err)
	}
	for _, m := range []client.Message{
		{ID: "event-1", Body: []byte(`{"order_id":"o-1","customer":"alice","amount_cents":1250}`)},
		{ID: "event-2", Body: []byte(`{"order_id":"o-2","customer":"bob","amount_cents":990}`)},
	} {
		if _, err := c.Publish(ctx, exchangeOrders, keyCreated, m); err != nil {
			t.Fatal(err)
		}
	}
	out := newSyncBuffer()
	if err := run(ctx, []string{"billing", "--servers", servers, "--db", billingDB, "--count", "1"}, out, io.Discard); err != nil {
		t.Fatalf("billing: %v\n%s", err, out)
	}
	text := out.String()
	if !strings.Contains(text, "billing: o-1 was already invoiced; redelivery acknowledged") ||
		!strings.Contains(text, "billing: invoiced o-2 to bob, 9.90") {
		t.Fatalf("billing output:\n%s", text)
	}
	if got := count(t, billingDB, `SELECT COUNT(*) FROM invoices`); got != 2 {
		t.Fatalf("%d invoices, want 2", got)
	}
	for _, q := range []string{queueBilling, queueDead} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			qi, err := c.InspectQueue(ctx, q)
			if err == nil && qi.Messages == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("queue %s: %+v, %v; want it empty", q, qi, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestUsage(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), nil, io.Discard, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "usage: orders COMMAND") {
		t.Fatalf("run() = %v, stderr %q", err, stderr.String())
	}
	if err := run(context.Background(), []string{"ship"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("run(ship) = %v", err)
	}
	if err := run(context.Background(), []string{"demo", "--count", "0"}, io.Discard, io.Discard); err == nil {
		t.Fatal("demo --count 0 accepted")
	}
	if err := run(context.Background(), []string{"billing", "--count", "-1"}, io.Discard, io.Discard); err == nil {
		t.Fatal("negative --count accepted")
	}
}
