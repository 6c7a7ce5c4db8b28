// Package outbox is the transactional outbox for raftmq: a service writes
// its business data and the events that report it in one database
// transaction (Add), and a Relay publishes the events to raftmq afterwards
// and marks them sent. An event is never published for a transaction that
// rolled back, and never lost for one that committed, whatever crashes
// when. Package inbox, beside it, is the consumer's half: an idempotent
// handler.
//
// # Why it is built this way
//
// Exactly once, from at-least-once parts. The relay publishes a row with
// the row's ID as the message ID and marks it sent only after the broker
// confirmed it. A relay that dies in between publishes the row again when
// it (or another relay) runs next, and the broker, which de-duplicates
// message IDs within its window (two minutes by default), confirms the copy
// as a duplicate without enqueueing it. So each event reaches its queues
// once, provided the relay comes back within the window; the row stays
// pending, and is published, however late it comes back.
//
// database/sql, two dialects. The tables and statements are plain SQL that
// SQLite (modernc.org/sqlite, no cgo: the embedded default) and PostgreSQL
// (github.com/jackc/pgx/v5/stdlib) both accept, with $1 placeholders, which
// SQLite reads too. Times are integers (Unix microseconds) so both compare
// them the same way. The Dialect decides the schema (BLOB or BYTEA,
// AUTOINCREMENT or IDENTITY) and how relays share the work:
//
//   - PostgreSQL: relays work in parallel. A round locks, with
//     transaction-scoped advisory locks, the aggregates of the earliest
//     pending rows that no other relay holds, then selects their pending
//     rows (and rows without an aggregate) in seq order FOR UPDATE SKIP
//     LOCKED, publishes them, marks them sent and commits. While a relay
//     holds an aggregate no other relay publishes any of its rows, and
//     the next holder sees them sent: per-aggregate order holds and, in the
//     normal case, no row is published twice. The transaction stays open
//     while publishing, at most the publish timeout.
//   - SQLite has one writer. A relay publishes only while it holds a lease
//     row (renewed every round, released when Run returns); the others
//     stand by and take over when it expires. No transaction is open while
//     it publishes, so the application keeps writing while the broker is
//     slow.
//
// Recommended SQLite settings: open the file with
// "file:app.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_txlock=immediate",
// so that concurrent writers wait instead of failing with SQLITE_BUSY.
//
// Order. Rows are published in seq order, which the database assigns when
// Add runs; a batch is one PublishBatch, which the broker applies in order.
// On PostgreSQL, transactions that add events for the same aggregate must
// not overlap (lock the aggregate's row first), or seq order may differ
// from commit order. A row the broker refuses for good (an unknown
// exchange) stays pending and is retried with back-off, its attempts and
// last error kept in its row, while the rows after it are published.
//
// Operations. Lag (the age of the oldest pending row) and Pending are for
// metrics and alerts. Sent rows are deleted after the retention by Run,
// every cleanup interval. A stopped relay finishes its round first, so a
// graceful stop never leaves confirmed rows unmarked.
package outbox
