package wire

import (
	"sync"

	"github.com/vmihailenco/msgpack/v5"
)

// The msgpack library hooks: every payload type implements
// msgpack.CustomEncoder and msgpack.CustomDecoder with its hand-written
// encoder and decoder, so that it can be embedded in values the library
// encodes. A new payload type needs its pair of methods here.

// libEncode writes v's hand-written encoding through a msgpack library
// Encoder (for the msgpack.CustomEncoder methods).
func libEncode(e *msgpack.Encoder, v appender) error {
	bp := scratch.Get().(*[]byte)
	b := v.appendMsgpack((*bp)[:0])
	_, err := e.Writer().Write(b)
	if cap(b) <= keepBufferSize {
		*bp = b
		scratch.Put(bp)
	}
	return err
}

// libDecode reads one value from a msgpack library Decoder and decodes it
// with v's hand-written decoder (for the msgpack.CustomDecoder methods).
func libDecode(d *msgpack.Decoder, v decodable) error {
	raw, err := d.DecodeRaw()
	if err != nil {
		return err
	}
	dd := decoder{b: raw}
	v.decodeMsgpack(&dd)
	return dd.err
}

var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Hello) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Hello) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m HelloOK) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *HelloOK) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m OK) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *OK) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m DeclareExchange) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *DeclareExchange) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m DeleteExchange) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *DeleteExchange) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m QueueArgs) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *QueueArgs) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m DeclareQueue) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *DeclareQueue) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m DeleteQueue) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *DeleteQueue) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m PurgeQueue) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *PurgeQueue) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Bind) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Bind) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Consume) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Consume) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ConsumeOK) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ConsumeOK) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Cancel) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Cancel) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Cancelled) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Cancelled) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m InspectQueue) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *InspectQueue) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m QueueInfo) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *QueueInfo) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ListExchanges) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ListExchanges) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ExchangeInfo) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ExchangeInfo) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ExchangeList) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ExchangeList) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ListQueues) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ListQueues) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m QueueList) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *QueueList) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ListBindings) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ListBindings) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m BindingInfo) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *BindingInfo) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m BindingList) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *BindingList) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Status) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Status) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Member) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Member) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m StatusInfo) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *StatusInfo) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m RemoveNode) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *RemoveNode) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m PublishMessage) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *PublishMessage) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Publish) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Publish) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (r PublishResult) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, r) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (r *PublishResult) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, r) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Confirm) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Confirm) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Death) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Death) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Delivery) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Delivery) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Deliver) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Deliver) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Ack) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Ack) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Nack) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Nack) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (e Error) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, e) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (e *Error) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, e) }
