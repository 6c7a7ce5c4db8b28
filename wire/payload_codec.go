package wire

import "github.com/vmihailenco/msgpack/v5"

// Encoders and decoders of the payloads in payloads.go (and Error). Each
// struct is a msgpack array of its fields in declaration order; a decoder
// requires at least the fields listed in its ...Fields constant and skips any
// it does not know.

const helloFields = 2

func appendHello(b []byte, m *Hello) []byte {
	b = appendArrayLen(b, helloFields)
	b = appendUint(b, uint64(m.Version))
	return appendString(b, m.Client)
}

func decodeHello(d *decoder, m *Hello) {
	extra := d.header(helloFields)
	m.Version = d.u16()
	m.Client = d.str()
	d.skip(extra)
}

func (m Hello) appendMsgpack(b []byte) []byte { return appendHello(b, &m) }

func (m *Hello) decodeMsgpack(d *decoder) { decodeHello(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Hello) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Hello) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const helloOKFields = 4

func appendHelloOK(b []byte, m *HelloOK) []byte {
	b = appendArrayLen(b, helloOKFields)
	b = appendUint(b, uint64(m.Version))
	b = appendString(b, m.NodeID)
	b = appendBool(b, m.Leader)
	return appendString(b, m.LeaderAddr)
}

func decodeHelloOK(d *decoder, m *HelloOK) {
	extra := d.header(helloOKFields)
	m.Version = d.u16()
	m.NodeID = d.str()
	m.Leader = d.bool()
	m.LeaderAddr = d.str()
	d.skip(extra)
}

func (m HelloOK) appendMsgpack(b []byte) []byte { return appendHelloOK(b, &m) }

func (m *HelloOK) decodeMsgpack(d *decoder) { decodeHelloOK(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m HelloOK) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *HelloOK) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const errorFields = 3

func appendError(b []byte, m *Error) []byte {
	b = appendArrayLen(b, errorFields)
	b = appendUint(b, uint64(m.Code))
	b = appendString(b, m.Message)
	return appendString(b, m.LeaderAddr)
}

func decodeError(d *decoder, m *Error) {
	extra := d.header(errorFields)
	m.Code = Code(d.u16())
	m.Message = d.str()
	m.LeaderAddr = d.str()
	d.skip(extra)
}

func (e Error) appendMsgpack(b []byte) []byte { return appendError(b, &e) }

func (e *Error) decodeMsgpack(d *decoder) { decodeError(d, e) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (e Error) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, e) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (e *Error) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, e) }

const oKFields = 1

func appendOK(b []byte, m *OK) []byte {
	b = appendArrayLen(b, oKFields)
	return appendInt(b, m.Count)
}

func decodeOK(d *decoder, m *OK) {
	extra := d.header(oKFields)
	m.Count = d.i64()
	d.skip(extra)
}

func (m OK) appendMsgpack(b []byte) []byte { return appendOK(b, &m) }

func (m *OK) decodeMsgpack(d *decoder) { decodeOK(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m OK) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *OK) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const declareExchangeFields = 3

func appendDeclareExchange(b []byte, m *DeclareExchange) []byte {
	b = appendArrayLen(b, declareExchangeFields)
	b = appendString(b, m.Name)
	b = appendString(b, m.Kind)
	return appendString(b, m.AlternateExchange)
}

func decodeDeclareExchange(d *decoder, m *DeclareExchange) {
	extra := d.header(declareExchangeFields)
	m.Name = d.str()
	m.Kind = d.str()
	m.AlternateExchange = d.str()
	d.skip(extra)
}

func (m DeclareExchange) appendMsgpack(b []byte) []byte { return appendDeclareExchange(b, &m) }

func (m *DeclareExchange) decodeMsgpack(d *decoder) { decodeDeclareExchange(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m DeclareExchange) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *DeclareExchange) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const deleteExchangeFields = 1

func appendDeleteExchange(b []byte, m *DeleteExchange) []byte {
	b = appendArrayLen(b, deleteExchangeFields)
	return appendString(b, m.Name)
}

func decodeDeleteExchange(d *decoder, m *DeleteExchange) {
	extra := d.header(deleteExchangeFields)
	m.Name = d.str()
	d.skip(extra)
}

func (m DeleteExchange) appendMsgpack(b []byte) []byte { return appendDeleteExchange(b, &m) }

func (m *DeleteExchange) decodeMsgpack(d *decoder) { decodeDeleteExchange(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m DeleteExchange) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *DeleteExchange) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const queueArgsFields = 7

func appendQueueArgs(b []byte, m *QueueArgs) []byte {
	b = appendArrayLen(b, queueArgsFields)
	b = appendInt(b, m.MessageTTL)
	b = appendInt(b, m.MaxLength)
	b = appendInt(b, m.MaxLengthBytes)
	b = appendString(b, m.Overflow)
	b = appendString(b, m.DeadLetterExchange)
	b = appendString(b, m.DeadLetterRoutingKey)
	return appendInt(b, m.DeliveryLimit)
}

func decodeQueueArgs(d *decoder, m *QueueArgs) {
	extra := d.header(queueArgsFields)
	m.MessageTTL = d.i64()
	m.MaxLength = d.i64()
	m.MaxLengthBytes = d.i64()
	m.Overflow = d.str()
	m.DeadLetterExchange = d.str()
	m.DeadLetterRoutingKey = d.str()
	m.DeliveryLimit = d.i64()
	d.skip(extra)
}

func (m QueueArgs) appendMsgpack(b []byte) []byte { return appendQueueArgs(b, &m) }

func (m *QueueArgs) decodeMsgpack(d *decoder) { decodeQueueArgs(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m QueueArgs) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *QueueArgs) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const declareQueueFields = 2

func appendDeclareQueue(b []byte, m *DeclareQueue) []byte {
	b = appendArrayLen(b, declareQueueFields)
	b = appendString(b, m.Name)
	return appendQueueArgs(b, &m.Args)
}

func decodeDeclareQueue(d *decoder, m *DeclareQueue) {
	extra := d.header(declareQueueFields)
	m.Name = d.str()
	decodeQueueArgs(d, &m.Args)
	d.skip(extra)
}

func (m DeclareQueue) appendMsgpack(b []byte) []byte { return appendDeclareQueue(b, &m) }

func (m *DeclareQueue) decodeMsgpack(d *decoder) { decodeDeclareQueue(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m DeclareQueue) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *DeclareQueue) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const deleteQueueFields = 1

func appendDeleteQueue(b []byte, m *DeleteQueue) []byte {
	b = appendArrayLen(b, deleteQueueFields)
	return appendString(b, m.Name)
}

func decodeDeleteQueue(d *decoder, m *DeleteQueue) {
	extra := d.header(deleteQueueFields)
	m.Name = d.str()
	d.skip(extra)
}

func (m DeleteQueue) appendMsgpack(b []byte) []byte { return appendDeleteQueue(b, &m) }

func (m *DeleteQueue) decodeMsgpack(d *decoder) { decodeDeleteQueue(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m DeleteQueue) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *DeleteQueue) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const purgeQueueFields = 1

func appendPurgeQueue(b []byte, m *PurgeQueue) []byte {
	b = appendArrayLen(b, purgeQueueFields)
	return appendString(b, m.Name)
}

func decodePurgeQueue(d *decoder, m *PurgeQueue) {
	extra := d.header(purgeQueueFields)
	m.Name = d.str()
	d.skip(extra)
}

func (m PurgeQueue) appendMsgpack(b []byte) []byte { return appendPurgeQueue(b, &m) }

func (m *PurgeQueue) decodeMsgpack(d *decoder) { decodePurgeQueue(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m PurgeQueue) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *PurgeQueue) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const bindFields = 5

func appendBind(b []byte, m *Bind) []byte {
	b = appendArrayLen(b, bindFields)
	b = appendString(b, m.Source)
	b = appendString(b, m.Dest)
	b = appendBool(b, m.ToExchange)
	b = appendString(b, m.Key)
	return appendStringMap(b, m.Args)
}

func decodeBind(d *decoder, m *Bind) {
	extra := d.header(bindFields)
	m.Source = d.str()
	m.Dest = d.str()
	m.ToExchange = d.bool()
	m.Key = d.str()
	m.Args = d.stringMap()
	d.skip(extra)
}

func (m Bind) appendMsgpack(b []byte) []byte { return appendBind(b, &m) }

func (m *Bind) decodeMsgpack(d *decoder) { decodeBind(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Bind) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Bind) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const consumeFields = 3

func appendConsume(b []byte, m *Consume) []byte {
	b = appendArrayLen(b, consumeFields)
	b = appendString(b, m.Queue)
	b = appendUint(b, uint64(m.Prefetch))
	return appendString(b, m.Tag)
}

func decodeConsume(d *decoder, m *Consume) {
	extra := d.header(consumeFields)
	m.Queue = d.str()
	m.Prefetch = d.u32()
	m.Tag = d.str()
	d.skip(extra)
}

func (m Consume) appendMsgpack(b []byte) []byte { return appendConsume(b, &m) }

func (m *Consume) decodeMsgpack(d *decoder) { decodeConsume(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Consume) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Consume) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const consumeOKFields = 1

func appendConsumeOK(b []byte, m *ConsumeOK) []byte {
	b = appendArrayLen(b, consumeOKFields)
	return appendUint(b, m.ConsumerID)
}

func decodeConsumeOK(d *decoder, m *ConsumeOK) {
	extra := d.header(consumeOKFields)
	m.ConsumerID = d.u64()
	d.skip(extra)
}

func (m ConsumeOK) appendMsgpack(b []byte) []byte { return appendConsumeOK(b, &m) }

func (m *ConsumeOK) decodeMsgpack(d *decoder) { decodeConsumeOK(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ConsumeOK) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ConsumeOK) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const cancelFields = 1

func appendCancel(b []byte, m *Cancel) []byte {
	b = appendArrayLen(b, cancelFields)
	return appendUint(b, m.ConsumerID)
}

func decodeCancel(d *decoder, m *Cancel) {
	extra := d.header(cancelFields)
	m.ConsumerID = d.u64()
	d.skip(extra)
}

func (m Cancel) appendMsgpack(b []byte) []byte { return appendCancel(b, &m) }

func (m *Cancel) decodeMsgpack(d *decoder) { decodeCancel(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Cancel) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Cancel) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const cancelledFields = 2

func appendCancelled(b []byte, m *Cancelled) []byte {
	b = appendArrayLen(b, cancelledFields)
	b = appendUint(b, m.ConsumerID)
	return appendString(b, m.Reason)
}

func decodeCancelled(d *decoder, m *Cancelled) {
	extra := d.header(cancelledFields)
	m.ConsumerID = d.u64()
	m.Reason = d.str()
	d.skip(extra)
}

func (m Cancelled) appendMsgpack(b []byte) []byte { return appendCancelled(b, &m) }

func (m *Cancelled) decodeMsgpack(d *decoder) { decodeCancelled(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Cancelled) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Cancelled) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const inspectQueueFields = 1

func appendInspectQueue(b []byte, m *InspectQueue) []byte {
	b = appendArrayLen(b, inspectQueueFields)
	return appendString(b, m.Name)
}

func decodeInspectQueue(d *decoder, m *InspectQueue) {
	extra := d.header(inspectQueueFields)
	m.Name = d.str()
	d.skip(extra)
}

func (m InspectQueue) appendMsgpack(b []byte) []byte { return appendInspectQueue(b, &m) }

func (m *InspectQueue) decodeMsgpack(d *decoder) { decodeInspectQueue(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m InspectQueue) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *InspectQueue) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const queueInfoFields = 7

func appendQueueInfo(b []byte, m *QueueInfo) []byte {
	b = appendArrayLen(b, queueInfoFields)
	b = appendString(b, m.Name)
	b = appendQueueArgs(b, &m.Args)
	b = appendInt(b, m.Messages)
	b = appendInt(b, m.Ready)
	b = appendInt(b, m.Unacked)
	b = appendInt(b, m.Bytes)
	return appendInt(b, int64(m.Consumers))
}

func decodeQueueInfo(d *decoder, m *QueueInfo) {
	extra := d.header(queueInfoFields)
	m.Name = d.str()
	decodeQueueArgs(d, &m.Args)
	m.Messages = d.i64()
	m.Ready = d.i64()
	m.Unacked = d.i64()
	m.Bytes = d.i64()
	m.Consumers = d.i32()
	d.skip(extra)
}

func (m QueueInfo) appendMsgpack(b []byte) []byte { return appendQueueInfo(b, &m) }

func (m *QueueInfo) decodeMsgpack(d *decoder) { decodeQueueInfo(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m QueueInfo) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *QueueInfo) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const listExchangesFields = 0

func appendListExchanges(b []byte, _ *ListExchanges) []byte {
	return appendArrayLen(b, listExchangesFields)
}

func decodeListExchanges(d *decoder, _ *ListExchanges) {
	extra := d.header(listExchangesFields)
	d.skip(extra)
}

func (m ListExchanges) appendMsgpack(b []byte) []byte { return appendListExchanges(b, &m) }

func (m *ListExchanges) decodeMsgpack(d *decoder) { decodeListExchanges(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ListExchanges) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ListExchanges) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const exchangeInfoFields = 3

func appendExchangeInfo(b []byte, m *ExchangeInfo) []byte {
	b = appendArrayLen(b, exchangeInfoFields)
	b = appendString(b, m.Name)
	b = appendString(b, m.Kind)
	return appendString(b, m.AlternateExchange)
}

func decodeExchangeInfo(d *decoder, m *ExchangeInfo) {
	extra := d.header(exchangeInfoFields)
	m.Name = d.str()
	m.Kind = d.str()
	m.AlternateExchange = d.str()
	d.skip(extra)
}

func (m ExchangeInfo) appendMsgpack(b []byte) []byte { return appendExchangeInfo(b, &m) }

func (m *ExchangeInfo) decodeMsgpack(d *decoder) { decodeExchangeInfo(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ExchangeInfo) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ExchangeInfo) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const exchangeListFields = 1

func appendExchangeList(b []byte, m *ExchangeList) []byte {
	b = appendArrayLen(b, exchangeListFields)
	b = appendSliceLen(b, len(m.Exchanges), m.Exchanges == nil)
	for i := range m.Exchanges {
		b = appendExchangeInfo(b, &m.Exchanges[i])
	}
	return b
}

func decodeExchangeList(d *decoder, m *ExchangeList) {
	extra := d.header(exchangeListFields)
	if n, isNil := d.sliceLen(1 + exchangeInfoFields); isNil || d.err != nil {
		m.Exchanges = nil
	} else {
		m.Exchanges = make([]ExchangeInfo, n)
		for i := 0; i < n && d.err == nil; i++ {
			decodeExchangeInfo(d, &m.Exchanges[i])
		}
	}
	d.skip(extra)
}

func (m ExchangeList) appendMsgpack(b []byte) []byte { return appendExchangeList(b, &m) }

func (m *ExchangeList) decodeMsgpack(d *decoder) { decodeExchangeList(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ExchangeList) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ExchangeList) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const listQueuesFields = 0

func appendListQueues(b []byte, _ *ListQueues) []byte {
	return appendArrayLen(b, listQueuesFields)
}

func decodeListQueues(d *decoder, _ *ListQueues) {
	extra := d.header(listQueuesFields)
	d.skip(extra)
}

func (m ListQueues) appendMsgpack(b []byte) []byte { return appendListQueues(b, &m) }

func (m *ListQueues) decodeMsgpack(d *decoder) { decodeListQueues(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ListQueues) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ListQueues) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const queueListFields = 1

func appendQueueList(b []byte, m *QueueList) []byte {
	b = appendArrayLen(b, queueListFields)
	b = appendSliceLen(b, len(m.Queues), m.Queues == nil)
	for i := range m.Queues {
		b = appendQueueInfo(b, &m.Queues[i])
	}
	return b
}

func decodeQueueList(d *decoder, m *QueueList) {
	extra := d.header(queueListFields)
	if n, isNil := d.sliceLen(1 + queueInfoFields); isNil || d.err != nil {
		m.Queues = nil
	} else {
		m.Queues = make([]QueueInfo, n)
		for i := 0; i < n && d.err == nil; i++ {
			decodeQueueInfo(d, &m.Queues[i])
		}
	}
	d.skip(extra)
}

func (m QueueList) appendMsgpack(b []byte) []byte { return appendQueueList(b, &m) }

func (m *QueueList) decodeMsgpack(d *decoder) { decodeQueueList(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m QueueList) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *QueueList) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const listBindingsFields = 1

func appendListBindings(b []byte, m *ListBindings) []byte {
	b = appendArrayLen(b, listBindingsFields)
	return appendString(b, m.Exchange)
}

func decodeListBindings(d *decoder, m *ListBindings) {
	extra := d.header(listBindingsFields)
	m.Exchange = d.str()
	d.skip(extra)
}

func (m ListBindings) appendMsgpack(b []byte) []byte { return appendListBindings(b, &m) }

func (m *ListBindings) decodeMsgpack(d *decoder) { decodeListBindings(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m ListBindings) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *ListBindings) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const bindingInfoFields = 5

func appendBindingInfo(b []byte, m *BindingInfo) []byte {
	b = appendArrayLen(b, bindingInfoFields)
	b = appendString(b, m.Source)
	b = appendString(b, m.Dest)
	b = appendBool(b, m.ToExchange)
	b = appendString(b, m.Key)
	return appendStringMap(b, m.Args)
}

func decodeBindingInfo(d *decoder, m *BindingInfo) {
	extra := d.header(bindingInfoFields)
	m.Source = d.str()
	m.Dest = d.str()
	m.ToExchange = d.bool()
	m.Key = d.str()
	m.Args = d.stringMap()
	d.skip(extra)
}

func (m BindingInfo) appendMsgpack(b []byte) []byte { return appendBindingInfo(b, &m) }

func (m *BindingInfo) decodeMsgpack(d *decoder) { decodeBindingInfo(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m BindingInfo) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *BindingInfo) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const bindingListFields = 1

func appendBindingList(b []byte, m *BindingList) []byte {
	b = appendArrayLen(b, bindingListFields)
	b = appendSliceLen(b, len(m.Bindings), m.Bindings == nil)
	for i := range m.Bindings {
		b = appendBindingInfo(b, &m.Bindings[i])
	}
	return b
}

func decodeBindingList(d *decoder, m *BindingList) {
	extra := d.header(bindingListFields)
	if n, isNil := d.sliceLen(1 + bindingInfoFields); isNil || d.err != nil {
		m.Bindings = nil
	} else {
		m.Bindings = make([]BindingInfo, n)
		for i := 0; i < n && d.err == nil; i++ {
			decodeBindingInfo(d, &m.Bindings[i])
		}
	}
	d.skip(extra)
}

func (m BindingList) appendMsgpack(b []byte) []byte { return appendBindingList(b, &m) }

func (m *BindingList) decodeMsgpack(d *decoder) { decodeBindingList(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m BindingList) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *BindingList) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const statusFields = 0

func appendStatus(b []byte, _ *Status) []byte {
	return appendArrayLen(b, statusFields)
}

func decodeStatus(d *decoder, _ *Status) {
	extra := d.header(statusFields)
	d.skip(extra)
}

func (m Status) appendMsgpack(b []byte) []byte { return appendStatus(b, &m) }

func (m *Status) decodeMsgpack(d *decoder) { decodeStatus(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Status) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Status) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const memberFields = 8

func appendMember(b []byte, m *Member) []byte {
	b = appendArrayLen(b, memberFields)
	b = appendString(b, m.ID)
	b = appendString(b, m.RaftAddr)
	b = appendString(b, m.ClientAddr)
	b = appendString(b, m.HTTPAddr)
	b = appendBool(b, m.Voter)
	b = appendBool(b, m.Leader)
	b = appendBool(b, m.Alive)
	return appendString(b, m.Suffrage)
}

func decodeMember(d *decoder, m *Member) {
	extra := d.header(memberFields)
	m.ID = d.str()
	m.RaftAddr = d.str()
	m.ClientAddr = d.str()
	m.HTTPAddr = d.str()
	m.Voter = d.bool()
	m.Leader = d.bool()
	m.Alive = d.bool()
	m.Suffrage = d.str()
	d.skip(extra)
}

func (m Member) appendMsgpack(b []byte) []byte { return appendMember(b, &m) }

func (m *Member) decodeMsgpack(d *decoder) { decodeMember(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m Member) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *Member) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const statusInfoFields = 9

func appendStatusInfo(b []byte, m *StatusInfo) []byte {
	b = appendArrayLen(b, statusInfoFields)
	b = appendString(b, m.NodeID)
	b = appendString(b, m.State)
	b = appendString(b, m.LeaderID)
	b = appendString(b, m.LeaderAddr)
	b = appendUint(b, m.Term)
	b = appendUint(b, m.CommitIndex)
	b = appendUint(b, m.AppliedIndex)
	b = appendUint(b, m.LastLogIndex)
	b = appendSliceLen(b, len(m.Members), m.Members == nil)
	for i := range m.Members {
		b = appendMember(b, &m.Members[i])
	}
	return b
}

func decodeStatusInfo(d *decoder, m *StatusInfo) {
	extra := d.header(statusInfoFields)
	m.NodeID = d.str()
	m.State = d.str()
	m.LeaderID = d.str()
	m.LeaderAddr = d.str()
	m.Term = d.u64()
	m.CommitIndex = d.u64()
	m.AppliedIndex = d.u64()
	m.LastLogIndex = d.u64()
	if n, isNil := d.sliceLen(1 + memberFields); isNil || d.err != nil {
		m.Members = nil
	} else {
		m.Members = make([]Member, n)
		for i := 0; i < n && d.err == nil; i++ {
			decodeMember(d, &m.Members[i])
		}
	}
	d.skip(extra)
}

func (m StatusInfo) appendMsgpack(b []byte) []byte { return appendStatusInfo(b, &m) }

func (m *StatusInfo) decodeMsgpack(d *decoder) { decodeStatusInfo(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m StatusInfo) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *StatusInfo) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }

const removeNodeFields = 1

func appendRemoveNode(b []byte, m *RemoveNode) []byte {
	b = appendArrayLen(b, removeNodeFields)
	return appendString(b, m.ID)
}

func decodeRemoveNode(d *decoder, m *RemoveNode) {
	extra := d.header(removeNodeFields)
	m.ID = d.str()
	d.skip(extra)
}

func (m RemoveNode) appendMsgpack(b []byte) []byte { return appendRemoveNode(b, &m) }

func (m *RemoveNode) decodeMsgpack(d *decoder) { decodeRemoveNode(d, m) }

// EncodeMsgpack implements msgpack.CustomEncoder.
func (m RemoveNode) EncodeMsgpack(enc *msgpack.Encoder) error { return libEncode(enc, m) }

// DecodeMsgpack implements msgpack.CustomDecoder.
func (m *RemoveNode) DecodeMsgpack(dec *msgpack.Decoder) error { return libDecode(dec, m) }
