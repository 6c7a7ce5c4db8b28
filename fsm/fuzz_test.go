package fsm

import (
	"bytes"
	"runtime"
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
		{OpPublish, &Publish{Time: 5, Messages: []PublishMessage{
			{ID: "2", Exchange: "x", RoutingKey: "a.b", Body: bytes.Repeat([]byte{7}, 300)},
			{ID: "3", RoutingKey: "q", Body: bytes.Repeat([]byte{8}, 70000)},
			{ID: "4", RoutingKey: "q"},
		}}},
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
		// The state machine's own decoding, with bodies pointing into data,
		// must accept exactly what Decode accepts, with the same values.
		aop, abody, aerr := decode(data, true)
		if (err == nil) != (aerr == nil) {
			t.Fatalf("Decode error %v, aliasing decode error %v", err, aerr)
		}
		if err != nil {
			return
		}
		if aop != op {
			t.Fatalf("aliasing decode: op %s, want %s", aop, op)
		}
		if p, ok := abody.(*Publish); ok {
			for i := range p.Messages {
				m := &p.Messages[i]
				if m.bodyOff > 0 && !bytes.Equal(data[m.bodyOff:m.bodyOff+len(m.Body)], m.Body) {
					t.Fatalf("message %d: body is not at its offset %d", i, m.bodyOff)
				}
				m.bodyOff = 0
				if want := body.(*Publish).Messages[i].Body; !bytes.Equal(m.Body, want) || (m.Body == nil) != (want == nil) {
					t.Fatalf("message %d: aliased body %q, copied body %q", i, m.Body, want)
				}
			}
			ra, _ := Encode(op, abody)
			rb, _ := Encode(op, body)
			if !bytes.Equal(ra, rb) {
				t.Fatalf("aliasing decode gave a different publish")
			}
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

// TestDecodeClaimedLengthsDoNotGrowMemory decodes, again and again, commands
// whose strings claim far more bytes than they carry. Decoding allocates
// about what the bytes hold each time; with msgpack's pooled decoders each
// one doubled a read buffer that the next one reused (FuzzApply found it).
func TestDecodeClaimedLengthsDoNotGrowMemory(t *testing.T) {
	hostile := [][]byte{
		// A Bind whose map holds an unknown key with a str32 of 256 MiB.
		append([]byte{byte(OpBind), 0x81, 0xa1, 'z', 0xdb, 0x10, 0, 0, 0}, "short"...),
		// A Publish whose message ID is a str32 of 256 MiB.
		append([]byte{byte(OpPublish), 0x92, 0x01, 0x91, 0x97, 0xdb, 0x10, 0, 0, 0}, bytes.Repeat([]byte{'i'}, 64)...),
	}
	for _, data := range hostile {
		if _, _, err := Decode(data); err == nil {
			t.Fatalf("% x decoded without error", data[:10])
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const rounds = 10
	for range rounds {
		for _, data := range hostile {
			_, _, _ = Decode(data)
			_, _, _ = decode(data, true)
		}
	}
	runtime.ReadMemStats(&after)
	// Each decode may allocate a few chunks of the msgpack library's
	// allocation limit (1 MiB) for the bytes it is promised (about 2 MiB
	// measured, more under the race detector); with pooled decoders the
	// 40 decodes allocated 1,326 MiB.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(8*2*rounds*len(hostile))<<20; got > limit {
		t.Fatalf("%d decodes allocated %d MiB, want at most %d MiB", 2*rounds*len(hostile), got>>20, limit>>20)
	}
}
