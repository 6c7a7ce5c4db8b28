package client_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/wire"
)

// fakeServer speaks the protocol from a script, to reproduce what a real
// broker does only under rare timings.
type fakeServer struct {
	ln    net.Listener
	conns chan *fakeConn
}

type fakeConn struct {
	nc net.Conn
	r  *wire.Reader
	mu sync.Mutex
	w  *wire.Writer
}

// startFake accepts connections, answers the handshake as a leader and hands
// each connection to the test.
func startFake(t *testing.T) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{ln: ln, conns: make(chan *fakeConn, 16)}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		ln.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { nc.Close() })
			fc := &fakeConn{nc: nc, r: wire.NewReader(nc, 0), w: wire.NewWriter(nc)}
			f, err := fc.r.Next()
			if err != nil || f.Type != wire.THello {
				nc.Close()
				continue
			}
			if fc.send(wire.THelloOK, f.ReqID, &wire.HelloOK{Version: wire.Version, NodeID: "fake", Leader: true}) != nil {
				continue
			}
			select {
			case fs.conns <- fc:
			case <-stop:
				return
			}
		}
	})
	return fs
}

func (fs *fakeServer) accept(t *testing.T) *fakeConn {
	t.Helper()
	select {
	case fc := <-fs.conns:
		return fc
	case <-time.After(10 * time.Second):
		t.Fatal("no connection to the fake server")
		return nil
	}
}

func (fc *fakeConn) send(ty wire.Type, id uint64, payload any) error {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if err := fc.w.WriteFrame(ty, id, payload); err != nil {
		return err
	}
	return fc.w.Flush()
}

// next returns the next frame of type ty, skipping status probes.
func (fc *fakeConn) next(t *testing.T, ty wire.Type) wire.Frame {
	t.Helper()
	_ = fc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, err := fc.r.Next()
		if err != nil {
			t.Fatalf("fake server: waiting for %s: %v", ty, err)
		}
		if f.Type == ty {
			return f
		}
		if f.Type != wire.TStatus {
			t.Fatalf("fake server: got %s, want %s", f.Type, ty)
		}
	}
}

func TestDeliveriesOvertakingConsumeOK(t *testing.T) {
	fs := startFake(t)
	c := dial(t, []string{fs.ln.Addr().String()})
	fc := fs.accept(t)
	ctx := testCtx(t, 20*time.Second)

	type subRes struct {
		s   *client.Subscription
		err error
	}
	res := make(chan subRes, 1)
	go func() {
		s, err := c.Subscribe(ctx, "q")
		res <- subRes{s, err}
	}()
	f := fc.next(t, wire.TConsume)
	// The broker's dispatcher may push before the consume is answered.
	if err := fc.send(wire.TDeliver, 0, &wire.Deliver{ConsumerID: 7, Deliveries: []wire.Delivery{{Queue: "q", Seq: 1, ID: "early"}}}); err != nil {
		t.Fatal(err)
	}
	if err := fc.send(wire.TConsumeOK, f.ReqID, &wire.ConsumeOK{ConsumerID: 7}); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	d := collect(t, ctx, r.s, 1)[0]
	if d.ID != "early" || d.Seq != 1 {
		t.Fatalf("delivery = %+v", d)
	}
	if err := d.Ack(); err != nil {
		t.Fatal(err)
	}
	// The next frame is the ack, not a cancel of consumer 7.
	f = fc.next(t, wire.TAck)
	var ack wire.Ack
	if err := wire.Decode(f, &ack); err != nil || ack.Queue != "q" || len(ack.Seqs) != 1 || ack.Seqs[0] != 1 || f.ReqID == 0 {
		t.Fatalf("ack = %+v (request %d), %v", ack, f.ReqID, err)
	}
	if err := fc.send(wire.TOK, f.ReqID, &wire.OK{Count: 1}); err != nil {
		t.Fatal(err)
	}
	// Close cancels the consumer and waits for the answer.
	closed := make(chan struct{})
	go func() {
		r.s.Close()
		close(closed)
	}()
	var cancel wire.Cancel
	f = fc.next(t, wire.TCancel)
	if err := wire.Decode(f, &cancel); err != nil || cancel.ConsumerID != 7 {
		t.Fatalf("cancel = %+v, %v", cancel, err)
	}
	if err := fc.send(wire.TOK, f.ReqID, &wire.OK{}); err != nil {
		t.Fatal(err)
	}
	<-closed
	if err := r.s.Err(); err != nil {
		t.Fatalf("subscription error after Close: %v", err)
	}
	if _, ok := <-r.s.Deliveries(); ok {
		t.Fatal("deliveries still open after Close")
	}
}

func TestOrphanConsumerIsCancelled(t *testing.T) {
	fs := startFake(t)
	_ = dial(t, []string{fs.ln.Addr().String()})
	fc := fs.accept(t)
	if err := fc.send(wire.TDeliver, 0, &wire.Deliver{ConsumerID: 99, Deliveries: []wire.Delivery{{Queue: "q", Seq: 5}}}); err != nil {
		t.Fatal(err)
	}
	var m wire.Cancel
	if err := wire.Decode(fc.next(t, wire.TCancel), &m); err != nil || m.ConsumerID != 99 {
		t.Fatalf("cancel = %+v, %v", m, err)
	}
}

func TestPublishRetriesSameIDAfterIndeterminate(t *testing.T) {
	fs := startFake(t)
	c := dial(t, []string{fs.ln.Addr().String()})
	fc := fs.accept(t)
	ctx := testCtx(t, 20*time.Second)
	type result struct {
		conf client.Confirm
		err  error
	}
	res := make(chan result, 1)
	go func() {
		conf, err := c.Publish(ctx, "x", "k", client.Message{Body: []byte("b")})
		res <- result{conf, err}
	}()
	var first, second wire.Publish
	f := fc.next(t, wire.TPublish)
	if err := wire.Decode(f, &first); err != nil || len(first.Messages) != 1 || first.Messages[0].ID == "" {
		t.Fatalf("publish = %+v, %v", first, err)
	}
	if err := fc.send(wire.TError, f.ReqID, &wire.Error{Code: wire.CodeIndeterminate, Message: "leadership lost"}); err != nil {
		t.Fatal(err)
	}
	f = fc.next(t, wire.TPublish)
	if err := wire.Decode(f, &second); err != nil || len(second.Messages) != 1 || second.Messages[0].ID != first.Messages[0].ID {
		t.Fatalf("retry = %+v, %v; want the same message ID %q", second, err, first.Messages[0].ID)
	}
	if err := fc.send(wire.TConfirm, f.ReqID, &wire.Confirm{Results: []wire.PublishResult{{Status: wire.Duplicate, Queues: 1}}, Term: 3, Index: 42}); err != nil {
		t.Fatal(err)
	}
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	want := client.Confirm{ID: first.Messages[0].ID, Status: client.Duplicate, Queues: 1, Term: 3, Index: 42, Attempts: 2}
	if r.conf != want {
		t.Fatalf("confirm = %+v, want %+v", r.conf, want)
	}
}

func TestPublishNotRetriedOnDomainError(t *testing.T) {
	fs := startFake(t)
	c := dial(t, []string{fs.ln.Addr().String()})
	fc := fs.accept(t)
	ctx := testCtx(t, 20*time.Second)
	res := make(chan error, 1)
	go func() {
		_, err := c.Publish(ctx, "x", "k", client.Message{})
		res <- err
	}()
	f := fc.next(t, wire.TPublish)
	if err := fc.send(wire.TError, f.ReqID, &wire.Error{Code: wire.CodeInvalidArgument, Message: "bad key"}); err != nil {
		t.Fatal(err)
	}
	err := <-res
	var we *wire.Error
	if !errors.Is(err, client.ErrInvalidArgument) || !errors.As(err, &we) || we.Message != "bad key" || client.IsRetryable(err) {
		t.Fatalf("publish: %v", err)
	}
}

func TestHeartbeatReplacesSilentConnection(t *testing.T) {
	fs := startFake(t)
	_ = dial(t, []string{fs.ln.Addr().String()}, client.WithHeartbeat(50*time.Millisecond))
	first := fs.accept(t)
	// The fake never answers: after three silent intervals the client
	// drops the connection and connects again.
	start := time.Now()
	second := fs.accept(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("reconnected after %v", d)
	}
	_ = second.nc.Close()
	_ = first.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, err := first.r.Next()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the silent connection was not closed by the client")
		}
		if err != nil {
			break
		}
	}
}

func TestCloseFailsWaitingPublishes(t *testing.T) {
	fs := startFake(t)
	c := dial(t, []string{fs.ln.Addr().String()})
	fc := fs.accept(t)
	p, err := c.PublishAsync(context.Background(), "x", "k", client.Message{})
	if err != nil {
		t.Fatal(err)
	}
	fc.next(t, wire.TPublish) // never confirmed
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Wait(context.Background()); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("pending publish after close: %v", err)
	}
	if _, err := c.Publish(context.Background(), "x", "k", client.Message{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
	if _, err := c.Subscribe(context.Background(), "q"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("subscribe after close: %v", err)
	}
	if err := c.DeclareQueue(context.Background(), "q", client.QueueArgs{}); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("declare after close: %v", err)
	}
}

// subscribeFake subscribes c to queue q on the fake connection fc, which
// answers as consumer 7, and returns the subscription.
func subscribeFake(t *testing.T, ctx context.Context, c *client.Client, fc *fakeConn, opts ...client.ConsumeOption) *client.Subscription {
	t.Helper()
	subs := make(chan *client.Subscription, 1)
	go func() {
		s, err := c.Subscribe(ctx, "q", opts...)
		if err != nil {
			t.Errorf("subscribe: %v", err)
		}
		subs <- s
	}()
	f := fc.next(t, wire.TConsume)
	if err := fc.send(wire.TConsumeOK, f.ReqID, &wire.ConsumeOK{ConsumerID: 7}); err != nil {
		t.Fatal(err)
	}
	s := <-subs
	if s == nil {
		t.FailNow()
	}
	return s
}

// answerAcks reads frames from fc, answering each ack, until n distinct
// sequence numbers are acknowledged, and returns them. An ack frame with a
// payload over maxPayload (if above 0) or the connection ending first fails
// the test.
func (fc *fakeConn) answerAcks(t *testing.T, n, maxPayload int) map[uint64]bool {
	t.Helper()
	acked := map[uint64]bool{}
	_ = fc.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(acked) < n {
		f, err := fc.r.Next()
		if err != nil {
			t.Fatalf("connection ended with %d of %d acks: %v", len(acked), n, err)
		}
		if f.Type != wire.TAck {
			continue
		}
		if maxPayload > 0 && len(f.Payload) > maxPayload {
			t.Fatalf("ack frame of %d bytes, over %d", len(f.Payload), maxPayload)
		}
		var ack wire.Ack
		if err := wire.Decode(f, &ack); err != nil {
			t.Fatal(err)
		}
		for _, seq := range ack.Seqs {
			acked[seq] = true
		}
		if err := fc.send(wire.TOK, f.ReqID, &wire.OK{Count: int64(len(ack.Seqs))}); err != nil {
			t.Fatal(err)
		}
	}
	return acked
}

// TestCloseSendsAcksQueuedDuringAWriterPass acknowledges a delivery and
// closes the client while the writer is in the middle of a pass that has
// already taken the queued settles. The ack must still reach the broker
// before the connection closes; otherwise the broker gives the message
// back when the connection ends, and it is delivered again although it
// was acknowledged.
func TestCloseSendsAcksQueuedDuringAWriterPass(t *testing.T) {
	fs := startFake(t)
	c := dial(t, []string{fs.ln.Addr().String()})
	fc := fs.accept(t)
	ctx := testCtx(t, 20*time.Second)

	s := subscribeFake(t, ctx, c, fc)
	if err := fc.send(wire.TDeliver, 0, &wire.Deliver{ConsumerID: 7, Deliveries: []wire.Delivery{
		{Queue: "q", Seq: 1, ID: "a"}, {Queue: "q", Seq: 2, ID: "b"},
	}}); err != nil {
		t.Fatal(err)
	}
	ds := collect(t, ctx, s, 2)

	// Hold the writer's pass that sends the first ack right after it has
	// taken the settles; meanwhile ack the second delivery and start Close.
	inPass := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	defer client.SetAfterSettlesTaken(func() {
		once.Do(func() {
			close(inPass)
			<-release
		})
	})()
	if err := ds[0].Ack(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inPass:
	case <-ctx.Done():
		t.Fatal("the writer never took the first ack")
	}
	if err := ds[1].Ack(); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	for !client.Closing(c) {
		select {
		case <-ctx.Done():
			t.Fatal("Close did not begin")
		case <-time.After(time.Millisecond):
		}
	}
	close(release)

	// The broker side: both deliveries must be acknowledged.
	if acked := fc.answerAcks(t, 2, 0); !acked[1] || !acked[2] {
		t.Fatalf("acks for %v, want 1 and 2", acked)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// TestAcksFitASmallMaxFrameSize acknowledges more deliveries at once than
// one frame of the client's maximum size can carry: the acks must go out
// in frames the client's writer accepts, on the same connection.
func TestAcksFitASmallMaxFrameSize(t *testing.T) {
	fs := startFake(t)
	c := dial(t, []string{fs.ln.Addr().String()}, client.WithMaxFrameSize(1024))
	fc := fs.accept(t)
	ctx := testCtx(t, 20*time.Second)

	s := subscribeFake(t, ctx, c, fc, client.WithPrefetch(1000))
	const n = 600
	for seq := uint64(1); seq <= n; seq += 5 {
		var ds []wire.Delivery
		for i := seq; i < seq+5; i++ {
			ds = append(ds, wire.Delivery{Queue: "q", Seq: i, ID: "m"})
		}
		if err := fc.send(wire.TDeliver, 0, &wire.Deliver{ConsumerID: 7, Deliveries: ds}); err != nil {
			t.Fatal(err)
		}
	}
	// Hold the writer until every delivery is acknowledged, so that one
	// pass takes all the acks at once.
	release := make(chan struct{})
	var once sync.Once
	defer client.SetAfterSettlesTaken(func() { once.Do(func() { <-release }) })()
	for _, d := range collect(t, ctx, s, n) {
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	close(release)
	fc.answerAcks(t, n, 1024)
}
