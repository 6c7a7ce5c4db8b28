// Package queue is the state of one queue: its messages in FIFO order, with
// sequence numbers, settlement (ack), return (nack, reject) with or without
// requeue, redelivery counts, TTL expiry, max-length overflow, delivery
// limits and dead-letter decisions.
//
// It is pure and deterministic: no I/O, no goroutines, no clock ("now" is
// a parameter, the leader's time stamped into the Raft command), and no
// result depends on map iteration order. It runs inside the replicated
// state machine, where every node must reach byte-identical state.
//
// # Why it is built this way
//
// Sequence numbers only grow, so the queue is a slice of (seq, *Message)
// slots sorted by seq: FIFO order is slice order, Push appends, and Settle,
// Return and Get find a message by seq in O(1) when no compaction has
// happened (the slot is at offset seq - first seq) and by binary search
// otherwise. A settled message leaves a hole that keeps its seq, so the
// slots stay sorted without moving anything; holes at the head or the tail
// are trimmed at once (the common case: consumers ack near the head), and
// the middle is compacted when holes outnumber live messages. The buffer
// slides back to its start instead of growing when its front is free, and
// shrinks when it is mostly unused. There is no map per message: a queued
// message costs its Message value, its ID, and a 16-byte slot (see
// BenchmarkQueueMemoryPerMessage: under 200 bytes beyond the body).
//
// Messages are copy-on-write: the queue never writes to a stored Message; a
// requeue or a dead-lettering makes a modified copy. A snapshot can thus
// take Messages (a copy of the pointer slice only) and encode it while the
// state machine goes on applying commands.
//
// Expiry: the queue counts its messages that have an expiry and keeps a
// lower bound of the earliest one, and whether expiries are in seq order
// (always so with only a queue TTL and a monotonic clock). Expire is O(1)
// when nothing can have expired, removes a prefix when expiries are in
// order, and otherwise makes one pass that also recomputes the bound
// exactly. NextExpiry is O(1) unless the message holding the earliest
// expiry has been removed since; then it scans from the head (stopping at
// once when expiries are in order) without changing the queue, so readers
// may call it concurrently.
//
// # Semantics (as RabbitMQ, with these choices)
//
//   - Len and the length limits count every unsettled message: which
//     messages are out with consumers is the broker's memory, not this
//     state. A message can thus expire or be dropped by overflow while
//     delivered; its later ack finds no message and is ignored.
//   - drop-head stores the new message and then drops from the head until
//     the queue is within its limits; a message bigger than
//     max-length-bytes on its own is dropped itself. reject-publish refuses
//     a message that does not fit and changes nothing.
//   - The queue TTL and a per-message expiry combine: the earlier wins.
//     Expired messages leave in seq order, whichever expired first.
//   - A requeued message keeps its seq, so it is still ahead of younger
//     messages. With a delivery limit, the return that takes the delivery
//     count past it dead-letters the message instead.
//   - Dead letters carry a death entry per (queue, reason), most recent
//     first, whose count grows each time; the copy handed back has its
//     expiry, delivery count and redelivered flag cleared, as RabbitMQ
//     strips the expiration of a dead-lettered message. Purge does not
//     dead-letter.
package queue
