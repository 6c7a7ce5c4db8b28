package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/client/outbox/internal/sqlx"
)

// Errors of the package.
var (
	// ErrUnknownDialect: the dialect is neither SQLite nor PostgreSQL.
	ErrUnknownDialect = errors.New("unknown SQL dialect")
	// ErrInvalidArgument: a nil database, transaction or publisher, or an
	// option out of range.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrRunning: Run was called on a relay that is already running.
	ErrRunning = errors.New("relay already running")
	// ErrAborted: the after-publish hook failed, and the relay stopped
	// before marking the published rows sent, as a crash there would.
	ErrAborted = errors.New("relay aborted by its after-publish hook")
)

// Table is the name of the outbox table.
const Table = "raftmq_outbox"

// Message is an event to publish once the transaction that adds it
// commits.
type Message struct {
	// ID is the message ID the relay publishes it with, so that the
	// broker de-duplicates a republished copy. "" makes Add generate one
	// (client.NewID); set it yourself if you need to know it.
	ID string
	// Exchange and Key are the exchange and routing key to publish to.
	Exchange, Key string
	// Headers are the message's application headers.
	Headers map[string]string
	// Body is the message's content.
	Body []byte
	// Aggregate is the ordering key: messages with the same non-empty
	// aggregate are published in the order they were added, never two at a
	// time by different relays. Messages without one have no order among
	// themselves when several relays run.
	Aggregate string
}

func schema(d Dialect) []string {
	if d == PostgreSQL {
		return []string{
			`CREATE TABLE IF NOT EXISTS raftmq_outbox (
				seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
				id TEXT NOT NULL UNIQUE,
				aggregate TEXT NOT NULL DEFAULT '',
				exchange TEXT NOT NULL,
				routing_key TEXT NOT NULL,
				headers JSONB,
				body BYTEA,
				created_at BIGINT NOT NULL,
				sent_at BIGINT,
				attempts INTEGER NOT NULL DEFAULT 0,
				last_error TEXT
			)`,
			`CREATE INDEX IF NOT EXISTS raftmq_outbox_pending ON raftmq_outbox (seq) WHERE sent_at IS NULL`,
			`CREATE INDEX IF NOT EXISTS raftmq_outbox_sent ON raftmq_outbox (sent_at) WHERE sent_at IS NOT NULL`,
		}
	}
	return []string{
		`CREATE TABLE IF NOT EXISTS raftmq_outbox (
			seq INTEGER PRIMARY KEY AUTOINCREMENT,
			id TEXT NOT NULL UNIQUE,
			aggregate TEXT NOT NULL DEFAULT '',
			exchange TEXT NOT NULL,
			routing_key TEXT NOT NULL,
			headers TEXT,
			body BLOB,
			created_at INTEGER NOT NULL,
			sent_at INTEGER,
			attempts INTEGER NOT NULL DEFAULT 0,
			last_error TEXT
		)`,
		`CREATE INDEX IF NOT EXISTS raftmq_outbox_pending ON raftmq_outbox (seq) WHERE sent_at IS NULL`,
		`CREATE INDEX IF NOT EXISTS raftmq_outbox_sent ON raftmq_outbox (sent_at) WHERE sent_at IS NOT NULL`,
		`CREATE TABLE IF NOT EXISTS raftmq_outbox_lease (
			name TEXT PRIMARY KEY,
			holder TEXT NOT NULL,
			expires_at INTEGER NOT NULL
		)`,
	}
}

// Migrate creates the outbox table and its indexes if they do not exist
// (and, on SQLite, the relays' lease table). It is safe to run at every
// start, by several processes at once.
//
// Table raftmq_outbox: seq (monotonic primary key: the publishing order),
// id (the message ID, unique), aggregate ("" for none), exchange,
// routing_key, headers (JSON object, NULL for none), body (BLOB on SQLite,
// BYTEA on PostgreSQL), created_at and sent_at (Unix microseconds; sent_at
// is NULL until the broker confirmed the message), attempts and last_error
// (failed publishes of the row, for operators).
func Migrate(ctx context.Context, db *sql.DB, d Dialect) error {
	if err := d.check(); err != nil {
		return fmt.Errorf("outbox: migrate: %w", err)
	}
	if db == nil {
		return fmt.Errorf("outbox: migrate: nil database: %w", ErrInvalidArgument)
	}
	if err := sqlx.ExecSchema(ctx, db, d == PostgreSQL, schema(d)); err != nil {
		return fmt.Errorf("outbox: migrate %s: %w", d, err)
	}
	return nil
}

// Add writes msg into the outbox within tx, the transaction that also
// writes the business data it reports: both commit or neither does. A
// relay publishes it after the commit (call Relay.Notify then to publish at
// once rather than at the next poll). Add works with both dialects.
//
// Per-aggregate order is the order of seq, which the database assigns when
// Add runs. On PostgreSQL, two transactions that add messages for the same
// aggregate at the same time may commit in the other order; serialise them
// (they are serialised when both update the aggregate's own row before
// calling Add, the usual case), or a relay may publish the later one
// first.
func Add(ctx context.Context, tx *sql.Tx, msg Message) error {
	if tx == nil {
		return fmt.Errorf("outbox: add: nil transaction: %w", ErrInvalidArgument)
	}
	if msg.ID == "" {
		msg.ID = client.NewID()
	}
	var headers sql.NullString
	if len(msg.Headers) > 0 {
		b, err := json.Marshal(msg.Headers)
		if err != nil {
			return fmt.Errorf("outbox: add message %s: encode headers: %w", msg.ID, err)
		}
		headers = sql.NullString{String: string(b), Valid: true}
	}
	body := msg.Body
	if body == nil {
		body = []byte{}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO raftmq_outbox
		(id, aggregate, exchange, routing_key, headers, body, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		msg.ID, msg.Aggregate, msg.Exchange, msg.Key, headers, body, sqlx.Micros(time.Now()))
	if err != nil {
		return fmt.Errorf("outbox: add message %s: %w", msg.ID, err)
	}
	return nil
}
