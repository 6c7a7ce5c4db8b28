package queue

import "math"

// Reason is why a message was dead-lettered.
type Reason string

// Dead-letter reasons, as RabbitMQ names them in x-death.
const (
	// Rejected: returned (nack or reject) without requeue.
	Rejected Reason = "rejected"
	// Expired: its TTL ran out.
	Expired Reason = "expired"
	// MaxLen: dropped from the head to make room (overflow drop-head).
	MaxLen Reason = "maxlen"
	// DeliveryLimitReached: returned more times than the delivery limit.
	DeliveryLimitReached Reason = "delivery-limit"
)

// Death is one entry of a message's death history (as RabbitMQ's x-death).
// There is one entry per (queue, reason); a repeated death increments Count.
type Death struct {
	// Queue is the queue the message died in.
	Queue string `msgpack:"q"`
	// Reason is why it died.
	Reason Reason `msgpack:"r"`
	// Count is how many times it died in Queue for Reason.
	Count int64 `msgpack:"c"`
	// Time is the unix time in nanoseconds of the latest such death.
	Time int64 `msgpack:"t"`
	// Exchange is the exchange the message had been published to.
	Exchange string `msgpack:"x"`
	// RoutingKey is the routing key it had been published with.
	RoutingKey string `msgpack:"k"`
}

// Message is one message in a queue.
//
// A Message is immutable once pushed: the queue never writes to a stored
// Message, it replaces it by a modified copy (copy-on-write), so a snapshot
// may hold the pointers returned by Messages while the queue goes on
// changing. Callers must not modify a Message they got from a Queue,
// including its Headers map and Body and Deaths slices.
type Message struct {
	// Seq is the sequence number assigned by Push, unique and increasing
	// within the queue.
	Seq uint64 `msgpack:"s"`
	// ID is the publisher's message ID.
	ID string `msgpack:"i"`
	// Exchange is the exchange the message was published to.
	Exchange string `msgpack:"x"`
	// RoutingKey is the routing key it was published with.
	RoutingKey string `msgpack:"k"`
	// Headers are the message headers.
	Headers map[string]string `msgpack:"h,omitempty"`
	// Body is the payload, unless Ref locates it in the Raft log instead.
	Body []byte `msgpack:"b"`
	// Ref, when its Len is not zero, says where the payload is kept in the
	// Raft log; Body is then nil. It is node-local, never encoded: a
	// snapshot carries the payload itself (see fsm).
	Ref BodyRef `msgpack:"-"`
	// PublishedAt is the leader-stamped publish time, unix nanoseconds.
	PublishedAt int64 `msgpack:"p"`
	// ExpiresAt is when the message expires, unix nanoseconds; 0 = never.
	// The caller folds in a per-message TTL; Push folds in the queue's.
	ExpiresAt int64 `msgpack:"e,omitempty"`
	// DeliveryCount is how many times the message has been returned.
	DeliveryCount uint32 `msgpack:"d,omitempty"`
	// Redelivered is set once the message has been returned.
	Redelivered bool `msgpack:"r,omitempty"`
	// Deaths is the death history, most recent first.
	Deaths []Death `msgpack:"dd,omitempty"`
}

// BodyRef locates a message body that is kept in the Raft log rather than
// in memory: bytes [Off, Off+Len) of the data of log entry Index. Len == 0
// means no reference.
type BodyRef struct {
	Index uint64
	Off   uint32
	Len   uint32
}

// Size is the length of the message's body, wherever the body is kept.
func (m *Message) Size() int64 {
	if m.Ref.Len > 0 {
		return int64(m.Ref.Len)
	}
	return int64(len(m.Body))
}

// DeadLetter is a message removed from a queue for Reason. Msg is a new
// Message value (the stored one is untouched) that is ready to be published
// again: its Death entry for this queue and reason is first in Deaths, and,
// as RabbitMQ does for a dead-lettered message, its expiry, delivery count
// and redelivered flag are cleared so that it starts afresh in the queues
// it reaches. Msg.Seq still holds its sequence number in the queue it left.
//
// The caller routes Msg to Args.DeadLetterExchange (see
// Args.DeadLetterTarget) if there is one and drops it otherwise. Push takes
// ownership of the Message it is given, so a caller that pushes one dead
// letter into several queues pushes a copy into each.
type DeadLetter struct {
	// Msg is the message to dead-letter, a new value.
	Msg *Message
	// Reason is why it left the queue.
	Reason Reason
}

// deadLetter returns the dead letter of m, which died in queue for reason
// at time now.
func deadLetter(m *Message, queue string, reason Reason, now int64) DeadLetter {
	c := *m
	c.ExpiresAt = 0
	c.DeliveryCount = 0
	c.Redelivered = false
	d := Death{Queue: queue, Reason: reason, Count: 1, Time: now, Exchange: m.Exchange, RoutingKey: m.RoutingKey}
	c.Deaths = make([]Death, 1, len(m.Deaths)+1)
	for _, old := range m.Deaths {
		if old.Queue == queue && old.Reason == reason {
			if old.Count < math.MaxInt64 {
				d.Count = old.Count + 1
			} else {
				d.Count = old.Count
			}
			continue
		}
		c.Deaths = append(c.Deaths, old)
	}
	c.Deaths[0] = d
	return DeadLetter{Msg: &c, Reason: reason}
}
