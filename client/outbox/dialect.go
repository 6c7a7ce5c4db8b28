package outbox

import (
	"fmt"
	"strings"
)

// Dialect is the SQL dialect of the database that holds the outbox. Add and
// the inbox's statements are written so that both dialects accept them (the
// $1 placeholders work in SQLite too); the dialect decides the schema and
// how relays share the work.
type Dialect int

const (
	// SQLite is modernc.org/sqlite (driver name "sqlite"). One relay
	// publishes at a time, the holder of a lease row; the others stand by.
	SQLite Dialect = iota + 1
	// PostgreSQL is github.com/jackc/pgx/v5/stdlib (driver name "pgx").
	// Relays work in parallel: each claims rows with FOR UPDATE SKIP LOCKED
	// and whole aggregates with transaction-scoped advisory locks.
	PostgreSQL
)

// String returns the dialect's name: "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case PostgreSQL:
		return "postgres"
	default:
		return fmt.Sprintf("Dialect(%d)", int(d))
	}
}

// ParseDialect returns the dialect named s: "sqlite" (or "sqlite3"), or
// "postgres" (or "postgresql", "pgx"). Case does not matter.
func ParseDialect(s string) (Dialect, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "sqlite", "sqlite3":
		return SQLite, nil
	case "postgres", "postgresql", "pgx":
		return PostgreSQL, nil
	default:
		return 0, fmt.Errorf("parse dialect %q: %w", s, ErrUnknownDialect)
	}
}

func (d Dialect) check() error {
	if d != SQLite && d != PostgreSQL {
		return fmt.Errorf("%v: %w", d, ErrUnknownDialect)
	}
	return nil
}
