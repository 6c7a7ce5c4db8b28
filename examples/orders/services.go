package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/client/outbox"
	"github.com/raftmq/raftmq/client/outbox/inbox"
)

// The topology both services declare (declaring is idempotent): orders
// publishes to a topic exchange; billing's queue dead-letters what billing
// rejects into a queue an operator inspects.
const (
	exchangeOrders = "orders"
	exchangeDead   = "orders.dead-letter"
	queueBilling   = "billing.orders"
	queueDead      = "billing.orders.dead"
	keyCreated     = "order.created"
)

// OrderCreated is the event the orders service publishes.
type OrderCreated struct {
	OrderID     string    `json:"order_id"`
	Customer    string    `json:"customer"`
	AmountCents int64     `json:"amount_cents"`
	CreatedAt   time.Time `json:"created_at"`
}

// openDB opens an SQLite file, or PostgreSQL for a postgres:// URL.
func openDB(dsn string) (*sql.DB, outbox.Dialect, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, 0, fmt.Errorf("open postgres: %w", err)
		}
		return db, outbox.PostgreSQL, nil
	}
	db, err := sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, 0, fmt.Errorf("open sqlite %s: %w", dsn, err)
	}
	return db, outbox.SQLite, nil
}

func dial(ctx context.Context, cfg config, name string) (*client.Client, error) {
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := client.Dial(dctx, cfg.servers, client.WithName(name), client.WithLogger(cfg.logger.With("service", name)))
	if err != nil {
		return nil, fmt.Errorf("connect to %v: %w", cfg.servers, err)
	}
	if err := declareTopology(ctx, c); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func declareTopology(ctx context.Context, c *client.Client) error {
	steps := []func() error{
		func() error { return c.DeclareExchange(ctx, exchangeOrders, client.Topic) },
		func() error { return c.DeclareExchange(ctx, exchangeDead, client.Fanout) },
		func() error {
			return c.DeclareQueue(ctx, queueBilling, client.QueueArgs{DeadLetterExchange: exchangeDead})
		},
		func() error { return c.DeclareQueue(ctx, queueDead, client.QueueArgs{}) },
		func() error {
			return c.Bind(ctx, client.Binding{Source: exchangeOrders, Dest: queueBilling, Key: keyCreated})
		},
		func() error { return c.Bind(ctx, client.Binding{Source: exchangeDead, Dest: queueDead}) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("declare topology: %w", err)
		}
	}
	return nil
}

// runOrders creates cfg.count orders (forever when 0), each with its event
// in the same transaction, while a relay publishes the events. With a
// count it returns once every event is published.
func runOrders(ctx context.Context, cfg config, dsn string) error {
	db, dialect, err := openDB(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := outbox.Migrate(ctx, db, dialect); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS orders (
		id TEXT PRIMARY KEY,
		customer TEXT NOT NULL,
		amount_cents BIGINT NOT NULL,
		created_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create table orders: %w", err)
	}
	c, err := dial(ctx, cfg, "orders")
	if err != nil {
		return err
	}
	defer c.Close()
	relay, err := outbox.NewRelay(db, dialect, c, outbox.WithName("orders-relay"),
		outbox.WithLogger(cfg.logger.With("service", "orders")))
	if err != nil {
		return err
	}
	rctx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(rctx) }()
	defer func() {
		stopRelay()
		<-relayDone
	}()

	for i := 0; cfg.count == 0 || i < cfg.count; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(cfg.every):
			}
		}
		o, err := createOrder(ctx, db)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		relay.Notify()
		fmt.Fprintf(cfg.out, "orders:  created %s for %s, %d.%02d\n", o.OrderID, o.Customer, o.AmountCents/100, o.AmountCents%100)
	}
	// Wait for the relay to publish the last events.
	for {
		n, err := relay.Pending(ctx)
		if err == nil && n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

var customers = []string{"alice", "bob", "carol", "dave"}

// createOrder writes an order and its order.created event in one
// transaction: both are stored, or neither.
func createOrder(ctx context.Context, db *sql.DB) (OrderCreated, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(customers))))
	amount, _ := rand.Int(rand.Reader, big.NewInt(100_00))
	o := OrderCreated{
		OrderID:     "o-" + hex.EncodeToString(b[:]),
		Customer:    customers[n.Int64()],
		AmountCents: 1_00 + amount.Int64(),
		CreatedAt:   time.Now().UTC(),
	}
	body, err := json.Marshal(o)
	if err != nil {
		return o, fmt.Errorf("encode event: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return o, fmt.Errorf("create order: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO orders (id, customer, amount_cents, created_at) VALUES ($1, $2, $3, $4)`,
		o.OrderID, o.Customer, o.AmountCents, o.CreatedAt.Format(time.RFC3339Nano)); err != nil {
		return o, fmt.Errorf("create order: %w", err)
	}
	if err := outbox.Add(ctx, tx, outbox.Message{
		Exchange:  exchangeOrders,
		Key:       keyCreated,
		Aggregate: o.OrderID,
		Headers:   map[string]string{"content-type": "application/json", "type": "OrderCreated"},
		Body:      body,
	}); err != nil {
		return o, fmt.Errorf("create order: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return o, fmt.Errorf("create order: commit: %w", err)
	}
	return o, nil
}

// migrateBilling creates the billing service's tables: the inbox and the
// invoices.
func migrateBilling(ctx context.Context, db *sql.DB, dialect outbox.Dialect) error {
	if err := inbox.Migrate(ctx, db, dialect); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS invoices (
		order_id TEXT PRIMARY KEY,
		customer TEXT NOT NULL,
		amount_cents BIGINT NOT NULL,
		message_id TEXT NOT NULL,
		invoiced_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("create table invoices: %w", err)
	}
	return nil
}

// runBilling invoices each order once, until ctx ends or, with want > 0,
// until want orders are invoiced.
func runBilling(ctx context.Context, cfg config, dsn string, want int) error {
	db, dialect, err := openDB(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := migrateBilling(ctx, db, dialect); err != nil {
		return err
	}
	c, err := dial(ctx, cfg, "billing")
	if err != nil {
		return err
	}
	defer c.Close()

	cctx, stop := context.WithCancel(ctx)
	defer stop()
	var mu sync.Mutex
	done := 0
	handler := client.JSON(func(ctx context.Context, d *client.Delivery, o OrderCreated) error {
		if o.OrderID == "" || o.AmountCents <= 0 {
			// Retrying cannot fix it: to the dead-letter queue.
			return fmt.Errorf("%w: invalid order event %s", client.ErrReject, d.ID)
		}
		invoiced, err := inbox.Process(ctx, db, d, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO invoices (order_id, customer, amount_cents, message_id, invoiced_at)
				VALUES ($1, $2, $3, $4, $5)`,
				o.OrderID, o.Customer, o.AmountCents, d.ID, time.Now().UTC().Format(time.RFC3339Nano))
			return err
		})
		switch {
		case err != nil:
			return err
		case invoiced:
			fmt.Fprintf(cfg.out, "billing: invoiced %s to %s, %d.%02d\n", o.OrderID, o.Customer, o.AmountCents/100, o.AmountCents%100)
			mu.Lock()
			done++
			if want > 0 && done >= want {
				stop() // Consume returns once this handler's message is acked
			}
			mu.Unlock()
		default:
			fmt.Fprintf(cfg.out, "billing: %s was already invoiced; redelivery acknowledged\n", o.OrderID)
		}
		return nil
	})

	err = c.Consume(cctx, queueBilling, handler, client.WithPrefetch(64), client.WithMiddleware(
		client.Recover(),
		client.Retry(5, client.ExponentialBackoff(100*time.Millisecond, 5*time.Second)),
		client.Timeout(30*time.Second),
	))
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("consume %s: %w", queueBilling, err)
	}
	return nil
}
