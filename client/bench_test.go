package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testcluster"
)

func benchSetup(b *testing.B) (*client.Client, context.Context) {
	b.Helper()
	cl := testcluster.Start(b, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	c, err := client.Dial(ctx, cl.ClientAddrs(), client.WithLogger(testLogger()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	if err := c.DeclareExchange(ctx, "x", client.Direct); err != nil {
		b.Fatal(err)
	}
	if err := c.DeclareQueue(ctx, "q", client.QueueArgs{}); err != nil {
		b.Fatal(err)
	}
	if err := c.Bind(ctx, client.Binding{Source: "x", Dest: "q", Key: "k"}); err != nil {
		b.Fatal(err)
	}
	return c, ctx
}

func reportRate(b *testing.B, start time.Time, n int) {
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkPublish measures confirmed publishes one at a time: each waits
// for a Raft commit (fsync) before the next.
func BenchmarkPublish(b *testing.B) {
	c, ctx := benchSetup(b)
	body := make([]byte, 256)
	start := time.Now()
	for b.Loop() {
		if _, err := c.Publish(ctx, "x", "k", client.Message{Body: body}); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, start, b.N)
}

// BenchmarkPublishAsync measures pipelined publishes: up to
// DefaultMaxInFlight unconfirmed, coalesced into frames and Raft entries.
func BenchmarkPublishAsync(b *testing.B) {
	c, ctx := benchSetup(b)
	body := make([]byte, 256)
	pending := make([]*client.PendingConfirm, 0, 1024)
	start := time.Now()
	for b.Loop() {
		p, err := c.PublishAsync(ctx, "x", "k", client.Message{Body: body})
		if err != nil {
			b.Fatal(err)
		}
		pending = append(pending, p)
		if len(pending) == cap(pending) {
			for _, p := range pending {
				if _, err := p.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
			pending = pending[:0]
		}
	}
	for _, p := range pending {
		if _, err := p.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, start, b.N)
}

// BenchmarkPublishBatch measures PublishBatch of 100 messages (one frame,
// one Raft entry); b.N counts batches.
func BenchmarkPublishBatch(b *testing.B) {
	c, ctx := benchSetup(b)
	body := make([]byte, 256)
	ps := make([]client.Publishing, 100)
	for i := range ps {
		ps[i] = client.Publishing{Exchange: "x", Key: "k", Message: client.Message{Body: body}}
	}
	start := time.Now()
	n := 0
	for b.Loop() {
		for i := range ps {
			ps[i].ID = "" // a new ID each time
		}
		if _, err := c.PublishBatch(ctx, ps); err != nil {
			b.Fatal(err)
		}
		n += len(ps)
	}
	reportRate(b, start, n)
}

// BenchmarkConsume measures delivery and ack of messages already queued.
func BenchmarkConsume(b *testing.B) {
	c, ctx := benchSetup(b)
	body := make([]byte, 256)
	ps := make([]client.Publishing, 1000)
	for i := range ps {
		ps[i] = client.Publishing{Exchange: "x", Key: "k", Message: client.Message{Body: body}}
	}
	for n := 0; n < b.N; n += len(ps) {
		if _, err := c.PublishBatch(ctx, ps[:min(len(ps), b.N-n)]); err != nil {
			b.Fatal(err)
		}
	}
	s, err := c.Subscribe(ctx, "q", client.WithPrefetch(1024))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	b.ResetTimer()
	for range b.N {
		select {
		case d := <-s.Deliveries():
			if err := d.Ack(); err != nil {
				b.Fatal(err)
			}
		case <-ctx.Done():
			b.Fatal("deliveries stopped")
		}
	}
	reportRate(b, start, b.N)
}
