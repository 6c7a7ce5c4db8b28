package client

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/wire"
)

// cancelTimeout bounds how long closing a subscription waits for the
// server to acknowledge the cancel.
const cancelTimeout = 2 * time.Second

// Delivery is a message handed to a consumer. Settle it exactly once with
// Ack, Nack or Reject; they may be called from any goroutine. A delivery
// settles by queue and sequence number, which stay valid across a leader
// change: an ack sent after a failover still settles the message.
type Delivery struct {
	// Queue is the queue it comes from.
	Queue string
	// Seq is its sequence number in the queue.
	Seq uint64
	// ID is the message ID given at publish.
	ID string
	// Exchange and RoutingKey are what it was published with.
	Exchange, RoutingKey string
	// Headers are its application headers.
	Headers map[string]string
	// Body is its content.
	Body []byte
	// PublishedAt is when the leader accepted it.
	PublishedAt time.Time
	// Redelivered reports that it may have been delivered before (to this
	// or another consumer) without being settled, for instance before a
	// failover: a handler that is not idempotent should check.
	Redelivered bool
	// DeliveryCount is how many times it went back to the queue unsettled
	// (nacked with requeue, or held by a consumer that went away).
	DeliveryCount int
	// Deaths is its dead-letter history, most recent first as the broker
	// records it.
	Deaths []Death

	c       *Client
	settled atomic.Bool
}

func (c *Client) newDelivery(w *wire.Delivery) *Delivery {
	d := &Delivery{
		Queue: w.Queue, Seq: w.Seq, ID: w.ID, Exchange: w.Exchange, RoutingKey: w.RoutingKey,
		Headers: w.Headers, Body: w.Body, PublishedAt: time.Unix(0, w.PublishedAt),
		Redelivered: w.Redelivered, DeliveryCount: int(w.DeliveryCount), c: c,
	}
	for _, x := range w.Deaths {
		d.Deaths = append(d.Deaths, Death{
			Queue: x.Queue, Reason: x.Reason, Count: x.Count, Time: time.Unix(0, x.Time),
			Exchange: x.Exchange, RoutingKey: x.RoutingKey,
		})
	}
	return d
}

// Ack settles the delivery for good: the message leaves the queue. Ack
// returns at once: acks are queued, coalesced per queue into one frame
// while the connection is busy, and sent again on the next connection if
// the broker did not answer them before a failover (until Close). A
// message whose ack is lost comes back, redelivered (at-least-once
// delivery).
func (d *Delivery) Ack() error { return d.settle(opAck) }

// Nack gives the delivery back: with requeue it is ready again (marked
// redelivered, its DeliveryCount raised); without, it is dead-lettered to
// the queue's dead-letter exchange, or dropped if there is none.
func (d *Delivery) Nack(requeue bool) error {
	if requeue {
		return d.settle(opRequeue)
	}
	return d.settle(opReject)
}

// Reject is Nack(false): the message is dead-lettered (death reason
// "rejected") or dropped.
func (d *Delivery) Reject() error { return d.Nack(false) }

// Settled reports whether Ack, Nack or Reject was called.
func (d *Delivery) Settled() bool { return d.settled.Load() }

func (d *Delivery) settle(op settleOp) error {
	if d.c == nil {
		return fmt.Errorf("settle delivery %d of %q: not received from a client: %w", d.Seq, d.Queue, ErrInvalidArgument)
	}
	if !d.settled.CompareAndSwap(false, true) {
		return fmt.Errorf("settle delivery %d of %q: %w", d.Seq, d.Queue, ErrAlreadySettled)
	}
	if err := d.c.queueSettle(settleKey{queue: d.Queue, op: op}, d.Seq); err != nil {
		return fmt.Errorf("settle delivery %d of %q: %w", d.Seq, d.Queue, err)
	}
	return nil
}

// settleOp is a kind of settle.
type settleOp uint8

const (
	opAck settleOp = iota
	opRequeue
	opReject
)

// String names the operation, for logs.
func (o settleOp) String() string {
	switch o {
	case opAck:
		return "ack"
	case opRequeue:
		return "nack-requeue"
	}
	return "reject"
}

// settleKey groups settles of one kind per queue.
type settleKey struct {
	queue string
	op    settleOp
}

// queueSettle queues an ack or nack for the writer of the leader
// connection, whichever it is when the writer runs.
func (c *Client) queueSettle(k settleKey, seq uint64) error {
	c.settleMu.Lock()
	if c.settleClosed {
		c.settleMu.Unlock()
		return ErrClosed
	}
	c.settles[k] = append(c.settles[k], seq)
	c.settleMu.Unlock()
	c.kick()
	return nil
}

// requeueSettles queues settles again after their connection was lost
// before the broker answered.
func (c *Client) requeueSettles(k settleKey, seqs []uint64) {
	c.settleMu.Lock()
	if c.settleClosed {
		c.settleMu.Unlock()
		return
	}
	c.settles[k] = append(c.settles[k], seqs...)
	c.settleMu.Unlock()
	c.kick()
}

// takeSettles returns and clears the queued settles.
func (c *Client) takeSettles() map[settleKey][]uint64 {
	c.settleMu.Lock()
	defer c.settleMu.Unlock()
	if len(c.settles) == 0 {
		return nil
	}
	s := c.settles
	c.settles = make(map[settleKey][]uint64)
	return s
}

// Subscription is a consumer of one queue that follows the leader: when
// the connection is lost it subscribes again on the new one. It is safe for
// concurrent use.
type Subscription struct {
	c        *Client
	queue    string
	tag      string
	prefetch uint32
	out      chan *Delivery

	ctx    context.Context // ends at Close (or client Close)
	cancel context.CancelFunc

	mu      sync.Mutex
	buf     []*Delivery // received, not yet handed out
	cn      *conn       // where the consumer lives now, or nil
	cid     uint64
	err     error         // why the subscription ended; set before out is closed
	last    error         // the last retryable failure, for Subscribe's error
	bufWake chan struct{} // cap 1
	resub   chan struct{} // cap 1: the server cancelled the consumer

	stopOnce sync.Once
	stopOut  chan struct{} // closed to stop handing out deliveries
	done     chan struct{} // closed when the subscription has ended
	wg       sync.WaitGroup
}

// Subscribe subscribes to queue and returns once the leader has accepted
// the consumer, or fails when ctx ends first or the queue does not exist
// (ErrNotFound). ctx bounds only that first subscribe: the subscription
// then lasts until Close, a permanent error (the queue was deleted), or the
// client's Close. Read deliveries from Deliveries and settle each one; at
// most WithPrefetch are unsettled at once. Options for Consume only
// (concurrency, middleware) are ignored.
func (c *Client) Subscribe(ctx context.Context, queue string, opts ...ConsumeOption) (*Subscription, error) {
	o := consumeOptions{prefetch: DefaultPrefetch, tag: c.opts.name, concurrency: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("subscribe to %q: %w", queue, err)
	}
	return c.subscribe(ctx, queue, o)
}

func (c *Client) subscribe(ctx context.Context, queue string, o consumeOptions) (*Subscription, error) {
	s := &Subscription{
		c:        c,
		queue:    queue,
		tag:      o.tag,
		prefetch: uint32(o.prefetch),
		out:      make(chan *Delivery),
		bufWake:  make(chan struct{}, 1),
		resub:    make(chan struct{}, 1),
		stopOut:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancel(c.ctx)
	first := make(chan error, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.cancel()
		return nil, fmt.Errorf("subscribe to %q: %w", queue, ErrClosed)
	}
	c.subs[s] = struct{}{}
	c.wg.Add(1)
	c.mu.Unlock()
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.run(first)
	}()
	go func() {
		defer s.wg.Done()
		s.pump()
	}()
	go func() {
		defer c.wg.Done()
		s.wg.Wait()
		c.mu.Lock()
		delete(c.subs, s)
		c.mu.Unlock()
		close(s.done)
	}()
	select {
	case err := <-first:
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("subscribe to %q: %w", queue, err)
		}
		return s, nil
	case <-ctx.Done():
		_ = s.Close()
		return nil, fmt.Errorf("subscribe to %q: %w", queue, s.waitErr(ctx.Err()))
	}
}

// waitErr adds the subscription's last failure, if any, to err.
func (s *Subscription) waitErr(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last != nil {
		return fmt.Errorf("%w (last error: %w)", err, s.last)
	}
	return err
}

// Queue returns the subscribed queue's name.
func (s *Subscription) Queue() string { return s.queue }

// Deliveries returns the channel of deliveries. It is closed when the
// subscription ends; Err then says why.
func (s *Subscription) Deliveries() <-chan *Delivery { return s.out }

// Done is closed when the subscription has ended.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns why the subscription ended: nil after Close, ErrClosed after
// the client's Close, an error wrapping ErrNotFound when the queue was
// deleted. It is set before Deliveries is closed; while the subscription
// runs it returns nil.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close cancels the consumer on the server (which gives the messages it
// holds and that were not settled back to the queue), closes Deliveries and
// waits for the subscription's goroutines. Settle deliveries already
// received before Close, or they come back redelivered (settles made after
// Close are still sent). It is idempotent and returns Err: nil unless the
// subscription had already ended with an error.
func (s *Subscription) Close() error {
	s.cancel()
	<-s.done
	return s.Err()
}

// stopDeliveries closes Deliveries without cancelling the consumer, so
// handlers still running can settle what they hold before Close.
func (s *Subscription) stopDeliveries() {
	s.stopOnce.Do(func() { close(s.stopOut) })
}

// run keeps the consumer subscribed on the leader connection.
func (s *Subscription) run(first chan<- error) {
	defer s.stopDeliveries()
	reported := false
	report := func(err error) {
		if !reported {
			reported = true
			first <- err
		}
	}
	end := func(err error) {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		report(err)
	}
	attempt := 0
	for {
		cn, err := s.c.waitConn(s.ctx)
		if err != nil {
			end(s.endErr())
			return
		}
		cid, err := s.subscribeOn(cn)
		if err != nil {
			if s.ctx.Err() != nil {
				end(s.endErr())
				return
			}
			if !IsRetryable(err) {
				end(err)
				return
			}
			s.mu.Lock()
			s.last = err
			s.mu.Unlock()
			if hint := leaderHint(err); hint != "" || errors.Is(err, ErrNoLeader) {
				s.c.redirect(cn, hint)
			}
			attempt++
			if !s.c.sleep(s.ctx, attempt) {
				end(s.endErr())
				return
			}
			continue
		}
		attempt = 0
		s.mu.Lock()
		s.last = nil
		s.mu.Unlock()
		report(nil)
		select {
		case <-cn.dead:
			s.c.log.Debug("re-subscribing after connection loss", "queue", s.queue)
		case <-s.resub:
			// The server ended the consumer (the queue was deleted, most
			// likely): subscribing again tells whether it still exists.
			attempt++
			if !s.c.sleep(s.ctx, attempt) {
				end(s.endErr())
				return
			}
		case <-s.ctx.Done():
			s.cancelOn(cn, cid)
			end(s.endErr())
			return
		}
	}
}

// endErr is the error a subscription ends with when its context ended.
func (s *Subscription) endErr() error {
	if s.c.ctx.Err() != nil {
		return ErrClosed
	}
	return nil
}

// subscribeOn creates the consumer on cn. Deliveries are routed to s from
// the moment the reader sees the answer.
func (s *Subscription) subscribeOn(cn *conn) (uint64, error) {
	return cn.consume(s.ctx, &wire.Consume{Queue: s.queue, Prefetch: s.prefetch, Tag: s.tag}, s)
}

// attach makes cn's consumer cid the source of deliveries.
func (s *Subscription) attach(cn *conn, cid uint64) {
	s.mu.Lock()
	s.cn, s.cid, s.buf = cn, cid, nil
	s.mu.Unlock()
}

// cancelOn cancels the consumer on the server, waiting briefly for the
// answer so that its messages are back in the queue when Close returns.
func (s *Subscription) cancelOn(cn *conn, cid uint64) {
	s.mu.Lock()
	if s.cn == cn {
		s.cn, s.buf = nil, nil
	}
	s.mu.Unlock()
	cn.removeConsumer(cid)
	ctx, cancel := context.WithTimeout(context.Background(), cancelTimeout)
	defer cancel()
	stop := context.AfterFunc(s.c.ctx, cancel)
	defer stop()
	if err := cn.do(ctx, wire.TCancel, &wire.Cancel{ConsumerID: cid}, wire.TOK, nil); err != nil {
		s.c.log.Debug("cancel consumer", "queue", s.queue, "err", err)
	}
}

// push is called by cn's reader with deliveries for this subscription.
func (s *Subscription) push(cn *conn, ds []wire.Delivery) {
	s.mu.Lock()
	if s.cn != cn {
		s.mu.Unlock()
		return
	}
	for i := range ds {
		s.buf = append(s.buf, s.c.newDelivery(&ds[i]))
	}
	s.mu.Unlock()
	select {
	case s.bufWake <- struct{}{}:
	default:
	}
}

// connLost drops what cn delivered and was not handed out yet: the server
// gives those messages back to the queue, and the next consumer receives
// them.
func (s *Subscription) connLost(cn *conn) {
	s.mu.Lock()
	if s.cn == cn {
		s.cn, s.buf = nil, nil
	}
	s.mu.Unlock()
}

// serverCancelled is called when the server ended the consumer.
func (s *Subscription) serverCancelled(cn *conn, reason string) {
	s.c.log.Info("consumer cancelled by the server", "queue", s.queue, "reason", reason)
	s.connLost(cn)
	select {
	case s.resub <- struct{}{}:
	default:
	}
}

// pump hands buffered deliveries out, one at a time, until stopped.
func (s *Subscription) pump() {
	defer close(s.out)
	for {
		s.mu.Lock()
		var d *Delivery
		if len(s.buf) > 0 {
			d = s.buf[0]
			s.buf[0] = nil
			s.buf = s.buf[1:]
		}
		s.mu.Unlock()
		if d == nil {
			select {
			case <-s.bufWake:
				continue
			case <-s.stopOut:
				return
			}
		}
		select {
		case s.out <- d:
		case <-s.stopOut:
			return
		}
	}
}

// Handler processes one delivery. Returning nil acks it (unless the handler
// settled it itself); returning an error nacks it with requeue, unless the
// error wraps ErrReject, which rejects it (dead-letter). A panic is
// recovered and nacks with requeue.
type Handler func(ctx context.Context, d *Delivery) error

// Middleware wraps a Handler.
type Middleware func(Handler) Handler

// Consume subscribes to queue and runs h for each delivery, on
// WithConcurrency goroutines, until ctx ends (then it returns nil, after
// the running handlers returned and their messages were settled) or a
// permanent error ends the subscription: the queue does not exist or was
// deleted (ErrNotFound), or the client was closed (ErrClosed). It survives
// failovers: deliveries continue from the new leader, and messages that
// were not settled come again marked Redelivered. Handlers receive ctx.
func (c *Client) Consume(ctx context.Context, queue string, h Handler, opts ...ConsumeOption) error {
	if h == nil {
		return fmt.Errorf("consume %q: nil handler: %w", queue, ErrInvalidArgument)
	}
	o := consumeOptions{prefetch: DefaultPrefetch, tag: c.opts.name, concurrency: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return fmt.Errorf("consume %q: %w", queue, err)
	}
	for i := len(o.middleware) - 1; i >= 0; i-- {
		h = o.middleware[i](h)
	}
	s, err := c.subscribe(ctx, queue, o)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, ErrClosed) {
			return nil
		}
		return err
	}
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for d := range s.Deliveries() {
				c.handle(ctx, h, d)
			}
		}()
	}
	select {
	case <-ctx.Done():
	case <-s.Done():
	}
	s.stopDeliveries()
	wg.Wait()
	_ = s.Close()
	if ctx.Err() != nil {
		return nil
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("consume %q: %w", queue, err)
	}
	return nil
}

// handle runs h for d and settles d by the outcome.
func (c *Client) handle(ctx context.Context, h Handler, d *Delivery) {
	err := runHandler(ctx, h, d)
	if d.Settled() {
		return
	}
	switch {
	case err == nil:
		err = d.Ack()
	case errors.Is(err, ErrReject):
		c.log.Warn("handler rejected a message", "queue", d.Queue, "id", d.ID, "seq", d.Seq, "reason", err)
		err = d.Reject()
	default:
		c.log.Debug("handler failed, requeueing", "queue", d.Queue, "id", d.ID, "seq", d.Seq, "err", err)
		err = d.Nack(true)
	}
	if err != nil && !errors.Is(err, ErrClosed) {
		c.log.Warn("settle failed", "queue", d.Queue, "seq", d.Seq, "err", err)
	}
}

// PanicError is the error a recovered handler panic becomes.
type PanicError struct {
	// Value is what the handler panicked with.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte
}

// Error describes the panic.
func (e *PanicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.Value) }

// runHandler runs h, turning a panic into a *PanicError.
func runHandler(ctx context.Context, h Handler, d *Delivery) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return h(ctx, d)
}
