// Package bustest is the outbox and inbox tests' side of a real in-process
// raftmq cluster: dialing it, declaring a queue, reading a queue to its end.
package bustest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// Logger returns a logger that writes to t's log (shown on failure or with
// -v). Stop everything that logs to it before t ends.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(writer{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type writer struct{ t testing.TB }

func (w writer) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

var _ io.Writer = writer{}

// Ctx returns a context that ends after d or when t ends.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Dial connects a client to the cluster, closed when t ends. Its logs are
// discarded: failover chatter would drown the test's own.
func Dial(t testing.TB, seeds []string, opts ...client.Option) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts = append([]client.Option{
		client.WithLogger(slog.New(slog.DiscardHandler)),
		client.WithBackoff(20*time.Millisecond, 500*time.Millisecond),
	}, opts...)
	c, err := client.Dial(ctx, seeds, opts...)
	if err != nil {
		t.Fatalf("dial %v: %v", seeds, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Queue declares a direct exchange named exchange and a queue bound to it
// with key "k".
func Queue(t testing.TB, ctx context.Context, c *client.Client, exchange, queue string, args client.QueueArgs) {
	t.Helper()
	if err := c.DeclareExchange(ctx, exchange, client.Direct); err != nil {
		t.Fatal(err)
	}
	if err := c.DeclareQueue(ctx, queue, args); err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(ctx, client.Binding{Source: exchange, Dest: queue, Key: "k"}); err != nil {
		t.Fatal(err)
	}
}

// WaitQueue polls the queue's state until cond holds, and fails t when ctx
// ends first.
func WaitQueue(t testing.TB, ctx context.Context, c *client.Client, queue string, cond func(client.QueueInfo) bool) client.QueueInfo {
	t.Helper()
	return testcluster.WaitQueue(t, ctx, c, queue, cond)
}

// Drain subscribes to queue, acks and returns every message until the
// queue is empty and no delivery came for quiet, or fails t when ctx ends.
func Drain(t testing.TB, ctx context.Context, c *client.Client, queue string, quiet time.Duration) []*client.Delivery {
	t.Helper()
	s, err := c.Subscribe(ctx, queue, client.WithPrefetch(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []*client.Delivery
	for {
		select {
		case d, ok := <-s.Deliveries():
			if !ok {
				t.Fatalf("subscription to %s ended: %v", queue, s.Err())
			}
			out = append(out, d)
			if err := d.Ack(); err != nil {
				t.Fatal(err)
			}
		case <-time.After(quiet):
			qi, err := c.InspectQueue(ctx, queue)
			if err == nil && qi.Messages == 0 {
				return out
			}
		case <-ctx.Done():
			t.Fatalf("draining %s: %d messages read before the deadline", queue, len(out))
		}
	}
}
