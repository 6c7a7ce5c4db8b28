// Package broker is a raftmq node's service: it accepts client connections,
// turns their requests into Raft commands, sends confirms once those are
// committed and applied, and pushes deliveries to consumers.
//
// Only the leader serves writes, consumes and inspections; a follower answers
// them with not-leader and the leader's client address, and any node answers
// status. When a node loses leadership it closes every client connection, so
// clients move to the new leader at once.
//
// Publishes and acks from all connections go through one group commit
// (committer): whatever arrived while the previous batch was in Raft forms
// the next command, so batches grow with load without a timer. A confirm is
// sent only after the entry holding the message is committed on a majority
// (each of which fsynced it) and applied; if leadership is lost first the
// client gets a retryable "indeterminate" error, and resending with the same
// message ID is safe because the state machine de-duplicates.
//
// Deliveries are leader memory (dispatcher): which consumer holds which
// message is not logged. Acks name messages by queue and sequence number, so
// an ack sent to a new leader still settles the message; after a leader
// change every unsettled message is ready again and messages that may have
// been delivered before are marked redelivered.
package broker
