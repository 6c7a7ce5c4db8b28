// Package client is the Go client of raftmq: it connects to a cluster,
// follows its leader, publishes with confirms and consumes with acks.
//
// # One connection, to the leader
//
// Only the leader serves publishes, consumes and admin requests, and a node
// that loses leadership closes its client connections. So a Client keeps a
// single connection, to the leader, owned by one manager goroutine. When it
// breaks, the manager makes rounds over the addresses it knows (the seeds,
// plus every member address learned from status answers), the last leader
// hint first, and follows the leader address that a non-leader names in its
// handshake; rounds that find no leader are separated by exponential
// back-off with jitter. Callers never see the connection: requests wait for
// the next one (until their context ends) and are retried there.
//
// # Publishing: IDs make retries safe
//
// Every message carries an ID (generated when the caller gives none). The
// broker enqueues an ID at most once within its de-duplication window, so
// a publish whose outcome is unknown (connection lost, leadership lost
// during the commit) is simply sent again with the same ID; a copy that was
// already enqueued comes back as Duplicate, which counts as confirmed. A
// confirm means the message is fsynced on a majority and applied, and
// carries the Raft term and index of its entry.
//
// Publishes go through one queue owned by the client, not by a connection:
// the current connection's writer takes whatever is queued and coalesces it
// into as few publish frames as fit (PublishBatch groups stay in one frame),
// so a busy writer makes large frames without any timer, and the broker's
// group commit makes large Raft entries of them. Failed attempts go back
// to the head of the queue. WithMaxInFlight bounds the messages in flight;
// PublishAsync blocks beyond it. The optional publish buffer (Enqueue) is a
// bounded hand-off for services that must not wait for the broker: a
// background loop publishes it in order, in batches, until confirmed.
//
// # Consuming: settle by queue and sequence number
//
// A Subscription re-subscribes on every new leader connection. Acks and
// nacks name a message by queue and sequence number, which stay valid
// across leaders, so they are queued at the client level, coalesced per
// queue, and sent on whatever connection is current; each settle frame is
// answered once committed, and one lost with its connection is sent again
// on the next. Deliveries buffered and not yet handed out when a connection
// is lost are dropped: the broker makes those messages ready again and the
// new subscription receives them, marked redelivered. Delivery is at least
// once; handlers that are not idempotent check Delivery.Redelivered.
//
// Consume runs a Handler per delivery: nil acks, an error nacks with
// requeue, an error wrapping ErrReject rejects (dead-letter), and a panic
// is recovered and nacks with requeue. Middleware (Retry, Recover,
// Timeout) and typed codecs (JSON, Msgpack) compose as func(Handler)
// Handler.
//
// # Errors
//
// Server errors match the client's sentinels under errors.Is (a not-found
// answer is ErrNotFound), and IsRetryable says whether an error is safe to
// retry. Every goroutine belongs to the Client, a connection or a
// Subscription, and Close stops them all.
package client
