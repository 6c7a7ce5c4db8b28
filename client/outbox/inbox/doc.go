// Package inbox makes a raftmq consumer's database work idempotent:
// exactly once in effect, although raftmq delivers at least once.
//
// # Why it is built this way
//
// A delivery can come twice: the consumer committed its work and died
// before its ack reached the broker, or a failover put an unsettled
// message back in the queue. The inbox records each message ID (with the
// queue it came from) in table raftmq_inbox, in the same transaction as
// the handler's work. A redelivery finds the record and is acknowledged
// without running the handler; a handler that failed rolled its record
// back, so the redelivery runs it again. The record is inserted first,
// with ON CONFLICT DO NOTHING (the same statement in SQLite and
// PostgreSQL): a second copy handled at the same moment waits for the
// first transaction and then either finds the record or, if the first
// rolled back, takes its place.
//
// The key is the queue and the message ID, not the ID alone: one message
// routed to two queues that feed two handlers in one database is two jobs.
//
// Three entry points, for where settling happens:
//   - Handle settles the delivery itself (ack, or nack with requeue, or
//     reject for errors wrapping client.ErrReject): for a loop over
//     Subscription.Deliveries.
//   - Handler returns a client.Handler that leaves settling to
//     client.Consume, so middleware such as client.Retry sees each failure
//     and can send a poison message to the dead-letter exchange.
//   - Process is the core, for any other handler shape (a client.JSON
//     handler, say).
//
// Records are kept until Purge deletes them; a message redelivered after
// its record was purged is processed again, so purge only what is older
// than any message can stay unsettled. The table is created by Migrate,
// with the dialect type of package outbox.
package inbox
