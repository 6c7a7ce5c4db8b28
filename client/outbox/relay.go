package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/client/outbox/internal/sqlx"
)

// Publisher publishes a batch of messages and returns once each is
// confirmed or failed; *client.Client is one. On failure the error is a
// *client.BatchError saying which messages failed, or an error for the
// whole batch.
type Publisher interface {
	PublishBatch(ctx context.Context, ps []client.Publishing) ([]client.Confirm, error)
}

var _ Publisher = (*client.Client)(nil)

// Relay publishes the outbox's pending rows to raftmq and marks them sent.
// Run it in as many processes as you like: on PostgreSQL they share the
// work, on SQLite one publishes and the others stand by. Notify, Lag,
// Pending and Cleanup are safe to call from any goroutine, while Run runs.
type Relay struct {
	db   *sql.DB
	d    Dialect
	pub  Publisher
	o    options
	log  *slog.Logger
	wake chan struct{}

	running atomic.Bool
}

// NewRelay returns a relay that publishes the outbox in db through pub.
// Call Migrate first.
func NewRelay(db *sql.DB, d Dialect, pub Publisher, opts ...Option) (*Relay, error) {
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("outbox: new relay: %w", err)
	}
	if db == nil || pub == nil {
		return nil, fmt.Errorf("outbox: new relay: nil database or publisher: %w", ErrInvalidArgument)
	}
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("outbox: new relay: %w", err)
	}
	return &Relay{
		db: db, d: d, pub: pub, o: o,
		log:  o.logger.With("relay", o.name),
		wake: make(chan struct{}, 1),
	}, nil
}

// Name returns the relay's name (WithName).
func (r *Relay) Name() string { return r.o.name }

// Notify wakes the relay to look for new rows now rather than at its next
// poll. Call it after committing a transaction that used Add. It never
// blocks.
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run publishes pending rows until ctx ends, then finishes the round in
// progress (at most the publish timeout) and returns nil. Each round
// claims up to the batch size of pending rows in seq order, publishes them
// with their row IDs as message IDs (PublishBatch, retried until confirmed
// or the publish timeout), marks the confirmed ones sent, and starts the
// next round at once if the batch was full, else after the poll interval
// or a Notify. A failed round (database or broker unreachable, a message
// the broker refuses) is logged and retried with growing back-off; a
// refused row keeps its attempts and last error in the table and is
// retried too. Sent rows older than the retention are deleted every
// cleanup interval.
//
// Run returns an error only when it cannot go on: the publisher's client
// was closed (client.ErrClosed), or the after-publish hook failed
// (ErrAborted). A relay runs once at a time (ErrRunning); it may be run
// again after Run returned.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return fmt.Errorf("outbox: relay %s: %w", r.o.name, ErrRunning)
	}
	defer r.running.Store(false)
	if r.d == SQLite {
		defer r.releaseLease(ctx)
	}
	failures := 0
	nextCleanup := time.Now().Add(r.o.cleanupInterval)
	for {
		n, err := r.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		wait := r.o.pollInterval
		switch {
		case err != nil && (errors.Is(err, ErrAborted) || errors.Is(err, client.ErrClosed)):
			return fmt.Errorf("outbox: relay %s: %w", r.o.name, err)
		case err != nil:
			failures++
			wait = r.backoff(failures)
			r.log.Warn("outbox relay round failed", "err", err, "failures", failures, "retry_in", wait)
		case n >= r.o.batchSize:
			failures = 0
			wait = 0
		default:
			failures = 0
		}
		if !time.Now().Before(nextCleanup) {
			if deleted, err := r.Cleanup(ctx); err != nil {
				r.log.Warn("outbox cleanup failed", "err", err)
			} else if deleted > 0 {
				r.log.Debug("outbox cleanup", "deleted", deleted)
			}
			nextCleanup = time.Now().Add(r.o.cleanupInterval)
		}
		if wait > 0 && !r.sleep(ctx, wait, failures == 0) {
			return nil
		}
	}
}

// sleep waits for d, for ctx's end (false) or, if wakeable, for Notify.
func (r *Relay) sleep(ctx context.Context, d time.Duration, wakeable bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	wake := r.wake
	if !wakeable {
		wake = nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-wake:
	}
	return true
}

// backoff returns the wait after the n-th failed round in a row: from
// 100 ms doubling up to the maximum, with jitter over the upper half.
func (r *Relay) backoff(n int) time.Duration {
	d := 100 * time.Millisecond
	for i := 1; i < n && d < r.o.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.o.maxBackoff)
	half := d / 2
	return half + rand.N(half+1)
}

// row is one claimed outbox row.
type row struct {
	seq                          int64
	id, aggregate, exchange, key string
	headers                      sql.NullString
	body                         []byte
}

// failure is a row the broker did not confirm.
type failure struct {
	seq int64
	id  string
	err error
}

// outcome is what a round's publish did.
type outcome struct {
	sent   []int64
	failed []failure
}

// err summarises the failed rows, or is nil.
func (o outcome) err() error {
	if len(o.failed) == 0 {
		return nil
	}
	f := o.failed[0]
	return fmt.Errorf("%d of %d messages not published; message %s: %w",
		len(o.failed), len(o.failed)+len(o.sent), f.id, f.err)
}

const selectColumns = `seq, id, aggregate, exchange, routing_key, headers, body`

// lockAggregatesPostgres takes, for the round's transaction, the advisory
// locks of the aggregates among the earliest pending rows that no other
// relay holds, and returns those aggregates. It runs as its own statement
// before claimPostgres, so that claimPostgres's snapshot is taken once the
// locks are held, after the previous holder committed: locking row by row
// inside one statement could let it see an aggregate locked for one row
// and free for a later one, and publish the later one first.
const lockAggregatesPostgres = `WITH head AS MATERIALIZED (
		SELECT DISTINCT aggregate FROM (
			SELECT aggregate FROM raftmq_outbox
			WHERE sent_at IS NULL AND aggregate <> ''
			ORDER BY seq LIMIT $2) h)
	SELECT aggregate FROM head WHERE pg_try_advisory_xact_lock($1, hashtext(aggregate))`

// claimPostgres selects and locks the earliest pending rows of the
// aggregates this relay holds, and rows without an aggregate that no other
// relay has locked.
const claimPostgres = `SELECT ` + selectColumns + ` FROM raftmq_outbox
	WHERE sent_at IS NULL AND (aggregate = '' OR aggregate = ANY($1))
	ORDER BY seq
	LIMIT $2
	FOR UPDATE SKIP LOCKED`

// peekFactor sets how many of the earliest pending rows a round looks at
// for aggregates to lock, as a multiple of the batch size.
const peekFactor = 4

const selectSQLite = `SELECT ` + selectColumns + ` FROM raftmq_outbox
	WHERE sent_at IS NULL ORDER BY seq LIMIT $1`

// round claims, publishes and marks one batch and returns the number of
// rows it claimed.
//
// Finishing: once rows are claimed, the round runs to its end even if
// Run's context ends meanwhile (the publish is still bounded by the
// publish timeout), so that a relay that is stopped does not leave rows
// the broker confirmed unmarked, to be published again by the next one.
func (r *Relay) round(ctx context.Context) (int, error) {
	if r.d == PostgreSQL {
		return r.roundPostgres(ctx)
	}
	return r.roundSQLite(ctx)
}

// roundPostgres holds the claimed rows' locks in one transaction from the
// claim to the mark, so no other relay publishes them meanwhile.
func (r *Relay) roundPostgres(ctx context.Context) (int, error) {
	// database/sql rolls a transaction back when the context given to
	// BeginTx ends: the round must be able to finish after Run's does.
	tx, err := r.db.BeginTx(context.WithoutCancel(ctx), nil)
	if err != nil {
		return 0, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	aggs, err := lockAggregates(ctx, tx, r.o.batchSize*peekFactor)
	if err != nil {
		return 0, fmt.Errorf("lock aggregates: %w", err)
	}
	rows, err := queryRows(ctx, tx, claimPostgres, aggs, r.o.batchSize)
	if err != nil {
		return 0, fmt.Errorf("claim: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	ctx = context.WithoutCancel(ctx) // finish the round: see finishing
	out, err := r.publish(ctx, rows)
	if err != nil {
		return len(rows), err
	}
	if err := mark(ctx, tx, out); err != nil {
		return len(rows), err
	}
	if err := tx.Commit(); err != nil {
		return len(rows), fmt.Errorf("commit sent marks: %w", err)
	}
	return len(rows), out.err()
}

// roundSQLite publishes only while this relay holds the lease, and keeps
// no transaction open while it publishes, so the application can write
// while the broker is slow.
func (r *Relay) roundSQLite(ctx context.Context) (int, error) {
	held, err := r.acquireLease(ctx)
	if err != nil || !held {
		return 0, err
	}
	rows, err := queryRows(ctx, r.db, selectSQLite, r.o.batchSize)
	if err != nil {
		return 0, fmt.Errorf("select pending: %w", err)
	}
	if len(rows) == 0 {
		return 0, nil
	}
	ctx = context.WithoutCancel(ctx) // finish the round: see finishing
	out, err := r.publish(ctx, rows)
	if err != nil {
		return len(rows), err
	}
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return len(rows), fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := mark(ctx, tx, out); err != nil {
		return len(rows), err
	}
	if err := tx.Commit(); err != nil {
		return len(rows), fmt.Errorf("commit sent marks: %w", err)
	}
	return len(rows), out.err()
}

const leaseName = "relay"

// acquireLease takes or renews the SQLite publisher lease, and reports
// whether this relay holds it.
func (r *Relay) acquireLease(ctx context.Context) (bool, error) {
	now := time.Now()
	res, err := r.db.ExecContext(ctx, `INSERT INTO raftmq_outbox_lease (name, holder, expires_at)
		VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE raftmq_outbox_lease.holder = excluded.holder OR raftmq_outbox_lease.expires_at < $4`,
		leaseName, r.o.name, sqlx.Micros(now.Add(r.o.lease)), sqlx.Micros(now))
	if err != nil {
		return false, fmt.Errorf("acquire lease: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("acquire lease: %w", err)
	}
	return n == 1, nil
}

// releaseLease gives the lease up, if held, so a standby takes over at its
// next poll.
func (r *Relay) releaseLease(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := r.db.ExecContext(ctx, `DELETE FROM raftmq_outbox_lease WHERE name = $1 AND holder = $2`,
		leaseName, r.o.name); err != nil {
		r.log.Warn("outbox relay: release lease", "err", err)
	}
}

func lockAggregates(ctx context.Context, tx *sql.Tx, peek int) ([]string, error) {
	rs, err := tx.QueryContext(ctx, lockAggregatesPostgres, sqlx.LockKey, peek)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	aggs := []string{}
	for rs.Next() {
		var a string
		if err := rs.Scan(&a); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		aggs = append(aggs, a)
	}
	return aggs, rs.Err()
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func queryRows(ctx context.Context, q querier, query string, args ...any) ([]row, error) {
	rs, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []row
	for rs.Next() {
		var w row
		if err := rs.Scan(&w.seq, &w.id, &w.aggregate, &w.exchange, &w.key, &w.headers, &w.body); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		out = append(out, w)
	}
	if err := rs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// publish publishes rows in one batch. It returns an error only when the
// round must stop without marking anything: the client was closed, or the
// after-publish hook failed.
func (r *Relay) publish(ctx context.Context, rows []row) (outcome, error) {
	var out outcome
	ps := make([]client.Publishing, 0, len(rows))
	batch := make([]row, 0, len(rows))
	for _, w := range rows {
		var h map[string]string
		if w.headers.Valid && w.headers.String != "" {
			if err := json.Unmarshal([]byte(w.headers.String), &h); err != nil {
				out.failed = append(out.failed, failure{w.seq, w.id, fmt.Errorf("decode headers: %w", err)})
				continue
			}
		}
		ps = append(ps, client.Publishing{
			Exchange: w.exchange, Key: w.key,
			Message: client.Message{ID: w.id, Headers: h, Body: w.body},
		})
		batch = append(batch, w)
	}
	if len(ps) == 0 {
		return out, nil
	}
	pctx, cancel := context.WithTimeout(ctx, r.o.publishTimeout)
	_, err := r.pub.PublishBatch(pctx, ps)
	cancel()
	if err != nil && errors.Is(err, client.ErrClosed) {
		return outcome{}, fmt.Errorf("publish: %w", err)
	}
	var be *client.BatchError
	switch {
	case err == nil:
		for _, w := range batch {
			out.sent = append(out.sent, w.seq)
		}
	case errors.As(err, &be) && len(be.Errs) == len(batch):
		for i, w := range batch {
			if be.Errs[i] == nil {
				out.sent = append(out.sent, w.seq)
			} else {
				out.failed = append(out.failed, failure{w.seq, w.id, be.Errs[i]})
			}
		}
	default:
		for _, w := range batch {
			out.failed = append(out.failed, failure{w.seq, w.id, err})
		}
	}
	if len(out.sent) > 0 && r.o.afterPublish != nil {
		if err := r.o.afterPublish(); err != nil {
			return outcome{}, fmt.Errorf("%w: %w", ErrAborted, err)
		}
	}
	return out, nil
}

// markChunk bounds the parameters of one statement.
const markChunk = 500

// mark records the round's outcome: sent rows get sent_at, failed ones
// one more attempt and their error.
func mark(ctx context.Context, ex execer, out outcome) error {
	now := sqlx.Micros(time.Now())
	for start := 0; start < len(out.sent); start += markChunk {
		chunk := out.sent[start:min(start+markChunk, len(out.sent))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, now)
		for _, s := range chunk {
			args = append(args, s)
		}
		q := `UPDATE raftmq_outbox SET sent_at = $1 WHERE seq IN (` + sqlx.Placeholders(2, len(chunk)) + `)`
		if _, err := ex.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("mark %d rows sent: %w", len(chunk), err)
		}
	}
	for _, f := range out.failed {
		msg := f.err.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		if _, err := ex.ExecContext(ctx, `UPDATE raftmq_outbox SET attempts = attempts + 1, last_error = $1 WHERE seq = $2`,
			msg, f.seq); err != nil {
			return fmt.Errorf("record failure of message %s: %w", f.id, err)
		}
	}
	return nil
}

// cleanupChunk bounds the rows one DELETE removes, so a large cleanup does
// not hold SQLite's write lock for long.
const cleanupChunk = 1000

// Cleanup deletes the rows sent longer ago than the retention and returns
// how many it deleted. Run calls it every cleanup interval.
func (r *Relay) Cleanup(ctx context.Context) (int64, error) {
	cutoff := sqlx.Micros(time.Now().Add(-r.o.retention))
	var total int64
	for {
		res, err := r.db.ExecContext(ctx, `DELETE FROM raftmq_outbox WHERE seq IN (
			SELECT seq FROM raftmq_outbox WHERE sent_at IS NOT NULL AND sent_at <= $1 ORDER BY seq LIMIT $2)`,
			cutoff, cleanupChunk)
		if err != nil {
			return total, fmt.Errorf("outbox: cleanup: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("outbox: cleanup: %w", err)
		}
		total += n
		if n < cleanupChunk {
			return total, nil
		}
	}
}

// Lag returns the age of the oldest row not yet sent (0 when none is
// pending): how far the relays are behind. Export it as a gauge.
func (r *Relay) Lag(ctx context.Context) (time.Duration, error) {
	var oldest sql.NullInt64
	if err := r.db.QueryRowContext(ctx, `SELECT MIN(created_at) FROM raftmq_outbox WHERE sent_at IS NULL`).
		Scan(&oldest); err != nil {
		return 0, fmt.Errorf("outbox: lag: %w", err)
	}
	if !oldest.Valid {
		return 0, nil
	}
	return max(0, time.Since(time.UnixMicro(oldest.Int64))), nil
}

// Pending returns the number of rows not yet sent.
func (r *Relay) Pending(ctx context.Context) (int64, error) {
	var n int64
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM raftmq_outbox WHERE sent_at IS NULL`).
		Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: pending: %w", err)
	}
	return n, nil
}
