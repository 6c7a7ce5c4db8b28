package wire

// Encoders and decoders of the payloads in payloads.go (and Error): the
// appendMsgpack and decodeMsgpack methods. Each struct is a msgpack array of
// its fields in declaration order; a decoder requires at least the fields
// listed in its ...Fields constant and skips any it does not know. A struct
// that is a field or a list element of another also has an appendX function
// taking a pointer, so that the outer encoder does not copy it. Types with
// the same fields share one encoding.

// nameFields is the field count of the payloads made of one string: a name.
const nameFields = 1

// appendName encodes a payload whose one field is the string name.
func appendName(b []byte, name string) []byte {
	return appendString(appendArrayLen(b, nameFields), name)
}

// decodeName decodes a payload whose one field is a string, and returns it.
func decodeName(d *decoder) string {
	extra := d.header(nameFields)
	name := d.str()
	d.skip(extra)
	return name
}

// listFields is the field count of the payloads made of one list.
const listFields = 1

// appendList encodes a payload whose one field is the list s.
func appendList[T any](b []byte, s []T, each func([]byte, *T) []byte) []byte {
	return appendSlice(appendArrayLen(b, listFields), s, each)
}

// decodeList decodes a payload whose one field is a list (see decodeSlice),
// and returns it.
func decodeList[T any](d *decoder, minElemSize int, each func(*T, *decoder)) []T {
	extra := d.header(listFields)
	s := decodeSlice(d, minElemSize, each)
	d.skip(extra)
	return s
}

const helloFields = 2

func (m Hello) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, helloFields)
	b = appendUint(b, uint64(m.Version))
	return appendString(b, m.Client)
}

func (m *Hello) decodeMsgpack(d *decoder) {
	extra := d.header(helloFields)
	m.Version = d.u16()
	m.Client = d.str()
	d.skip(extra)
}

const helloOKFields = 4

func (m HelloOK) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, helloOKFields)
	b = appendUint(b, uint64(m.Version))
	b = appendString(b, m.NodeID)
	b = appendBool(b, m.Leader)
	return appendString(b, m.LeaderAddr)
}

func (m *HelloOK) decodeMsgpack(d *decoder) {
	extra := d.header(helloOKFields)
	m.Version = d.u16()
	m.NodeID = d.str()
	m.Leader = d.bool()
	m.LeaderAddr = d.str()
	d.skip(extra)
}

const errorFields = 3

func (e Error) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, errorFields)
	b = appendUint(b, uint64(e.Code))
	b = appendString(b, e.Message)
	return appendString(b, e.LeaderAddr)
}

func (e *Error) decodeMsgpack(d *decoder) {
	extra := d.header(errorFields)
	e.Code = Code(d.u16())
	e.Message = d.str()
	e.LeaderAddr = d.str()
	d.skip(extra)
}

const okFields = 1

func (m OK) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, okFields)
	return appendInt(b, m.Count)
}

func (m *OK) decodeMsgpack(d *decoder) {
	extra := d.header(okFields)
	m.Count = d.i64()
	d.skip(extra)
}

const declareExchangeFields = 3

func (m DeclareExchange) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, declareExchangeFields)
	b = appendString(b, m.Name)
	b = appendString(b, m.Kind)
	return appendString(b, m.AlternateExchange)
}

func (m *DeclareExchange) decodeMsgpack(d *decoder) {
	extra := d.header(declareExchangeFields)
	m.Name = d.str()
	m.Kind = d.str()
	m.AlternateExchange = d.str()
	d.skip(extra)
}

func (m DeleteExchange) appendMsgpack(b []byte) []byte { return appendName(b, m.Name) }

func (m *DeleteExchange) decodeMsgpack(d *decoder) { m.Name = decodeName(d) }

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

func (m QueueArgs) appendMsgpack(b []byte) []byte { return appendQueueArgs(b, &m) }

func (m *QueueArgs) decodeMsgpack(d *decoder) {
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

const declareQueueFields = 2

func (m DeclareQueue) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, declareQueueFields)
	b = appendString(b, m.Name)
	return appendQueueArgs(b, &m.Args)
}

func (m *DeclareQueue) decodeMsgpack(d *decoder) {
	extra := d.header(declareQueueFields)
	m.Name = d.str()
	m.Args.decodeMsgpack(d)
	d.skip(extra)
}

func (m DeleteQueue) appendMsgpack(b []byte) []byte { return appendName(b, m.Name) }

func (m *DeleteQueue) decodeMsgpack(d *decoder) { m.Name = decodeName(d) }

func (m PurgeQueue) appendMsgpack(b []byte) []byte { return appendName(b, m.Name) }

func (m *PurgeQueue) decodeMsgpack(d *decoder) { m.Name = decodeName(d) }

const bindFields = 5

func (m Bind) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, bindFields)
	b = appendString(b, m.Source)
	b = appendString(b, m.Dest)
	b = appendBool(b, m.ToExchange)
	b = appendString(b, m.Key)
	return appendStringMap(b, m.Args)
}

func (m *Bind) decodeMsgpack(d *decoder) {
	extra := d.header(bindFields)
	m.Source = d.str()
	m.Dest = d.str()
	m.ToExchange = d.bool()
	m.Key = d.str()
	m.Args = d.stringMap()
	d.skip(extra)
}

const consumeFields = 3

func (m Consume) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, consumeFields)
	b = appendString(b, m.Queue)
	b = appendUint(b, uint64(m.Prefetch))
	return appendString(b, m.Tag)
}

func (m *Consume) decodeMsgpack(d *decoder) {
	extra := d.header(consumeFields)
	m.Queue = d.str()
	m.Prefetch = d.u32()
	m.Tag = d.str()
	d.skip(extra)
}

const consumeOKFields = 1

func (m ConsumeOK) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, consumeOKFields)
	return appendUint(b, m.ConsumerID)
}

func (m *ConsumeOK) decodeMsgpack(d *decoder) {
	extra := d.header(consumeOKFields)
	m.ConsumerID = d.u64()
	d.skip(extra)
}

// Cancel has ConsumeOK's fields, and its encoding.
func (m Cancel) appendMsgpack(b []byte) []byte { return ConsumeOK(m).appendMsgpack(b) }

func (m *Cancel) decodeMsgpack(d *decoder) { (*ConsumeOK)(m).decodeMsgpack(d) }

const cancelledFields = 2

func (m Cancelled) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, cancelledFields)
	b = appendUint(b, m.ConsumerID)
	return appendString(b, m.Reason)
}

func (m *Cancelled) decodeMsgpack(d *decoder) {
	extra := d.header(cancelledFields)
	m.ConsumerID = d.u64()
	m.Reason = d.str()
	d.skip(extra)
}

func (m InspectQueue) appendMsgpack(b []byte) []byte { return appendName(b, m.Name) }

func (m *InspectQueue) decodeMsgpack(d *decoder) { m.Name = decodeName(d) }

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

func (m QueueInfo) appendMsgpack(b []byte) []byte { return appendQueueInfo(b, &m) }

func (m *QueueInfo) decodeMsgpack(d *decoder) {
	extra := d.header(queueInfoFields)
	m.Name = d.str()
	m.Args.decodeMsgpack(d)
	m.Messages = d.i64()
	m.Ready = d.i64()
	m.Unacked = d.i64()
	m.Bytes = d.i64()
	m.Consumers = d.i32()
	d.skip(extra)
}

// ListExchanges has no fields (nor have ListQueues and Status).
func (ListExchanges) appendMsgpack(b []byte) []byte { return appendArrayLen(b, 0) }

func (*ListExchanges) decodeMsgpack(d *decoder) { d.skip(d.header(0)) }

// ExchangeInfo has DeclareExchange's fields, and its encoding.
const exchangeInfoFields = declareExchangeFields

func appendExchangeInfo(b []byte, m *ExchangeInfo) []byte {
	return DeclareExchange(*m).appendMsgpack(b)
}

func (m ExchangeInfo) appendMsgpack(b []byte) []byte { return DeclareExchange(m).appendMsgpack(b) }

func (m *ExchangeInfo) decodeMsgpack(d *decoder) { (*DeclareExchange)(m).decodeMsgpack(d) }

func (m ExchangeList) appendMsgpack(b []byte) []byte {
	return appendList(b, m.Exchanges, appendExchangeInfo)
}

func (m *ExchangeList) decodeMsgpack(d *decoder) {
	m.Exchanges = decodeList(d, 1+exchangeInfoFields, (*ExchangeInfo).decodeMsgpack)
}

func (ListQueues) appendMsgpack(b []byte) []byte { return appendArrayLen(b, 0) }

func (*ListQueues) decodeMsgpack(d *decoder) { d.skip(d.header(0)) }

func (m QueueList) appendMsgpack(b []byte) []byte {
	return appendList(b, m.Queues, appendQueueInfo)
}

func (m *QueueList) decodeMsgpack(d *decoder) {
	m.Queues = decodeList(d, 1+queueInfoFields, (*QueueInfo).decodeMsgpack)
}

func (m ListBindings) appendMsgpack(b []byte) []byte { return appendName(b, m.Exchange) }

func (m *ListBindings) decodeMsgpack(d *decoder) { m.Exchange = decodeName(d) }

// BindingInfo has Bind's fields, and its encoding.
const bindingInfoFields = bindFields

func appendBindingInfo(b []byte, m *BindingInfo) []byte { return Bind(*m).appendMsgpack(b) }

func (m BindingInfo) appendMsgpack(b []byte) []byte { return Bind(m).appendMsgpack(b) }

func (m *BindingInfo) decodeMsgpack(d *decoder) { (*Bind)(m).decodeMsgpack(d) }

func (m BindingList) appendMsgpack(b []byte) []byte {
	return appendList(b, m.Bindings, appendBindingInfo)
}

func (m *BindingList) decodeMsgpack(d *decoder) {
	m.Bindings = decodeList(d, 1+bindingInfoFields, (*BindingInfo).decodeMsgpack)
}

func (Status) appendMsgpack(b []byte) []byte { return appendArrayLen(b, 0) }

func (*Status) decodeMsgpack(d *decoder) { d.skip(d.header(0)) }

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

func (m Member) appendMsgpack(b []byte) []byte { return appendMember(b, &m) }

func (m *Member) decodeMsgpack(d *decoder) {
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

const statusInfoFields = 9

func (m StatusInfo) appendMsgpack(b []byte) []byte {
	b = appendArrayLen(b, statusInfoFields)
	b = appendString(b, m.NodeID)
	b = appendString(b, m.State)
	b = appendString(b, m.LeaderID)
	b = appendString(b, m.LeaderAddr)
	b = appendUint(b, m.Term)
	b = appendUint(b, m.CommitIndex)
	b = appendUint(b, m.AppliedIndex)
	b = appendUint(b, m.LastLogIndex)
	return appendSlice(b, m.Members, appendMember)
}

func (m *StatusInfo) decodeMsgpack(d *decoder) {
	extra := d.header(statusInfoFields)
	m.NodeID = d.str()
	m.State = d.str()
	m.LeaderID = d.str()
	m.LeaderAddr = d.str()
	m.Term = d.u64()
	m.CommitIndex = d.u64()
	m.AppliedIndex = d.u64()
	m.LastLogIndex = d.u64()
	m.Members = decodeSlice(d, 1+memberFields, (*Member).decodeMsgpack)
	d.skip(extra)
}

func (m RemoveNode) appendMsgpack(b []byte) []byte { return appendName(b, m.ID) }

func (m *RemoveNode) decodeMsgpack(d *decoder) { m.ID = decodeName(d) }
