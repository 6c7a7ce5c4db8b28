package wire

import (
	"bytes"
	"io"
	"testing"
)

// replay serves the same bytes forever.
type replay struct {
	data []byte
	off  int
}

func (r *replay) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

const benchBatch = 64

func benchPublish() *Publish {
	p := &Publish{Messages: make([]PublishMessage, benchBatch)}
	body := bytes.Repeat([]byte("x"), 1024)
	for i := range p.Messages {
		p.Messages[i] = PublishMessage{
			ID: "01J8ZQ4R7XK3M5N6P7Q8R9S0T" + string(rune('A'+i%26)), Exchange: "orders", RoutingKey: "order.created",
			Body: body,
		}
	}
	return p
}

func benchDeliver() *Deliver {
	d := &Deliver{ConsumerID: 1, Deliveries: make([]Delivery, benchBatch)}
	body := bytes.Repeat([]byte("x"), 1024)
	for i := range d.Deliveries {
		d.Deliveries[i] = Delivery{
			Queue: "orders", Seq: uint64(1_000_000 + i), ID: "01J8ZQ4R7XK3M5N6P7Q8R9S0T" + string(rune('A'+i%26)),
			Exchange: "orders", RoutingKey: "order.created", Body: body, PublishedAt: 1_700_000_000_000_000_000,
		}
	}
	return d
}

func benchConfirm() *Confirm {
	c := &Confirm{Results: make([]PublishResult, benchBatch), Term: 3, Index: 123456}
	for i := range c.Results {
		c.Results[i] = PublishResult{Status: Routed, Queues: 1}
	}
	return c
}

// benchCodec measures one frame written with a Writer and read back with a
// Reader and Decode, the path a payload takes between two peers.
func benchCodec(b *testing.B, t Type, in any) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.WriteFrame(t, 1, in); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	frame := bytes.Clone(buf.Bytes())
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchBatch), "ns/msg")
	}
	b.Run("encode", func(b *testing.B) {
		w := NewWriter(io.Discard)
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			if err := w.WriteFrame(t, 1, in); err != nil {
				b.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("decode", func(b *testing.B) {
		r := NewReader(&replay{data: frame}, 0)
		out := newLike(in)
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			f, err := r.Next()
			if err != nil {
				b.Fatal(err)
			}
			if err := Decode(f, out); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("roundtrip", func(b *testing.B) {
		w := NewWriter(io.Discard)
		r := NewReader(&replay{data: frame}, 0)
		out := newLike(in)
		b.SetBytes(int64(len(frame)))
		b.ReportAllocs()
		for b.Loop() {
			if err := w.WriteFrame(t, 1, in); err != nil {
				b.Fatal(err)
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			f, err := r.Next()
			if err != nil {
				b.Fatal(err)
			}
			if err := Decode(f, out); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

// BenchmarkPublish: a Publish of 64 messages of 1 KiB.
func BenchmarkPublish(b *testing.B) { benchCodec(b, TPublish, benchPublish()) }

// BenchmarkDeliver: a Deliver of 64 deliveries of 1 KiB.
func BenchmarkDeliver(b *testing.B) { benchCodec(b, TDeliver, benchDeliver()) }

// BenchmarkConfirm: a Confirm of 64 results.
func BenchmarkConfirm(b *testing.B) { benchCodec(b, TConfirm, benchConfirm()) }
