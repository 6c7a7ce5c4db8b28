package fsm

import (
	"bytes"
	"testing"

	"github.com/raftmq/raftmq/exchange"
	"github.com/raftmq/raftmq/queue"
)

// FuzzApply feeds arbitrary bytes to Decode and Apply: they must never panic,
// and a command that decodes must re-encode to bytes that decode the same.
func FuzzApply(f *testing.F) {
	seeds := []cmd{
		{OpDeclareQueue, &DeclareQueue{Name: "q", Args: queue.Args{MaxLength: 3, DeadLetterExchange: "d"}}},
		{OpDeclareExchange, &DeclareExchange{Exchange: exchange.Exchange{Name: "x", Kind: exchange.Topic}}},
		{OpBind, &Bind{Binding: exchange.Binding{Source: "x", Dest: "q", Key: "a.#"}}},
		{OpPublish, &Publish{Time: 5, Messages: []PublishMessage{{ID: "1", Exchange: "x", RoutingKey: "a.b", Body: []byte("hi"), Headers: map[string]string{"k": "v"}}}}},
		{OpSettle, &Settle{Entries: []QueueSeqs{{Queue: "q", Seqs: []uint64{1}}}}},
		{OpReturn, &Return{Time: 6, Requeue: true, Entries: []QueueSeqs{{Queue: "q", Seqs: []uint64{1}}}}},
		{OpTick, &Tick{Time: 7}},
		{OpConfigure, &Configure{DedupWindow: 9}},
	}
	for _, s := range seeds {
		f.Add(MustEncode(s.op, s.body))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a := newApplier(t)
		a.declareQueue("q", queue.Args{})
		a.declareExchange("x", exchange.Topic)
		_ = a.raw(data) // must not panic
		op, body, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(op, body)
		if err != nil {
			t.Fatalf("re-encode %s: %v", op, err)
		}
		op2, body2, err := Decode(again)
		if err != nil || op2 != op {
			t.Fatalf("re-decode %s: %v", op, err)
		}
		third, _ := Encode(op2, body2)
		if !bytes.Equal(again, third) {
			t.Fatalf("%s: encoding is not stable", op)
		}
	})
}
