// Package sqlx holds the small pieces of SQL plumbing that the outbox and
// inbox packages share: schema creation under a lock, and the integer time
// stamps both dialects compare the same way.
package sqlx

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// LockKey is the first key of every advisory lock the packages take on
// PostgreSQL ("raft" in ASCII), so that they do not collide with an
// application's single-key advisory locks.
const LockKey = 0x72616674

// ExecSchema runs statements in one transaction. On PostgreSQL it first
// takes a transaction-scoped advisory lock, so that services starting at
// the same time do not race on CREATE ... IF NOT EXISTS, which is not
// atomic there.
func ExecSchema(ctx context.Context, db *sql.DB, postgres bool, statements []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, LockKey); err != nil {
			return fmt.Errorf("lock schema: %w", err)
		}
	}
	for _, s := range statements {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", firstLine(s), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "("))
}

// Micros returns t as Unix time in microseconds, the unit of every time
// column of the outbox and inbox tables.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// Placeholders returns "$from, $from+1, ..." for n parameters.
func Placeholders(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i)
	}
	return b.String()
}
