package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testcluster"
)

func testLogger() *slog.Logger {
	if os.Getenv("RAFTMQ_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func dial(t *testing.T, seeds []string, opts ...client.Option) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts = append([]client.Option{client.WithLogger(testLogger()), client.WithBackoff(20*time.Millisecond, 500*time.Millisecond)}, opts...)
	c, err := client.Dial(ctx, seeds, opts...)
	if err != nil {
		t.Fatalf("dial %v: %v", seeds, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// setupQueue declares a direct exchange "x" bound to queue q with key "k".
func setupQueue(t *testing.T, ctx context.Context, c *client.Client, q string, args client.QueueArgs) {
	t.Helper()
	if err := c.DeclareExchange(ctx, "x", client.Direct); err != nil {
		t.Fatal(err)
	}
	if err := c.DeclareQueue(ctx, q, args); err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(ctx, client.Binding{Source: "x", Dest: q, Key: "k"}); err != nil {
		t.Fatal(err)
	}
}

func TestPublishConsumeRoundTrip(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})

	conf, err := c.Publish(ctx, "x", "k", client.Message{Body: []byte("hello"), Headers: map[string]string{"h": "v"}})
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if conf.Status != client.Routed || conf.Queues != 1 || conf.ID == "" || conf.Index == 0 || conf.Attempts != 1 {
		t.Fatalf("confirm = %+v", conf)
	}
	// Not mandatory and routed nowhere: confirmed as dropped.
	if conf, err := c.Publish(ctx, "x", "nowhere", client.Message{Body: []byte("x")}); err != nil || conf.Status != client.Dropped {
		t.Fatalf("unrouted publish: %+v, %v", conf, err)
	}
	// Mandatory and routed nowhere: unroutable.
	if _, err := c.Publish(ctx, "x", "nowhere", client.Message{Body: []byte("x"), Mandatory: true}); !errors.Is(err, client.ErrUnroutable) {
		t.Fatalf("mandatory unrouted publish: %v, want ErrUnroutable", err)
	}
	// Missing exchange: not found.
	if _, err := c.Publish(ctx, "missing", "k", client.Message{Body: []byte("x")}); !errors.Is(err, client.ErrNotFound) || client.IsRetryable(err) {
		t.Fatalf("publish to missing exchange: %v, want ErrNotFound", err)
	}

	got := make(chan *client.Delivery, 1)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Consume(cctx, "q", func(_ context.Context, d *client.Delivery) error {
			got <- d
			return nil
		})
	}()
	select {
	case d := <-got:
		if string(d.Body) != "hello" || d.ID != conf.ID || d.Headers["h"] != "v" || d.Queue != "q" || d.Exchange != "x" || d.RoutingKey != "k" || d.Redelivered {
			t.Fatalf("delivery = %+v", d)
		}
	case <-ctx.Done():
		t.Fatal("no delivery")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("consume returned %v", err)
	}
	waitQueue(t, ctx, c, "q", func(qi client.QueueInfo) bool { return qi.Messages == 0 })
}

// waitQueue polls InspectQueue until cond holds.
func waitQueue(t *testing.T, ctx context.Context, c *client.Client, q string, cond func(client.QueueInfo) bool) client.QueueInfo {
	t.Helper()
	return testcluster.WaitQueue(t, ctx, c, q, cond)
}

// collect reads n deliveries from s, failing the test when ctx ends first.
func collect(t *testing.T, ctx context.Context, s *client.Subscription, n int) []*client.Delivery {
	t.Helper()
	var out []*client.Delivery
	for len(out) < n {
		select {
		case d, ok := <-s.Deliveries():
			if !ok {
				t.Fatalf("subscription ended after %d of %d deliveries: %v", len(out), n, s.Err())
			}
			out = append(out, d)
		case <-ctx.Done():
			t.Fatalf("got %d of %d deliveries before the deadline", len(out), n)
		}
	}
	return out
}

func TestRedirectFromFollower(t *testing.T) {
	cl := testcluster.Start(t, 3)
	leader := cl.WaitLeader()
	follower := cl.Followers()[0]
	c := dial(t, []string{follower.ClientAddr()})
	if got := c.Addr(); got != leader.ClientAddr() {
		t.Fatalf("connected to %s, want the leader %s", got, leader.ClientAddr())
	}
	ctx := testCtx(t, 30*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})
	if _, err := c.Publish(ctx, "x", "k", client.Message{Body: []byte("via follower")}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "leader" || st.LeaderAddr != leader.ClientAddr() || len(st.Members) != 3 {
		t.Fatalf("status = %+v", st)
	}
}

func TestErrorMapping(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	if err := c.DeclareQueue(ctx, "q", client.QueueArgs{MaxLength: 10}); err != nil {
		t.Fatal(err)
	}
	if err := c.DeclareQueue(ctx, "q", client.QueueArgs{MaxLength: 10}); err != nil {
		t.Fatalf("redeclare with the same args: %v", err)
	}
	err := c.DeclareQueue(ctx, "q", client.QueueArgs{MaxLength: 20})
	if !errors.Is(err, client.ErrPrecondition) || client.IsRetryable(err) {
		t.Fatalf("redeclare with other args: %v, want ErrPrecondition", err)
	}
	if err := c.DeclareExchange(ctx, "x", client.Topic); err != nil {
		t.Fatal(err)
	}
	err = c.Bind(ctx, client.Binding{Source: "x", Dest: "missing", Key: "k"})
	if !errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrPrecondition) {
		t.Fatalf("bind to a missing queue: %v, want ErrNotFound", err)
	}
	if _, err := c.InspectQueue(ctx, "missing"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("inspect a missing queue: %v", err)
	}
	if _, err := c.Subscribe(ctx, "missing"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("subscribe to a missing queue: %v", err)
	}
	if err := c.DeclareExchange(ctx, "bad", client.ExchangeKind("nope")); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("declare an exchange of an unknown kind: %v", err)
	}
	if _, err := c.DeleteQueue(ctx, "missing"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("delete a missing queue: %v", err)
	}
	if err := c.Consume(ctx, "missing", func(context.Context, *client.Delivery) error { return nil }); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("consume a missing queue: %v", err)
	}
}

func TestAdmin(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	args := client.QueueArgs{MessageTTL: time.Minute, MaxLength: 5, Overflow: client.RejectPublish, DeadLetterExchange: "dlx", DeliveryLimit: 3}
	if err := c.DeclareExchange(ctx, "dlx", client.Fanout); err != nil {
		t.Fatal(err)
	}
	if err := c.DeclareExchange(ctx, "hx", client.Headers, client.WithAlternateExchange("dlx")); err != nil {
		t.Fatal(err)
	}
	if err := c.DeclareQueue(ctx, "q", args); err != nil {
		t.Fatal(err)
	}
	b := client.Binding{Source: "hx", Dest: "q", Headers: map[string]string{"a": "1", "b": "2"}, Match: "any"}
	if err := c.Bind(ctx, b); err != nil {
		t.Fatal(err)
	}
	bs, err := c.ListBindings(ctx, "hx")
	if err != nil || len(bs) != 1 {
		t.Fatalf("list bindings: %v, %v", bs, err)
	}
	if got := bs[0]; got.Match != "any" || got.Headers["a"] != "1" || got.Headers["b"] != "2" || len(got.Headers) != 2 || got.Dest != "q" {
		t.Fatalf("binding = %+v", got)
	}
	xs, err := c.ListExchanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range xs {
		if x.Name == "hx" {
			found = x.Kind == client.Headers && x.AlternateExchange == "dlx"
		}
	}
	if !found {
		t.Fatalf("exchanges = %+v", xs)
	}
	// A headers message matching one header ("any") is routed; the queue
	// rejects the sixth.
	for i := range 6 {
		_, err := c.Publish(ctx, "hx", "", client.Message{Headers: map[string]string{"b": "2"}, Body: []byte{byte(i)}})
		if i < 5 && err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if i == 5 && !errors.Is(err, client.ErrRejected) {
			t.Fatalf("publish over max-length with reject-publish: %v, want ErrRejected", err)
		}
	}
	qi, err := c.InspectQueue(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	if qi.Messages != 5 || qi.Ready != 5 || qi.Args != args {
		t.Fatalf("queue info = %+v", qi)
	}
	qs, err := c.ListQueues(ctx)
	if err != nil || len(qs) != 1 || qs[0].Name != "q" {
		t.Fatalf("list queues: %+v, %v", qs, err)
	}
	if n, err := c.PurgeQueue(ctx, "q"); err != nil || n != 5 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	if err := c.Unbind(ctx, b); err != nil {
		t.Fatal(err)
	}
	if bs, err := c.ListBindings(ctx, "hx"); err != nil || len(bs) != 0 {
		t.Fatalf("bindings after unbind: %v, %v", bs, err)
	}
	if n, err := c.DeleteQueue(ctx, "q"); err != nil || n != 0 {
		t.Fatalf("delete queue: %d, %v", n, err)
	}
	if err := c.DeleteExchange(ctx, "hx"); err != nil {
		t.Fatal(err)
	}
	if err := c.RemoveNode(ctx, "nope"); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("remove an unknown node: %v", err)
	}
}

func TestPublishAsyncManyInFlight(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs(), client.WithMaxInFlight(512))
	ctx := testCtx(t, 60*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})
	const n = 5000
	pending := make([]*client.PendingConfirm, 0, n)
	for i := range n {
		p, err := c.PublishAsync(ctx, "x", "k", client.Message{Body: []byte(fmt.Sprint(i))})
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	indexes := make(map[uint64]int)
	ids := make(map[string]bool)
	for _, p := range pending {
		conf, err := p.Wait(ctx)
		if err != nil {
			t.Fatalf("confirm %s: %v", p.ID(), err)
		}
		if conf.ID != p.ID() || conf.Status != client.Routed {
			t.Fatalf("confirm = %+v", conf)
		}
		indexes[conf.Index]++
		ids[conf.ID] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct IDs for %d messages", len(ids), n)
	}
	// Coalescing: messages share publish frames and Raft entries.
	if len(indexes) >= n/2 {
		t.Fatalf("%d Raft entries for %d messages: publishes were not batched", len(indexes), n)
	}
	t.Logf("%d messages in %d Raft entries", n, len(indexes))
	waitQueue(t, ctx, c, "q", func(qi client.QueueInfo) bool { return qi.Messages == n })
}

func TestPublishBatchOneEntry(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})
	ps := make([]client.Publishing, 100)
	for i := range ps {
		ps[i] = client.Publishing{Exchange: "x", Key: "k", Message: client.Message{Body: []byte(fmt.Sprint(i))}}
	}
	ps[7].Key, ps[7].Mandatory = "nowhere", true
	confs, err := c.PublishBatch(ctx, ps)
	var be *client.BatchError
	if !errors.As(err, &be) || !errors.Is(err, client.ErrUnroutable) {
		t.Fatalf("batch error = %v, want a BatchError with ErrUnroutable", err)
	}
	for i, e := range be.Errs {
		if (e != nil) != (i == 7) {
			t.Fatalf("message %d: error %v", i, e)
		}
	}
	for i, conf := range confs {
		if i == 7 {
			continue
		}
		if conf.Index != confs[0].Index || conf.Status != client.Routed {
			t.Fatalf("confirm %d = %+v, first %+v: the batch was not one entry", i, conf, confs[0])
		}
	}
	// Order within the batch is kept.
	s, err := c.Subscribe(ctx, "q", client.WithPrefetch(200))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ds := collect(t, ctx, s, 99)
	j := 0
	for i := range ps {
		if i == 7 {
			continue
		}
		if string(ds[j].Body) != fmt.Sprint(i) {
			t.Fatalf("delivery %d has body %q, want %d", j, ds[j].Body, i)
		}
		j++
	}
}

func TestHandlerPanicRequeues(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})
	if _, err := c.Publish(ctx, "x", "k", client.Message{Body: []byte("boom")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "x", "k", client.Message{Body: []byte("fine")}); err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	type seen struct {
		body        string
		redelivered bool
		count       int
	}
	got := make(chan seen, 10)
	done := make(chan error, 1)
	go func() {
		done <- c.Consume(cctx, "q", func(_ context.Context, d *client.Delivery) error {
			got <- seen{string(d.Body), d.Redelivered, d.DeliveryCount}
			if string(d.Body) == "boom" && !d.Redelivered {
				panic("handler bug")
			}
			return nil
		})
	}()
	var boom []seen
	fine := 0
	for len(boom) < 2 || fine < 1 {
		select {
		case s := <-got:
			if s.body == "boom" {
				boom = append(boom, s)
			} else {
				fine++
			}
		case err := <-done:
			t.Fatalf("consume ended: %v", err)
		case <-ctx.Done():
			t.Fatalf("deliveries: boom %v, fine %d", boom, fine)
		}
	}
	if boom[0].redelivered || !boom[1].redelivered || boom[1].count < 1 {
		t.Fatalf("the panicking message was not requeued and redelivered: %+v", boom)
	}
	waitQueue(t, ctx, c, "q", func(qi client.QueueInfo) bool { return qi.Messages == 0 })
	stop()
	if err := <-done; err != nil {
		t.Fatalf("consume returned %v", err)
	}
}

func TestConsumeEndsWhenQueueDeleted(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})
	done := make(chan error, 1)
	go func() {
		done <- c.Consume(ctx, "q", func(context.Context, *client.Delivery) error { return nil })
	}()
	waitQueue(t, ctx, c, "q", func(qi client.QueueInfo) bool { return qi.Consumers == 1 })
	if _, err := c.DeleteQueue(ctx, "q"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrNotFound) {
			t.Fatalf("consume returned %v, want ErrNotFound", err)
		}
	case <-ctx.Done():
		t.Fatal("consume did not end after its queue was deleted")
	}
}

func TestPublishRetriesWhileClusterDown(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 60*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})
	cl.Kill(0)

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err := c.Publish(short, "x", "k", client.Message{Body: []byte("lost")})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !client.IsRetryable(err) {
		t.Fatalf("publish while down with a short context: %v", err)
	}

	type result struct {
		conf client.Confirm
		err  error
	}
	res := make(chan result, 1)
	go func() {
		conf, err := c.Publish(ctx, "x", "k", client.Message{ID: "kept", Body: []byte("kept")})
		res <- result{conf, err}
	}()
	select {
	case r := <-res:
		t.Fatalf("publish returned while the cluster was down: %+v", r)
	case <-time.After(500 * time.Millisecond):
	}
	cl.Restart(0)
	r := <-res
	if r.err != nil || r.conf.ID != "kept" || r.conf.Status != client.Routed {
		t.Fatalf("publish after restart: %+v, %v", r.conf, r.err)
	}
	qi := waitQueue(t, ctx, c, "q", func(qi client.QueueInfo) bool { return qi.Messages >= 1 })
	if qi.Messages != 1 {
		t.Fatalf("queue holds %d messages, want 1", qi.Messages)
	}
}

func TestBufferWhileClusterDown(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs(), client.WithPublishBuffer(100))
	ctx := testCtx(t, 60*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})
	cl.Kill(0)
	const n = 50
	for i := range n {
		if err := c.Enqueue("x", "k", client.Message{Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if p := c.Pending(); p != n {
		t.Fatalf("pending = %d, want %d", p, n)
	}
	cl.Restart(0)
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if p := c.Pending(); p != 0 {
		t.Fatalf("pending after flush = %d", p)
	}
	s, err := c.Subscribe(ctx, "q", client.WithPrefetch(n))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, d := range collect(t, ctx, s, n) {
		if string(d.Body) != fmt.Sprint(i) {
			t.Fatalf("delivery %d has body %q: buffer order not kept", i, d.Body)
		}
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close with an empty buffer: %v", err)
	}
}

func TestBufferFull(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs(), client.WithPublishBuffer(5))
	cl.Kill(0)
	for i := range 5 {
		if err := c.Enqueue("x", "k", client.Message{Body: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	err := c.Enqueue("x", "k", client.Message{Body: []byte("one too many")})
	if !errors.Is(err, client.ErrBufferFull) || !client.IsRetryable(err) {
		t.Fatalf("enqueue into a full buffer: %v, want ErrBufferFull", err)
	}
	if p := c.Pending(); p != 5 {
		t.Fatalf("pending = %d", p)
	}
	err = c.Close()
	if !errors.Is(err, client.ErrUnconfirmed) || !strings.Contains(err.Error(), "5 buffered messages") {
		t.Fatalf("close: %v, want ErrUnconfirmed for 5 messages", err)
	}
	if err := c.Enqueue("x", "k", client.Message{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("enqueue after close: %v", err)
	}
}

func TestEnqueueWithoutBuffer(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	if err := c.Enqueue("x", "k", client.Message{}); !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("enqueue without a buffer: %v", err)
	}
}

func TestRetryMiddlewareDeadLetters(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	setupDeadLetter(t, ctx, c)
	if _, err := c.Publish(ctx, "x", "k", client.Message{ID: "poison", Body: []byte("poison")}); err != nil {
		t.Fatal(err)
	}
	var attempts int
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- c.Consume(cctx, "q", func(context.Context, *client.Delivery) error {
			attempts++
			return errors.New("cannot process")
		}, client.WithMiddleware(client.Retry(3, func(int) time.Duration { return time.Millisecond })))
	}()
	s, err := c.Subscribe(ctx, "dlq")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := collect(t, ctx, s, 1)[0]
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if attempts != 3 {
		t.Fatalf("handler ran %d times, want 3", attempts)
	}
	if d.ID != "poison" || len(d.Deaths) != 1 || d.Deaths[0].Reason != "rejected" || d.Deaths[0].Queue != "q" {
		t.Fatalf("dead letter = %+v", d)
	}
}

type order struct {
	ID    int    `json:"id"`
	Total string `json:"total"`
}

func TestJSONCodecDeadLettersBadBody(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	setupDeadLetter(t, ctx, c)
	if _, err := c.Publish(ctx, "x", "k", client.Message{ID: "bad", Body: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, "x", "k", client.Message{ID: "good", Body: []byte(`{"id":7,"total":"9.99"}`)}); err != nil {
		t.Fatal(err)
	}
	got := make(chan order, 2)
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- c.Consume(cctx, "q", client.JSON(func(_ context.Context, _ *client.Delivery, o order) error {
			got <- o
			return nil
		}))
	}()
	s, err := c.Subscribe(ctx, "dlq")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := collect(t, ctx, s, 1)[0]
	if d.ID != "bad" || len(d.Deaths) != 1 || d.Deaths[0].Reason != "rejected" {
		t.Fatalf("dead letter = %+v", d)
	}
	select {
	case o := <-got:
		if o != (order{ID: 7, Total: "9.99"}) {
			t.Fatalf("decoded %+v", o)
		}
	case <-ctx.Done():
		t.Fatal("the good message was not handled")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("the bad message reached the handler: %+v", <-got)
	}
}

func TestConsumeConcurrency(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})
	const workers = 4
	ps := make([]client.Publishing, workers)
	for i := range ps {
		ps[i] = client.Publishing{Exchange: "x", Key: "k"}
	}
	if _, err := c.PublishBatch(ctx, ps); err != nil {
		t.Fatal(err)
	}
	// Every handler blocks until all of them run at once: with fewer
	// goroutines than messages, this never completes.
	var arrived sync.WaitGroup
	arrived.Add(workers)
	all := make(chan struct{})
	go func() {
		arrived.Wait()
		close(all)
	}()
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- c.Consume(cctx, "q", func(hctx context.Context, _ *client.Delivery) error {
			arrived.Done()
			select {
			case <-all:
				return nil
			case <-hctx.Done():
				return hctx.Err()
			}
		}, client.WithConcurrency(workers), client.WithPrefetch(workers))
	}()
	select {
	case <-all:
	case <-ctx.Done():
		t.Fatal("handlers did not run concurrently")
	}
	waitQueue(t, ctx, c, "q", func(qi client.QueueInfo) bool { return qi.Messages == 0 })
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStatusWithoutLeader(t *testing.T) {
	cl := testcluster.Start(t, 3)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 30*time.Second)
	leader := cl.LeaderIndex()
	other := (leader + 1) % 3
	cl.Kill(leader)
	cl.Kill(other)
	survivor := 3 - leader - other
	// The survivor cannot elect itself; any node answers status anyway.
	var st client.Status
	var err error
	for {
		st, err = c.Status(ctx)
		if err == nil && st.NodeID == fmt.Sprintf("node%d", survivor) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("status: %+v, %v", st, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if st.State == "leader" || len(st.Members) != 3 {
		t.Fatalf("status of the survivor = %+v", st)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := c.DeclareQueue(short, "q", client.QueueArgs{}); !errors.Is(err, client.ErrNoLeader) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("declare without a leader: %v", err)
	}
}

// setupDeadLetter declares queue "q" (see setupQueue) whose dead letters go
// through the fanout exchange "dlx" to queue "dlq".
func setupDeadLetter(t *testing.T, ctx context.Context, c *client.Client) {
	t.Helper()
	if err := c.DeclareExchange(ctx, "dlx", client.Fanout); err != nil {
		t.Fatal(err)
	}
	if err := c.DeclareQueue(ctx, "dlq", client.QueueArgs{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(ctx, client.Binding{Source: "dlx", Dest: "dlq"}); err != nil {
		t.Fatal(err)
	}
	setupQueue(t, ctx, c, "q", client.QueueArgs{DeadLetterExchange: "dlx"})
}
