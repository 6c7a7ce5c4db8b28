package wire

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

var fullArgs = QueueArgs{
	MessageTTL: 60000, MaxLength: 1 << 40, MaxLengthBytes: 1 << 20, Overflow: "reject-publish",
	DeadLetterExchange: "dlx", DeadLetterRoutingKey: "dead", DeliveryLimit: 5,
}

func fullPublishMessage(i int) PublishMessage {
	return PublishMessage{
		ID: "msg-" + strings.Repeat("x", i%40), Exchange: "orders", RoutingKey: "order.created",
		Headers: map[string]string{"content-type": "application/json", "n": strings.Repeat("v", i)},
		Body:    bytes.Repeat([]byte{byte(i)}, i*37), TTL: int64(i) * 1000, Mandatory: i%2 == 0,
	}
}

func fullDelivery(i int) Delivery {
	return Delivery{
		Queue: "q", Seq: uint64(i) << 33, ID: "id", Exchange: "x", RoutingKey: "k",
		Headers: map[string]string{"a": "b"}, Body: []byte("hello"), PublishedAt: -1 << 40,
		Redelivered: true, DeliveryCount: math.MaxUint32,
		Deaths: []Death{{Queue: "q0", Reason: "expired", Count: 3, Time: 1 << 62, Exchange: "x0", RoutingKey: "k0"}, {}},
	}
}

// samples holds a value of every payload type: fully populated, zero, and
// with empty (non-nil) maps and slices where the type has any.
func samples() map[string]any {
	return map[string]any{
		"Hello":             &Hello{Version: Version, Client: "raftmq-go/1.0"},
		"Hello/zero":        &Hello{},
		"HelloOK":           &HelloOK{Version: Version, NodeID: "n1", Leader: true, LeaderAddr: "10.0.0.1:6570"},
		"Error":             &Error{Code: CodeNotLeader, Message: "not the leader", LeaderAddr: "10.0.0.2:6570"},
		"Error/zero":        &Error{},
		"OK":                &OK{Count: -5},
		"OK/big":            &OK{Count: math.MaxInt64},
		"OK/min":            &OK{Count: math.MinInt64},
		"DeclareExchange":   &DeclareExchange{Name: "orders", Kind: "topic", AlternateExchange: "ae"},
		"DeleteExchange":    &DeleteExchange{Name: "orders"},
		"DeclareQueue":      &DeclareQueue{Name: "q", Args: fullArgs},
		"DeclareQueue/zero": &DeclareQueue{},
		"DeleteQueue":       &DeleteQueue{Name: "q"},
		"PurgeQueue":        &PurgeQueue{Name: "q"},
		"Bind":              &Bind{Source: "x", Dest: "q", ToExchange: true, Key: "a.*", Args: map[string]string{"x-match": "all", "": ""}},
		"Bind/emptyArgs":    &Bind{Source: "x", Args: map[string]string{}},
		"Bind/nilArgs":      &Bind{Source: "x"},
		"Publish": &Publish{Messages: []PublishMessage{
			fullPublishMessage(0), fullPublishMessage(1), fullPublishMessage(200), fullPublishMessage(2000),
			{Exchange: "other", Headers: map[string]string{}, Body: []byte{}},
			{},
		}},
		"Publish/empty":  &Publish{Messages: []PublishMessage{}},
		"Publish/nil":    &Publish{},
		"Publish/many":   &Publish{Messages: make([]PublishMessage, 70000)},
		"PublishMessage": &PublishMessage{ID: "a", Body: bytes.Repeat([]byte("b"), 70000)},
		"PublishResult":  &PublishResult{Status: Rejected, Queues: -1, Code: CodeNotFound, Message: "no exchange"},
		"Confirm": &Confirm{Results: []PublishResult{
			{Status: Routed, Queues: 3}, {Status: Duplicate}, {Status: Unroutable}, {Status: Dropped},
			{Code: CodeNotFound, Message: "exchange \"x\" not found"},
		}, Term: 7, Index: math.MaxUint64},
		"Confirm/empty": &Confirm{Results: []PublishResult{}},
		"Confirm/nil":   &Confirm{},
		"Consume":       &Consume{Queue: "q", Prefetch: 256, Tag: "worker-1"},
		"ConsumeOK":     &ConsumeOK{ConsumerID: 1 << 63},
		"Death":         &Death{Queue: "q", Reason: "rejected", Count: 1, Time: 2, Exchange: "x", RoutingKey: "k"},
		"Delivery":      ptr(fullDelivery(1)),
		"Deliver": &Deliver{ConsumerID: 9, Deliveries: []Delivery{
			fullDelivery(1), fullDelivery(2),
			{Queue: "other", Headers: map[string]string{}, Body: []byte{}, Deaths: []Death{}},
			{},
		}},
		"Deliver/empty":      &Deliver{Deliveries: []Delivery{}},
		"Deliver/nil":        &Deliver{},
		"Ack":                &Ack{Queue: "q", Seqs: []uint64{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32, math.MaxUint32 + 1, math.MaxUint64}},
		"Ack/empty":          &Ack{Queue: "q", Seqs: []uint64{}},
		"Ack/nil":            &Ack{Queue: "q"},
		"Nack":               &Nack{Queue: "q", Seqs: []uint64{5, 6}, Requeue: true},
		"Nack/nil":           &Nack{},
		"Cancel":             &Cancel{ConsumerID: 3},
		"Cancelled":          &Cancelled{ConsumerID: 3, Reason: "queue deleted"},
		"InspectQueue":       &InspectQueue{Name: "q"},
		"QueueInfo":          &QueueInfo{Name: "q", Args: fullArgs, Messages: 10, Ready: 7, Unacked: 3, Bytes: 1 << 33, Consumers: math.MinInt32},
		"ListExchanges":      &ListExchanges{},
		"ExchangeList":       &ExchangeList{Exchanges: []ExchangeInfo{{Name: "a", Kind: "direct"}, {Name: "b", Kind: "topic", AlternateExchange: "a"}}},
		"ExchangeList/empty": &ExchangeList{Exchanges: []ExchangeInfo{}},
		"ExchangeList/nil":   &ExchangeList{},
		"ListQueues":         &ListQueues{},
		"QueueList":          &QueueList{Queues: []QueueInfo{{Name: "a"}, {Name: "b", Args: fullArgs, Consumers: 2}}},
		"QueueList/empty":    &QueueList{Queues: []QueueInfo{}},
		"ListBindings":       &ListBindings{Exchange: "x"},
		"BindingList": &BindingList{Bindings: []BindingInfo{
			{Source: "x", Dest: "q", Key: "k", Args: map[string]string{"a": "1"}},
			{Source: "x", Dest: "y", ToExchange: true, Args: map[string]string{}},
			{},
		}},
		"BindingList/nil": &BindingList{},
		"Status":          &Status{},
		"StatusInfo": &StatusInfo{NodeID: "n1", State: "leader", LeaderID: "n1", LeaderAddr: "a:1", Term: 4, CommitIndex: 100, AppliedIndex: 99, LastLogIndex: 101,
			Members: []Member{{ID: "n1", RaftAddr: "a:2", ClientAddr: "a:1", HTTPAddr: "a:3", Voter: true, Leader: true, Alive: true, Suffrage: "voter"}, {ID: "n2"}}},
		"StatusInfo/nil": &StatusInfo{NodeID: "n1"},
		"RemoveNode":     &RemoveNode{ID: "n3"},
	}
}

func ptr[T any](v T) *T { return &v }

// newLike returns a pointer to a fresh zero value of v's pointed-to type.
func newLike(v any) any { return reflect.New(reflect.TypeOf(v).Elem()).Interface() }

func TestRoundTripMarshal(t *testing.T) {
	for name, v := range samples() {
		t.Run(name, func(t *testing.T) {
			b, err := Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got := newLike(v)
			if err := Unmarshal(b, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, v) {
				t.Fatalf("round trip changed the value:\n got %+v\nwant %+v", got, v)
			}
		})
	}
}

func TestRoundTripFrame(t *testing.T) {
	for name, v := range samples() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			w := NewWriter(&buf)
			if err := w.WriteFrame(TPublish, 42, v); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			r := NewReader(&buf, 0)
			f, err := r.Next()
			if err != nil {
				t.Fatal(err)
			}
			if f.Type != TPublish || f.ReqID != 42 {
				t.Fatalf("header = %s/%d, want publish/42", f.Type, f.ReqID)
			}
			got := newLike(v)
			if err := Decode(f, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, v) {
				t.Fatalf("round trip changed the value:\n got %+v\nwant %+v", got, v)
			}
		})
	}
}

// TestRoundTripLibrary checks the msgpack.CustomEncoder/CustomDecoder
// methods: the payloads embed in values the msgpack library encodes.
func TestRoundTripLibrary(t *testing.T) {
	type envelope struct {
		Before string
		V      any
		After  int
	}
	for name, v := range samples() {
		t.Run(name, func(t *testing.T) {
			b, err := msgpack.Marshal(envelope{Before: "b", V: v, After: 7})
			if err != nil {
				t.Fatal(err)
			}
			got := envelope{V: newLike(v)}
			if err := msgpack.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Before != "b" || got.After != 7 || !reflect.DeepEqual(got.V, v) {
				t.Fatalf("library round trip changed the value:\n got %+v\nwant %+v", got.V, v)
			}
		})
	}
	// By value, in a typed field.
	type typed struct{ P Publish }
	in := typed{P: Publish{Messages: []PublishMessage{fullPublishMessage(3)}}}
	b, err := msgpack.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out typed
	if err := msgpack.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("typed field: got %+v, want %+v", out, in)
	}
}

// TestDecodeOtherEncodings feeds bytes the msgpack library produced with its
// own choices of integer and string formats.
func TestDecodeOtherEncodings(t *testing.T) {
	b := mustMarshal(t, []any{int64(1), "client", uint64(7), []any{1, 2, []any{}}, map[string]any{"x": 1.5}})
	var h Hello
	if err := Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	if h != (Hello{Version: 1, Client: "client"}) {
		t.Fatalf("got %+v", h)
	}
	// Integers in fixed widths, a string as bin.
	b = mustMarshal(t, []any{uint16(4), int8(-3), uint32(2), []byte("m")})
	var pr PublishResult
	if err := Unmarshal(b, &pr); err != nil {
		t.Fatal(err)
	}
	if want := (PublishResult{Status: Rejected, Queues: -3, Code: CodeNotFound, Message: "m"}); pr != want {
		t.Fatalf("got %+v, want %+v", pr, want)
	}
	// nil for strings.
	b = mustMarshal(t, []any{nil, nil, 1, int64(-1), nil, "k"})
	var death Death
	if err := Unmarshal(b, &death); err != nil {
		t.Fatal(err)
	}
	if want := (Death{Count: 1, Time: -1, RoutingKey: "k"}); death != want {
		t.Fatalf("got %+v, want %+v", death, want)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		into any
	}{
		{"empty input", nil, &Hello{}},
		{"not an array", mustMarshal(t, "hello"), &Hello{}},
		{"nil struct", []byte{mpNil}, &Hello{}},
		{"too few fields", mustMarshal(t, []any{1}), &Hello{}},
		{"string for int", mustMarshal(t, []any{"1", "c"}), &Hello{}},
		{"int for string", mustMarshal(t, []any{1, 2}), &Hello{}},
		{"uint16 overflow", mustMarshal(t, []any{70000, "c"}), &Hello{}},
		{"negative uint", mustMarshal(t, []any{-1, "c"}), &Hello{}},
		{"negative uint64", mustMarshal(t, []any{-1}), &ConsumeOK{}},
		{"uint64 above int64", mustMarshal(t, []any{uint64(math.MaxUint64)}), &OK{}},
		{"int32 overflow", mustMarshal(t, []any{0, int64(math.MaxInt32) + 1, 0, ""}), &PublishResult{}},
		{"uint8 status overflow", mustMarshal(t, []any{256, 0, 0, ""}), &PublishResult{}},
		{"float for int", mustMarshal(t, []any{1.5}), &OK{}},
		{"int for bool", mustMarshal(t, []any{"q", []uint64{1}, 1}), &Nack{}},
		{"string in seqs", mustMarshal(t, []any{"q", []any{1, "2"}}), &Ack{}},
		{"map for slice", mustMarshal(t, []any{"q", map[string]int{}}), &Ack{}},
		{"array for map", mustMarshal(t, []any{"s", "d", false, "k", []any{}}), &Bind{}},
		{"map value not string", mustMarshal(t, []any{"s", "d", false, "k", map[string]int{"a": 1}}), &Bind{}},
		{"nested struct nil", mustMarshal(t, []any{"q", nil}), &DeclareQueue{}},
		{"nested struct short", mustMarshal(t, []any{"q", []any{1}}), &DeclareQueue{}},
		{"truncated string", append(mustMarshal(t, []any{1})[:0], 0x92, 0x01, 0xa5, 'a'), &Hello{}},
		{"truncated uint64", []byte{0x91, mpUint64, 1, 2}, &ConsumeOK{}},
		{"reserved byte", []byte{0x91, 0xc1}, &ConsumeOK{}},
		{"bad extra field", []byte{0x92, 0x01, 0xc1}, &ConsumeOK{}},
		{"truncated extra field", []byte{0x92, 0x01, 0x93, 0x01}, &ConsumeOK{}},
		{"messages not structs", mustMarshal(t, []any{[]any{1, 2}}), &Publish{}},
		{"message short", mustMarshal(t, []any{[]any{[]any{"id"}}}), &Publish{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Unmarshal(tt.in, tt.into)
			if err == nil {
				t.Fatalf("decoded %x into %+v without error", tt.in, tt.into)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			if CodeOf(err) != CodeProtocol {
				t.Fatalf("CodeOf(%v) = %s, want protocol", err, CodeOf(err))
			}
		})
	}
}

// TestDecodeHugeLengths: a length prefix far beyond the bytes that follow is
// refused before anything of that size is allocated.
func TestDecodeHugeLengths(t *testing.T) {
	u32 := []byte{0xff, 0xff, 0xff, 0xff}
	tests := []struct {
		name string
		in   []byte
		into any
	}{
		{"messages array32", append([]byte{0x91, mpArray32}, u32...), &Publish{}},
		{"messages array16", []byte{0x91, mpArray16, 0xff, 0xff, 0x90}, &Publish{}},
		{"deliveries", append([]byte{0x92, 0x01, mpArray32}, u32...), &Deliver{}},
		{"results", append([]byte{0x93, mpArray32}, u32...), &Confirm{}},
		{"seqs", append([]byte{0x92, 0xa1, 'q', mpArray32}, u32...), &Ack{}},
		{"members", append([]byte{0x99, 0xa0, 0xa0, 0xa0, 0xa0, 0, 0, 0, 0, mpArray32}, u32...), &StatusInfo{}},
		{"body bin32", append([]byte{0x91, 0x91, 0x97, 0xa0, 0xa0, 0xa0, mpNil, mpBin32}, u32...), &Publish{}},
		{"id str32", append([]byte{0x91, 0x91, 0x97, mpStr32}, u32...), &Publish{}},
		{"headers map32", append([]byte{0x91, 0x91, 0x97, 0xa0, 0xa0, 0xa0, mpMap32}, u32...), &Publish{}},
		{"struct array32", append([]byte{mpArray32}, u32...), &Hello{}},
		{"extra fields", append([]byte{0x93, 0x01, 0xa0, mpArray32}, u32...), &Hello{}},
		{"extra map32", []byte{0x93, 0x01, 0xa0, 0x91, mpMap32, 0x7f, 0xff, 0xff, 0xff}, &Hello{}},
		{"extra ext32", append([]byte{0x93, 0x01, 0xa0, mpExt32}, u32...), &Hello{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			alloc := allocatedBytes(func() {
				for range 100 {
					err = Unmarshal(tt.in, newLike(tt.into))
				}
			})
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if alloc > 1<<20 {
				t.Fatalf("100 decodes of %d bytes allocated %d bytes", len(tt.in), alloc)
			}
		})
	}
}

func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeSkipsUnknownFields: fields appended by a newer peer are skipped,
// whatever their shape, and deep nesting does not recurse.
func TestDecodeSkipsUnknownFields(t *testing.T) {
	extra := []any{
		"s", []byte("b"), 1.5, float32(2), int64(-1 << 40), uint64(1 << 63), true, nil,
		map[string]any{"a": []any{1, map[string]any{"b": nil}}},
		msgpack.RawMessage{0xd4, 1, 2},                                   // fixext1
		msgpack.RawMessage(append([]byte{0xd8, 5}, make([]byte, 16)...)), // fixext16
		msgpack.RawMessage{0xc7, 2, 9, 0xaa, 0xbb},                       // ext8
		msgpack.RawMessage{0xc8, 0, 1, 9, 0xaa},                          // ext16
		msgpack.RawMessage{0xde, 0, 1, 0xa0, 0xdc, 0, 1, 0xc0},           // map16 of array16
	}
	in := mustMarshal(t, append([]any{1, "client"}, extra...))
	var h Hello
	if err := Unmarshal(in, &h); err != nil {
		t.Fatal(err)
	}
	if h != (Hello{Version: 1, Client: "client"}) {
		t.Fatalf("got %+v", h)
	}

	// A 1 MiB deep nest of one-element arrays as an extra field.
	const depth = 1 << 20
	deep := []byte{0x93, 0x01, 0xa0}
	deep = append(deep, bytes.Repeat([]byte{0x91}, depth)...)
	deep = append(deep, 0x90)
	if err := Unmarshal(deep, &h); err != nil {
		t.Fatalf("deep nesting: %v", err)
	}
	if err := Unmarshal(deep[:len(deep)-1], &h); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated deep nesting: err = %v, want ErrMalformed", err)
	}

	// Trailing bytes after the value are ignored.
	b, _ := Marshal(&Ack{Queue: "q", Seqs: []uint64{1}})
	var a Ack
	if err := Unmarshal(append(b, 0xc1, 0xff), &a); err != nil || a.Queue != "q" || len(a.Seqs) != 1 {
		t.Fatalf("trailing garbage: %+v, %v", a, err)
	}
}

func TestDecodeEmptyPayloadIsZero(t *testing.T) {
	p := &Publish{Messages: []PublishMessage{{ID: "old"}}}
	if err := Decode(Frame{Type: TPublish}, p); err != nil {
		t.Fatal(err)
	}
	if p.Messages != nil {
		t.Fatalf("empty payload left %+v", p)
	}
	var s Status
	if err := Decode(Frame{Type: TStatus}, &s); err != nil {
		t.Fatal(err)
	}
	if err := Decode(Frame{Type: TStatus}, s); !errors.Is(err, ErrMalformed) {
		t.Fatalf("decode into a non-pointer: err = %v, want ErrMalformed", err)
	}
	if err := Decode(Frame{Type: TStatus, Payload: []byte{0x90}}, (*Status)(nil)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("decode into a nil pointer: err = %v, want ErrMalformed", err)
	}
	if err := Decode(Frame{Type: TStatus, Payload: []byte{0x90}}, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("decode into nil: err = %v, want ErrMalformed", err)
	}
}

// TestDecodeDoesNotAlias: decoded strings and bodies are copies; changing the
// payload afterwards changes nothing.
func TestDecodeDoesNotAlias(t *testing.T) {
	in := &Deliver{ConsumerID: 1, Deliveries: []Delivery{fullDelivery(1), fullDelivery(2)}}
	b, _ := Marshal(in)
	var out Deliver
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xff
	}
	if !reflect.DeepEqual(&out, in) {
		t.Fatalf("decoded value changed with its input: %+v", out)
	}
}

// TestDecodeSharesRepeatedNames: the exchange and routing key repeated along
// a batch are decoded once.
func TestDecodeSharesRepeatedNames(t *testing.T) {
	p := &Publish{Messages: make([]PublishMessage, 64)}
	for i := range p.Messages {
		p.Messages[i] = PublishMessage{ID: "id", Exchange: "orders", RoutingKey: "order.created"}
	}
	b, _ := Marshal(p)
	var out Publish
	allocs := testing.AllocsPerRun(20, func() {
		if err := Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
	})
	// The decoder, the payload copy, the slice, the first exchange and key,
	// and one per ID.
	if allocs > 5+64 {
		t.Fatalf("decoding 64 messages with shared names took %.0f allocations", allocs)
	}
	if out.Messages[63].Exchange != "orders" || out.Messages[63].RoutingKey != "order.created" {
		t.Fatalf("got %+v", out.Messages[63])
	}
}

func TestMarshalOtherTypes(t *testing.T) {
	b, err := Marshal(map[string]int{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]int
	if err := Unmarshal(b, &m); err != nil || m["a"] != 1 {
		t.Fatalf("got %v, %v", m, err)
	}
	if err := Unmarshal([]byte{0xc1}, &m); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	if _, err := Marshal(make(chan int)); err == nil {
		t.Fatal("marshalled a channel")
	}
	b, err = Marshal((*Publish)(nil))
	if err != nil || !bytes.Equal(b, []byte{mpNil}) {
		t.Fatalf("nil pointer: %x, %v", b, err)
	}
}

func TestPublishStatusString(t *testing.T) {
	for s, want := range map[PublishStatus]string{0: "none", Routed: "routed", Duplicate: "duplicate", Unroutable: "unroutable", Rejected: "rejected", Dropped: "dropped", 99: "status(99)"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", s, got, want)
		}
	}
	if err := (PublishResult{Status: Routed}).Err(); err != nil {
		t.Fatalf("Err() = %v for a routed message", err)
	}
	if err := (PublishResult{Code: CodeNotFound, Message: "x"}).Err(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Err() = %v, want not found", err)
	}
}

// TestPublishBodiesCapped: the bodies of a decoded Publish share one buffer,
// but appending to one cannot overwrite the next.
func TestPublishBodiesCapped(t *testing.T) {
	in := &Publish{Messages: []PublishMessage{{Body: []byte("aaaa")}, {Body: []byte("bbbb")}, {Body: []byte{}}}}
	b, _ := Marshal(in)
	var out Publish
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0
	}
	first := out.Messages[0].Body
	if cap(first) != len(first) {
		t.Fatalf("body capacity %d, length %d", cap(first), len(first))
	}
	_ = append(first, "XXXXXXXXXXXXXXXX"...)
	if string(out.Messages[1].Body) != "bbbb" || out.Messages[2].Body == nil || len(out.Messages[2].Body) != 0 {
		t.Fatalf("bodies after an append to the first: %q %q", out.Messages[1].Body, out.Messages[2].Body)
	}
}
