package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/raftmq/raftmq/exchange"
	"github.com/raftmq/raftmq/queue"
)

// Op is the first byte of every command in the Raft log.
//
// Ops are append-only: a number, once used, is never renumbered or reused, so
// a log written by an older binary replays the same way on a newer one.
type Op uint8

// The commands. Append new ops at the end; never renumber.
const (
	OpDeclareExchange Op = 1
	OpDeleteExchange  Op = 2
	OpDeclareQueue    Op = 3
	OpDeleteQueue     Op = 4
	OpPurgeQueue      Op = 5
	OpBind            Op = 6
	OpUnbind          Op = 7
	OpPublish         Op = 8
	OpSettle          Op = 9
	OpReturn          Op = 10
	OpTick            Op = 11
	OpConfigure       Op = 12
)

var opNames = map[Op]string{
	OpDeclareExchange: "declare-exchange",
	OpDeleteExchange:  "delete-exchange",
	OpDeclareQueue:    "declare-queue",
	OpDeleteQueue:     "delete-queue",
	OpPurgeQueue:      "purge-queue",
	OpBind:            "bind",
	OpUnbind:          "unbind",
	OpPublish:         "publish",
	OpSettle:          "settle",
	OpReturn:          "return",
	OpTick:            "tick",
	OpConfigure:       "configure",
}

// String returns the op's name.
func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// DeclareExchange creates an exchange, or succeeds if it exists with the same
// arguments.
type DeclareExchange struct {
	Exchange exchange.Exchange `msgpack:"x"`
}

// DeleteExchange removes an exchange and every binding from or to it.
type DeleteExchange struct {
	Name string `msgpack:"n"`
}

// DeclareQueue creates a queue, or succeeds if it exists with the same
// arguments.
type DeclareQueue struct {
	Name string     `msgpack:"n"`
	Args queue.Args `msgpack:"a"`
}

// DeleteQueue removes a queue, its messages and every binding to it.
type DeleteQueue struct {
	Name string `msgpack:"n"`
}

// PurgeQueue removes every message of a queue.
type PurgeQueue struct {
	Name string `msgpack:"n"`
}

// Bind adds a binding (OpBind) or removes it (OpUnbind).
type Bind struct {
	Binding exchange.Binding `msgpack:"b"`
}

// PublishMessage is one message of a Publish batch.
type PublishMessage struct {
	ID         string
	Exchange   string
	RoutingKey string
	Headers    map[string]string
	Body       []byte
	// TTL is the message's own time to live in milliseconds; 0 means none.
	TTL int64
	// Mandatory asks for an Unroutable result rather than Dropped when the
	// message reaches no queue.
	Mandatory bool

	// bodyOff is where Body starts in the command bytes when the state
	// machine's own decoder left Body pointing into them (decode with
	// alias); 0 when Body is a copy.
	bodyOff int
}

// Publish is a batch of messages, with the leader's time in Unix nanoseconds.
type Publish struct {
	Time     int64
	Messages []PublishMessage
}

// QueueSeqs names messages of one queue by their sequence numbers.
type QueueSeqs struct {
	Queue string   `msgpack:"q"`
	Seqs  []uint64 `msgpack:"s"`
}

// Settle acknowledges messages: they leave their queues for good.
type Settle struct {
	Entries []QueueSeqs `msgpack:"e"`
}

// Return gives messages back (nack or reject): with Requeue they stay in place
// marked redelivered (or are dead-lettered past the delivery limit); without
// it they are dead-lettered as rejected, or dropped.
type Return struct {
	Time    int64       `msgpack:"t"`
	Requeue bool        `msgpack:"r"`
	Entries []QueueSeqs `msgpack:"e"`
}

// Tick carries the leader's time: expire messages past their TTL and forget
// message IDs older than the de-duplication window.
type Tick struct {
	Time int64 `msgpack:"t"`
}

// Configure sets cluster-wide settings of the state machine.
type Configure struct {
	// DedupWindow is the de-duplication window in nanoseconds; 0 keeps the
	// current one.
	DedupWindow int64 `msgpack:"w"`
}

// Encode returns the command bytes for op and its body. Publish is encoded by
// hand (it is the hot path); other commands use msgpack's struct encoding with
// sorted map keys, so the bytes are deterministic.
func Encode(op Op, body any) ([]byte, error) {
	var buf bytes.Buffer
	if p, ok := body.(*Publish); ok {
		buf.Grow(publishSizeHint(p))
	}
	buf.WriteByte(byte(op))
	enc := msgpack.GetEncoder()
	defer msgpack.PutEncoder(enc)
	enc.Reset(&buf)
	enc.SetSortMapKeys(true)
	var err error
	if p, ok := body.(*Publish); ok && op == OpPublish {
		err = encodePublish(enc, p)
	} else {
		err = enc.Encode(body)
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", op, err)
	}
	return buf.Bytes(), nil
}

// publishSizeHint estimates a publish command's encoded size, so that
// encoding a large batch allocates its buffer once.
func publishSizeHint(p *Publish) int {
	n := 16
	for i := range p.Messages {
		m := &p.Messages[i]
		n += 24 + len(m.ID) + len(m.Exchange) + len(m.RoutingKey) + len(m.Body)
		for k, v := range m.Headers {
			n += 4 + len(k) + len(v)
		}
	}
	return n
}

// MustEncode is Encode for commands built by the program itself, whose
// encoding cannot fail; it panics on error.
func MustEncode(op Op, body any) []byte {
	b, err := Encode(op, body)
	if err != nil {
		panic(err)
	}
	return b
}

// Decode parses command bytes into the op and a pointer to its body type. It
// never panics: malformed input gives an error wrapping ErrMalformed.
func Decode(data []byte) (Op, any, error) {
	return decode(data, false)
}

// decode is Decode. With alias, the bodies of a Publish's messages are not
// copied: each points into data, at PublishMessage.bodyOff, and is valid only
// as long as data is.
func decode(data []byte, alias bool) (Op, any, error) {
	if len(data) == 0 {
		return 0, nil, fmt.Errorf("%w: empty command", ErrMalformed)
	}
	op := Op(data[0])
	var body any
	switch op {
	case OpDeclareExchange:
		body = new(DeclareExchange)
	case OpDeleteExchange:
		body = new(DeleteExchange)
	case OpDeclareQueue:
		body = new(DeclareQueue)
	case OpDeleteQueue:
		body = new(DeleteQueue)
	case OpPurgeQueue:
		body = new(PurgeQueue)
	case OpBind, OpUnbind:
		body = new(Bind)
	case OpPublish:
		p, err := decodePublish(data, 1, alias)
		if err != nil {
			return op, nil, fmt.Errorf("%w: %s: %w", ErrMalformed, op, err)
		}
		return op, p, nil
	case OpSettle:
		body = new(Settle)
	case OpReturn:
		body = new(Return)
	case OpTick:
		body = new(Tick)
	case OpConfigure:
		body = new(Configure)
	default:
		return op, nil, fmt.Errorf("%w: %s", ErrUnknownOp, op)
	}
	if err := safeUnmarshal(data[1:], body); err != nil {
		return op, nil, fmt.Errorf("%w: %s: %w", ErrMalformed, op, err)
	}
	return op, body, nil
}

// safeUnmarshal decodes msgpack and turns a decoder panic into an error, so
// no byte string can take a node down.
//
// It uses a decoder of its own rather than msgpack.Unmarshal's pooled ones: a
// pooled decoder keeps its read buffer, and each value that claims more bytes
// than the buffer holds (a string or an extension in an unknown field, say)
// grows it by append, doubling it, even though the bytes are not there; a
// few hundred such commands took a pooled buffer past a gigabyte (found by
// FuzzApply). A new decoder grows only up to the bytes there are.
func safeUnmarshal(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decoder panic: %v", r)
		}
	}()
	return msgpack.NewDecoder(bytes.NewReader(b)).Decode(v)
}

// Limits on what one publish may carry, checked while decoding so that a
// hostile length prefix cannot make the decoder allocate without bound.
const (
	maxBatch      = 1 << 16
	maxHeaders    = 1024
	maxStringSize = 64 << 10
)

var errTooLarge = errors.New("length out of range")

func encodePublish(enc *msgpack.Encoder, p *Publish) error {
	if err := enc.EncodeArrayLen(2); err != nil {
		return err
	}
	if err := enc.EncodeInt(p.Time); err != nil {
		return err
	}
	if err := enc.EncodeArrayLen(len(p.Messages)); err != nil {
		return err
	}
	for i := range p.Messages {
		m := &p.Messages[i]
		if err := enc.EncodeArrayLen(7); err != nil {
			return err
		}
		if err := enc.EncodeString(m.ID); err != nil {
			return err
		}
		if err := enc.EncodeString(m.Exchange); err != nil {
			return err
		}
		if err := enc.EncodeString(m.RoutingKey); err != nil {
			return err
		}
		if err := encodeStringMap(enc, m.Headers); err != nil {
			return err
		}
		if err := enc.EncodeBytes(m.Body); err != nil {
			return err
		}
		if err := enc.EncodeInt(m.TTL); err != nil {
			return err
		}
		if err := enc.EncodeBool(m.Mandatory); err != nil {
			return err
		}
	}
	return nil
}

// encodeStringMap writes a map with its keys in sorted order.
func encodeStringMap(enc *msgpack.Encoder, m map[string]string) error {
	if m == nil {
		return enc.EncodeNil()
	}
	keys := sortedKeys(m)
	if err := enc.EncodeMapLen(len(keys)); err != nil {
		return err
	}
	for _, k := range keys {
		if err := enc.EncodeString(k); err != nil {
			return err
		}
		if err := enc.EncodeString(m[k]); err != nil {
			return err
		}
	}
	return nil
}

// decodePublish decodes the Publish in data[start:]. With alias, each body
// points into data (see decode).
func decodePublish(data []byte, start int, alias bool) (p *Publish, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("decoder panic: %v", r)
		}
	}()
	b := data[start:]
	rd := bytes.NewReader(b)
	dec := msgpack.NewDecoder(rd) // not a pooled one: see safeUnmarshal
	n, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, err
	}
	if n != 2 {
		return nil, fmt.Errorf("publish: %d fields, want 2", n)
	}
	p = new(Publish)
	if p.Time, err = dec.DecodeInt64(); err != nil {
		return nil, fmt.Errorf("time: %w", err)
	}
	count, err := dec.DecodeArrayLen()
	if err != nil {
		return nil, fmt.Errorf("messages: %w", err)
	}
	// Each message takes at least 8 bytes, which bounds a lying length prefix.
	if count < 0 || count > maxBatch || count > len(b)/8 {
		return nil, fmt.Errorf("messages: %d: %w", count, errTooLarge)
	}
	p.Messages = make([]PublishMessage, count)
	for i := range p.Messages {
		m := &p.Messages[i]
		fields, err := dec.DecodeArrayLen()
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		if fields != 7 {
			return nil, fmt.Errorf("message %d: %d fields, want 7", i, fields)
		}
		if m.ID, err = decodeString(dec); err != nil {
			return nil, fmt.Errorf("message %d id: %w", i, err)
		}
		if m.Exchange, err = decodeString(dec); err != nil {
			return nil, fmt.Errorf("message %d exchange: %w", i, err)
		}
		if m.RoutingKey, err = decodeString(dec); err != nil {
			return nil, fmt.Errorf("message %d routing key: %w", i, err)
		}
		if m.Headers, err = decodeStringMap(dec, len(b)); err != nil {
			return nil, fmt.Errorf("message %d headers: %w", i, err)
		}
		if alias {
			m.Body, m.bodyOff, err = aliasBytes(dec, rd, data)
		} else {
			m.Body, err = dec.DecodeBytes()
		}
		if err != nil {
			return nil, fmt.Errorf("message %d body: %w", i, err)
		}
		if m.TTL, err = dec.DecodeInt64(); err != nil {
			return nil, fmt.Errorf("message %d ttl: %w", i, err)
		}
		if m.Mandatory, err = dec.DecodeBool(); err != nil {
			return nil, fmt.Errorf("message %d mandatory: %w", i, err)
		}
	}
	return p, nil
}

// aliasBytes reads a msgpack bin (or nil) from dec, which reads from rd, the
// tail of data, and returns it as a slice of data with its offset there
// instead of a copy. A nil bin is nil at offset 0.
func aliasBytes(dec *msgpack.Decoder, rd *bytes.Reader, data []byte) ([]byte, int, error) {
	n, err := dec.DecodeBytesLen()
	if err != nil || n == -1 { // -1: msgpack nil
		return nil, 0, err
	}
	if n < 0 { // a 32-bit length past MaxInt on a 32-bit platform
		return nil, 0, fmt.Errorf("bin of %d bytes: %w", n, errTooLarge)
	}
	// The decoder reads rd byte by byte (bytes.Reader is an io.ByteScanner,
	// so it buffers nothing): the bin's bytes start at rd's position.
	off := len(data) - rd.Len()
	if n > rd.Len() {
		return nil, 0, io.ErrUnexpectedEOF
	}
	if _, err := rd.Seek(int64(n), io.SeekCurrent); err != nil {
		return nil, 0, err
	}
	return data[off : off+n : off+n], off, nil
}

func decodeString(dec *msgpack.Decoder) (string, error) {
	s, err := dec.DecodeString()
	if err != nil {
		return "", err
	}
	if len(s) > maxStringSize {
		return "", fmt.Errorf("string of %d bytes: %w", len(s), errTooLarge)
	}
	return s, nil
}

func decodeStringMap(dec *msgpack.Decoder, limit int) (map[string]string, error) {
	n, err := dec.DecodeMapLen()
	if err != nil {
		return nil, err
	}
	if n == -1 {
		return nil, nil
	}
	if n < 0 || n > maxHeaders || n > limit/2 {
		return nil, fmt.Errorf("%d entries: %w", n, errTooLarge)
	}
	m := make(map[string]string, n)
	for range n {
		k, err := decodeString(dec)
		if err != nil {
			return nil, err
		}
		v, err := decodeString(dec)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}
