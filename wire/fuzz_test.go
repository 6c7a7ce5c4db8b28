package wire

import (
	"bytes"
	"reflect"
	"testing"
)

// payloadFor returns a new value of the payload type a frame of type t
// carries, or nil for a type without one.
func payloadFor(t Type) any {
	switch t {
	case THello:
		return &Hello{}
	case THelloOK:
		return &HelloOK{}
	case TError:
		return &Error{}
	case TOK:
		return &OK{}
	case TDeclareExchange:
		return &DeclareExchange{}
	case TDeleteExchange:
		return &DeleteExchange{}
	case TDeclareQueue:
		return &DeclareQueue{}
	case TDeleteQueue:
		return &DeleteQueue{}
	case TPurgeQueue:
		return &PurgeQueue{}
	case TBind, TUnbind:
		return &Bind{}
	case TPublish:
		return &Publish{}
	case TConfirm:
		return &Confirm{}
	case TConsume:
		return &Consume{}
	case TConsumeOK:
		return &ConsumeOK{}
	case TDeliver:
		return &Deliver{}
	case TAck:
		return &Ack{}
	case TNack:
		return &Nack{}
	case TCancel:
		return &Cancel{}
	case TCancelled:
		return &Cancelled{}
	case TInspectQueue:
		return &InspectQueue{}
	case TQueueInfo:
		return &QueueInfo{}
	case TListExchanges:
		return &ListExchanges{}
	case TExchangeList:
		return &ExchangeList{}
	case TListQueues:
		return &ListQueues{}
	case TQueueList:
		return &QueueList{}
	case TListBindings:
		return &ListBindings{}
	case TBindingList:
		return &BindingList{}
	case TStatus:
		return &Status{}
	case TStatusInfo:
		return &StatusInfo{}
	case TRemoveNode:
		return &RemoveNode{}
	}
	return nil
}

func TestPayloadForCoversEveryType(t *testing.T) {
	for i := range 256 {
		if ty := Type(i); ty.Known() && payloadFor(ty) == nil {
			t.Errorf("no payload type for %s", ty)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add(stream(f, []sentFrame{
		{THello, 1, &Hello{Version: 1, Client: "c"}},
		{TPublish, 2, &Publish{Messages: []PublishMessage{fullPublishMessage(3)}}},
		{TStatus, 3, nil},
	}))
	f.Add(stream(f, []sentFrame{{TDeliver, 0, &Deliver{ConsumerID: 1, Deliveries: []Delivery{fullDelivery(1)}}}}))
	f.Add(stream(f, []sentFrame{{TConfirm, 9, &Confirm{Results: []PublishResult{{Status: Routed}}}}}))
	f.Add(header(5, TAck, 1))
	f.Add(header(0xffffffff, TAck, 1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), 1<<16)
		for range 1000 {
			fr, err := r.Next()
			if err != nil {
				return
			}
			if len(fr.Payload) > 1<<16 {
				t.Fatalf("payload of %d bytes above the maximum", len(fr.Payload))
			}
			if v := payloadFor(fr.Type); v != nil {
				_ = Decode(fr, v)
			}
		}
	})
}

// fuzzTypes are the payloads FuzzDecode tries every input as.
func fuzzTypes() []any {
	return []any{
		&Publish{}, &Confirm{}, &Deliver{}, &Ack{}, &Nack{},
		&Hello{}, &Error{}, &Bind{}, &DeclareQueue{}, &QueueList{}, &BindingList{}, &StatusInfo{},
	}
}

func FuzzDecode(f *testing.F) {
	for _, v := range samples() {
		b, err := Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 4096 {
			f.Add(b)
		}
	}
	f.Add([]byte{0x91, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, typ := range fuzzTypes() {
			v := newLike(typ)
			if err := Unmarshal(data, v); err != nil {
				continue
			}
			b, err := Marshal(v)
			if err != nil {
				t.Fatalf("re-encoding %T: %v", v, err)
			}
			again := newLike(typ)
			if err := Unmarshal(b, again); err != nil {
				t.Fatalf("decoding the re-encoded %T: %v", v, err)
			}
			if !reflect.DeepEqual(v, again) {
				t.Fatalf("%T changed after re-encoding:\n%+v\n%+v", v, v, again)
			}
		}
	})
}
