package wire

import "strconv"

// The hot-path payloads: Publish, Confirm, Deliver, Ack and Nack carry every
// message, so they have encoders and decoders written out field by field.

// PublishMessage is one message of a Publish.
type PublishMessage struct {
	// ID identifies the message for de-duplication: a retry with the same ID
	// within the broker's window is not enqueued twice.
	ID string
	// Exchange is the exchange to publish to; "" is the default exchange.
	Exchange string
	// RoutingKey is matched against bindings.
	RoutingKey string
	// Headers are the message's application headers.
	Headers map[string]string
	// Body is the message's content.
	Body []byte
	// TTL is the message's time to live in milliseconds; 0 means none.
	TTL int64
	// Mandatory makes a message that routes to no queue come back as
	// Unroutable instead of being dropped.
	Mandatory bool
}

const publishMessageFields = 7

func appendPublishMessage(b []byte, m *PublishMessage) []byte {
	b = appendArrayLen(b, publishMessageFields)
	b = appendString(b, m.ID)
	b = appendString(b, m.Exchange)
	b = appendString(b, m.RoutingKey)
	b = appendStringMap(b, m.Headers)
	b = appendBytes(b, m.Body)
	b = appendInt(b, m.TTL)
	return appendBool(b, m.Mandatory)
}

func (m PublishMessage) appendMsgpack(b []byte) []byte { return appendPublishMessage(b, &m) }

func (m *PublishMessage) decodeMsgpack(d *decoder) { m.decodeAfter(nil, d) }

// decodeAfter decodes into m. prev, when not nil, is the previous message of
// the batch, whose exchange and routing key m shares when they are equal.
func (m *PublishMessage) decodeAfter(prev *PublishMessage, d *decoder) {
	if prev == nil {
		prev = &PublishMessage{}
	}
	extra := d.header(publishMessageFields)
	m.ID = d.str()
	m.Exchange = d.strLike(prev.Exchange)
	m.RoutingKey = d.strLike(prev.RoutingKey)
	m.Headers = d.stringMap()
	m.Body = d.bytes()
	m.TTL = d.i64()
	m.Mandatory = d.bool()
	d.skip(extra)
}

// Publish publishes a batch of messages (TPublish). The server answers with
// one Confirm holding one result per message, in order, once the batch is
// committed on a majority and applied.
//
// Decoding a Publish copies its payload once and the message bodies are
// slices of that copy (each capped to its own length): keeping one body keeps
// the whole copy, at most one frame, alive. A Publish is short-lived on the
// server, which turns it into a Raft command at once; copy a body to keep it
// for long.
type Publish struct {
	// Messages are the messages to publish.
	Messages []PublishMessage
}

func (m Publish) appendMsgpack(b []byte) []byte {
	return appendList(b, m.Messages, appendPublishMessage)
}

func (m *Publish) decodeMsgpack(d *decoder) {
	d.own()
	extra := d.header(listFields)
	m.Messages = decodeBatch(d, 1+publishMessageFields, (*PublishMessage).decodeAfter)
	d.skip(extra)
}

// PublishStatus is the outcome of one published message. Values are part of
// the protocol: append only, never renumber.
type PublishStatus uint8

// Publish outcomes.
const (
	// Routed: enqueued in PublishResult.Queues queues.
	Routed PublishStatus = 1
	// Duplicate: a message with the same ID was enqueued within the
	// de-duplication window; not enqueued again. Counts as success.
	Duplicate PublishStatus = 2
	// Unroutable: mandatory and routed to no queue; the message "comes back"
	// to the publisher.
	Unroutable PublishStatus = 3
	// Rejected: a queue's reject-publish overflow refused it.
	Rejected PublishStatus = 4
	// Dropped: not mandatory and routed to no queue.
	Dropped PublishStatus = 5
)

var publishStatusNames = [...]string{"none", "routed", "duplicate", "unroutable", "rejected", "dropped"}

// String returns the status's name.
func (s PublishStatus) String() string {
	if int(s) < len(publishStatusNames) {
		return publishStatusNames[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// PublishResult is the outcome of one message of a Publish.
type PublishResult struct {
	// Status is the outcome; 0 when Code is set.
	Status PublishStatus
	// Queues is the number of queues the message was enqueued in.
	Queues int32
	// Code is non-zero when this message failed on its own (for example its
	// exchange does not exist); the rest of the batch is unaffected.
	Code Code
	// Message explains Code.
	Message string
}

// Err returns the per-message error as an *Error, or nil when Code is 0.
func (r PublishResult) Err() error {
	if r.Code == 0 {
		return nil
	}
	return &Error{Code: r.Code, Message: r.Message}
}

const publishResultFields = 4

func appendPublishResult(b []byte, r *PublishResult) []byte {
	b = appendArrayLen(b, publishResultFields)
	b = appendUint(b, uint64(r.Status))
	b = appendInt(b, int64(r.Queues))
	b = appendUint(b, uint64(r.Code))
	return appendString(b, r.Message)
}

func (r PublishResult) appendMsgpack(b []byte) []byte { return appendPublishResult(b, &r) }

func (r *PublishResult) decodeMsgpack(d *decoder) {
	extra := d.header(publishResultFields)
	r.Status = PublishStatus(d.u8())
	r.Queues = d.i32()
	r.Code = Code(d.u16())
	r.Message = d.str()
	d.skip(extra)
}

// Confirm answers a Publish (TConfirm): its messages are on disk on a
// majority and applied.
type Confirm struct {
	// Results holds one result per message of the Publish, in order.
	Results []PublishResult
	// Term is the Raft term of the log entry that holds the batch.
	Term uint64
	// Index is the Raft index of that entry.
	Index uint64
}

const confirmFields = 3

func (m Confirm) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, confirmFields)
	b = appendSlice(b, m.Results, appendPublishResult)
	b = appendUint(b, m.Term)
	return appendUint(b, m.Index)
}

func (m *Confirm) decodeMsgpack(d *decoder) {
	extra := d.header(confirmFields)
	m.Results = decodeSlice(d, 1+publishResultFields, (*PublishResult).decodeMsgpack)
	m.Term = d.u64()
	m.Index = d.u64()
	d.skip(extra)
}

// Death is one entry of a message's dead-letter history, one per queue and
// reason (as RabbitMQ's x-death).
type Death struct {
	// Queue is the queue it was dead-lettered from.
	Queue string
	// Reason is "rejected", "expired", "maxlen" or "delivery-limit".
	Reason string
	// Count is how many times it died in this queue for this reason.
	Count int64
	// Time is when it last did, in Unix nanoseconds.
	Time int64
	// Exchange is the exchange it had been published to.
	Exchange string
	// RoutingKey is the routing key it had been published with.
	RoutingKey string
}

const deathFields = 6

func appendDeath(b []byte, m *Death) []byte {
	b = appendArrayLen(b, deathFields)
	b = appendString(b, m.Queue)
	b = appendString(b, m.Reason)
	b = appendInt(b, m.Count)
	b = appendInt(b, m.Time)
	b = appendString(b, m.Exchange)
	return appendString(b, m.RoutingKey)
}

func (m Death) appendMsgpack(b []byte) []byte { return appendDeath(b, &m) }

func (m *Death) decodeMsgpack(d *decoder) {
	extra := d.header(deathFields)
	m.Queue = d.str()
	m.Reason = d.str()
	m.Count = d.i64()
	m.Time = d.i64()
	m.Exchange = d.str()
	m.RoutingKey = d.str()
	d.skip(extra)
}

// Delivery is one message handed to a consumer.
type Delivery struct {
	// Queue is the queue it comes from.
	Queue string
	// Seq is its sequence number in the queue; Ack and Nack name it by Queue
	// and Seq, which stay valid across a leader change.
	Seq uint64
	// ID is the message ID given at publish.
	ID string
	// Exchange is the exchange it was published to.
	Exchange string
	// RoutingKey is the routing key it was published with.
	RoutingKey string
	// Headers are its application headers.
	Headers map[string]string
	// Body is its content.
	Body []byte
	// PublishedAt is when the leader accepted it, in Unix nanoseconds.
	PublishedAt int64
	// Redelivered reports that it was delivered before and not settled.
	Redelivered bool
	// DeliveryCount is how many times it went back to the queue unsettled
	// (nacked with requeue, or held by a consumer that went away).
	DeliveryCount uint32
	// Deaths is its dead-letter history.
	Deaths []Death
}

const deliveryFields = 11

func appendDelivery(b []byte, m *Delivery) []byte {
	b = appendArrayLen(b, deliveryFields)
	b = appendString(b, m.Queue)
	b = appendUint(b, m.Seq)
	b = appendString(b, m.ID)
	b = appendString(b, m.Exchange)
	b = appendString(b, m.RoutingKey)
	b = appendStringMap(b, m.Headers)
	b = appendBytes(b, m.Body)
	b = appendInt(b, m.PublishedAt)
	b = appendBool(b, m.Redelivered)
	b = appendUint(b, uint64(m.DeliveryCount))
	return appendSlice(b, m.Deaths, appendDeath)
}

func (m Delivery) appendMsgpack(b []byte) []byte { return appendDelivery(b, &m) }

func (m *Delivery) decodeMsgpack(d *decoder) { m.decodeAfter(nil, d) }

// decodeAfter decodes into m. prev, when not nil, is the previous delivery of
// the batch, whose queue, exchange and routing key m shares when they are
// equal.
func (m *Delivery) decodeAfter(prev *Delivery, d *decoder) {
	if prev == nil {
		prev = &Delivery{}
	}
	extra := d.header(deliveryFields)
	m.Queue = d.strLike(prev.Queue)
	m.Seq = d.u64()
	m.ID = d.str()
	m.Exchange = d.strLike(prev.Exchange)
	m.RoutingKey = d.strLike(prev.RoutingKey)
	m.Headers = d.stringMap()
	m.Body = d.bytes()
	m.PublishedAt = d.i64()
	m.Redelivered = d.bool()
	m.DeliveryCount = d.u32()
	m.Deaths = decodeSlice(d, 1+deathFields, (*Death).decodeMsgpack)
	d.skip(extra)
}

// Deliver pushes a batch of deliveries to one consumer (TDeliver, request ID
// 0).
type Deliver struct {
	// ConsumerID is the consumer they are for.
	ConsumerID uint64
	// Deliveries are in queue order.
	Deliveries []Delivery
}

const deliverFields = 2

func (m Deliver) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, deliverFields)
	b = appendUint(b, m.ConsumerID)
	return appendSlice(b, m.Deliveries, appendDelivery)
}

func (m *Deliver) decodeMsgpack(d *decoder) {
	extra := d.header(deliverFields)
	m.ConsumerID = d.u64()
	m.Deliveries = decodeBatch(d, 1+deliveryFields, (*Delivery).decodeAfter)
	d.skip(extra)
}

// Ack settles deliveries of one queue (TAck): they are removed for good.
type Ack struct {
	// Queue is the queue the deliveries come from.
	Queue string
	// Seqs are their sequence numbers.
	Seqs []uint64
}

const ackFields = 2

func (m Ack) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, ackFields)
	b = appendString(b, m.Queue)
	return appendUints(b, m.Seqs)
}

func (m *Ack) decodeMsgpack(d *decoder) {
	extra := d.header(ackFields)
	m.Queue = d.str()
	m.Seqs = d.uints()
	d.skip(extra)
}

// Nack rejects deliveries of one queue (TNack): with Requeue they are ready
// again (marked redelivered), without it they are dead-lettered or dropped.
type Nack struct {
	// Queue is the queue the deliveries come from.
	Queue string
	// Seqs are their sequence numbers.
	Seqs []uint64
	// Requeue puts them back instead of rejecting them for good.
	Requeue bool
}

const nackFields = 3

func (m Nack) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, nackFields)
	b = appendString(b, m.Queue)
	b = appendUints(b, m.Seqs)
	return appendBool(b, m.Requeue)
}

func (m *Nack) decodeMsgpack(d *decoder) {
	extra := d.header(nackFields)
	m.Queue = d.str()
	m.Seqs = d.uints()
	m.Requeue = d.bool()
	d.skip(extra)
}
