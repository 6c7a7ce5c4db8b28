// Package fsm is raftmq's replicated state machine: every node applies the
// same Raft log through it and so holds the same exchanges, bindings, queues
// and messages.
//
// A command is one op byte followed by a msgpack body (see Op). Ops are
// append-only: a number, once used, is never renumbered or reused, so an older
// log replays the same way on a newer binary.
//
// The rules the state machine keeps:
//
//   - Deterministic. Nothing inside Apply reads the clock, draws a random
//     number or depends on map iteration order: the leader stamps the time into
//     each command that needs one, and the state machine's own clock only moves
//     forward (max of what it has seen), so a leader whose clock is behind
//     cannot make time run backwards. Snapshots encode maps with sorted keys and
//     queues in name order, so the same log gives byte-identical snapshots on
//     every node.
//   - Apply never blocks and never panics on a client's bytes: a malformed or
//     invalid command becomes an error Result.
//   - Messages are immutable once enqueued (the queue package replaces a message
//     by a modified copy), so Snapshot only copies pointers and Persist encodes
//     them while Apply goes on; the encoding streams to the sink and never holds
//     a second copy of the bodies.
//   - A queued message's body stays in the Raft log once the node has
//     called UseLog (a node does, unless run with -bodies-in-memory): the
//     message keeps where the body is (queue.BodyRef) and View.Body reads it
//     back. Snapshots carry the bodies themselves, and log compaction keeps
//     every entry a message refers to (LogFloor; bodies.go explains the
//     rules).
//   - Readers (the broker's dispatcher, inspections) take a read lock through
//     View; Restore swaps the whole state under the write lock, so a reader never
//     sees half a restore.
//
// De-duplication: a publish whose message ID was enqueued within the window
// (default two minutes, replicated with OpConfigure) is not enqueued again and
// its result says Duplicate. An ID is remembered only when the message was
// enqueued in at least one queue, so a publish refused by reject-publish or
// returned as unroutable may be retried and succeed later.
package fsm
