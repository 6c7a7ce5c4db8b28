// Package dbtest gives the outbox and inbox tests a fresh, real database of
// each dialect: an SQLite file in the test's temporary directory, and a
// private schema in the PostgreSQL named by RAFTMQ_TEST_POSTGRES (see
// scripts/pg-test.sh). Without that variable the PostgreSQL cases skip,
// except under CI=true, where they fail: CI must test both.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"

	"github.com/raftmq/raftmq/client/outbox"
)

// EnvPostgres names the variable that holds the test PostgreSQL's URL.
const EnvPostgres = "RAFTMQ_TEST_POSTGRES"

// Dialects are the dialects every test runs with.
var Dialects = []outbox.Dialect{outbox.SQLite, outbox.PostgreSQL}

// Database is a fresh, empty database of one dialect.
type Database struct {
	Dialect outbox.Dialect
	Driver  string
	DSN     string
}

// SQLiteDSN returns the data source name the package recommends for an
// SQLite file: a busy timeout, WAL, and transactions that take the write
// lock when they begin.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate"
}

// New creates a fresh database of dialect d for t, dropped (PostgreSQL)
// or deleted (SQLite) when t ends. It skips t when d is PostgreSQL and
// RAFTMQ_TEST_POSTGRES is unset, unless CI=true.
func New(t testing.TB, d outbox.Dialect) *Database {
	t.Helper()
	if d == outbox.SQLite {
		return &Database{Dialect: d, Driver: "sqlite", DSN: SQLiteDSN(filepath.Join(t.TempDir(), "test.db"))}
	}
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set, and CI=true requires the PostgreSQL tests (start one with: eval \"$(scripts/pg-test.sh)\")", EnvPostgres)
		}
		t.Skipf("%s is not set: PostgreSQL tests skipped (start one with: eval \"$(scripts/pg-test.sh)\")", EnvPostgres)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPostgres, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema on %s: %v", EnvPostgres, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return &Database{Dialect: d, Driver: "pgx", DSN: u.String()}
}

// Open opens a connection pool to the database, closed when t ends. Each
// call is a separate pool, as another process would have.
func (db *Database) Open(t testing.TB) *sql.DB {
	t.Helper()
	h, err := sql.Open(db.Driver, db.DSN)
	if err != nil {
		t.Fatalf("open %s: %v", db.Dialect, err)
	}
	t.Cleanup(func() { h.Close() })
	if err := h.Ping(); err != nil {
		t.Fatalf("ping %s: %v", db.Dialect, err)
	}
	return h
}

// Migrated creates a fresh database of dialect d with the outbox schema,
// and returns it with one open pool.
func Migrated(t testing.TB, d outbox.Dialect, migrate ...func(context.Context, *sql.DB, outbox.Dialect) error) (*Database, *sql.DB) {
	t.Helper()
	db := New(t, d)
	h := db.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range append([]func(context.Context, *sql.DB, outbox.Dialect) error{outbox.Migrate}, migrate...) {
		if err := m(ctx, h, d); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	return db, h
}
