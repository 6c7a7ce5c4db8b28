package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/client/outbox"
	"github.com/raftmq/raftmq/client/outbox/internal/sqlx"
)

// Errors of the package.
var (
	// ErrNoID: the delivery has no message ID, so a redelivery of it could
	// not be recognised. It also matches client.ErrReject: the message goes
	// to the dead-letter exchange rather than being processed without
	// protection.
	ErrNoID = errors.New("delivery has no message ID")
	// ErrInvalidArgument: a nil database, delivery or function.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Table is the name of the inbox table.
const Table = "raftmq_inbox"

// Migrate creates the inbox table if it does not exist. It is safe to run
// at every start, by several processes at once.
//
// Table raftmq_inbox: queue and id (the queue a message was consumed from
// and its message ID; together the primary key), received_at (Unix
// microseconds, for Purge).
func Migrate(ctx context.Context, db *sql.DB, d outbox.Dialect) error {
	if d != outbox.SQLite && d != outbox.PostgreSQL {
		return fmt.Errorf("inbox: migrate: %v: %w", d, outbox.ErrUnknownDialect)
	}
	if db == nil {
		return fmt.Errorf("inbox: migrate: nil database: %w", ErrInvalidArgument)
	}
	err := sqlx.ExecSchema(ctx, db, d == outbox.PostgreSQL, []string{
		`CREATE TABLE IF NOT EXISTS raftmq_inbox (
			queue TEXT NOT NULL,
			id TEXT NOT NULL,
			received_at BIGINT NOT NULL,
			PRIMARY KEY (queue, id)
		)`,
		`CREATE INDEX IF NOT EXISTS raftmq_inbox_received ON raftmq_inbox (received_at)`,
	})
	if err != nil {
		return fmt.Errorf("inbox: migrate %s: %w", d, err)
	}
	return nil
}

// Process runs fn in a transaction that also records d's message ID in
// the inbox, and reports whether fn ran and committed. If the ID is
// already recorded, the message was processed before (this is a
// redelivery): Process commits nothing, does not run fn, and returns false
// and nil. If fn or the commit fails, the transaction is rolled back and
// the error returned.
//
// Process does not settle d; use it inside a handler whose caller does
// (client.Consume acks on nil and nacks on an error), or use Handle.
//
// Two deliveries of one message processed at the same time (after a
// failover, say) are safe: the second insert waits for the first
// transaction (PostgreSQL's unique index, SQLite's single writer), then
// finds the ID if it committed, or runs fn if it rolled back.
func Process(ctx context.Context, db *sql.DB, d *client.Delivery, fn func(tx *sql.Tx) error) (bool, error) {
	if db == nil || d == nil || fn == nil {
		return false, fmt.Errorf("inbox: process: nil database, delivery or function: %w", ErrInvalidArgument)
	}
	if d.ID == "" {
		return false, fmt.Errorf("inbox: process message %d of queue %s: %w: %w", d.Seq, d.Queue, client.ErrReject, ErrNoID)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("inbox: message %s: begin: %w", d.ID, err)
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(ctx, `INSERT INTO raftmq_inbox (queue, id, received_at) VALUES ($1, $2, $3)
		ON CONFLICT (queue, id) DO NOTHING`, d.Queue, d.ID, sqlx.Micros(time.Now()))
	if err != nil {
		return false, fmt.Errorf("inbox: message %s: record: %w", d.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("inbox: message %s: record: %w", d.ID, err)
	}
	if n == 0 {
		return false, nil
	}
	if err := fn(tx); err != nil {
		return false, fmt.Errorf("inbox: message %s: %w", d.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("inbox: message %s: commit: %w", d.ID, err)
	}
	return true, nil
}

// Handle processes d exactly once in effect on db, and settles it: it
// runs Process, then acks d if fn committed or the message was processed
// before. If fn fails, it nacks d with requeue (it comes back), or rejects
// it (to the dead-letter exchange) if the error wraps client.ErrReject, and
// returns the error. If the commit's outcome is unknown it nacks with
// requeue: the redelivery finds the ID if the commit did happen.
//
// Handle is for a loop over a Subscription's deliveries. Inside a
// client.Consume handler, and with middleware such as client.Retry that
// must see the error before the message is settled, use Handler or
// Process instead.
func Handle(ctx context.Context, db *sql.DB, d *client.Delivery, fn func(tx *sql.Tx) error) error {
	if d == nil {
		return fmt.Errorf("inbox: handle: nil delivery: %w", ErrInvalidArgument)
	}
	if _, err := Process(ctx, db, d, fn); err != nil {
		var serr error
		if errors.Is(err, client.ErrReject) {
			serr = d.Reject()
		} else {
			serr = d.Nack(true)
		}
		if serr != nil && !errors.Is(serr, client.ErrAlreadySettled) {
			return errors.Join(err, fmt.Errorf("inbox: settle message %s: %w", d.ID, serr))
		}
		return err
	}
	if err := d.Ack(); err != nil && !errors.Is(err, client.ErrAlreadySettled) {
		return fmt.Errorf("inbox: ack message %s: %w", d.ID, err)
	}
	return nil
}

// Handler returns a client.Handler that processes each delivery through
// the inbox (Process) and leaves settling to its caller: client.Consume
// acks when it returns nil, including for a recognised redelivery, and
// nacks or rejects when it returns fn's error, so middleware such as
// client.Retry works around it.
func Handler(db *sql.DB, fn func(ctx context.Context, tx *sql.Tx, d *client.Delivery) error) client.Handler {
	return func(ctx context.Context, d *client.Delivery) error {
		if fn == nil {
			return fmt.Errorf("inbox: handler: nil function: %w", ErrInvalidArgument)
		}
		_, err := Process(ctx, db, d, func(tx *sql.Tx) error { return fn(ctx, tx, d) })
		return err
	}
}

// Purge deletes the inbox records of messages received before before and
// returns how many it deleted. A message redelivered after its record was
// purged is processed again, so keep records longer than any message can
// wait in a queue unsettled (its TTL, or your longest outage).
func Purge(ctx context.Context, db *sql.DB, before time.Time) (int64, error) {
	if db == nil {
		return 0, fmt.Errorf("inbox: purge: nil database: %w", ErrInvalidArgument)
	}
	res, err := db.ExecContext(ctx, `DELETE FROM raftmq_inbox WHERE received_at < $1`, sqlx.Micros(before))
	if err != nil {
		return 0, fmt.Errorf("inbox: purge: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("inbox: purge: %w", err)
	}
	return n, nil
}
