package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/wire"
)

// maxFrameMessages bounds the messages coalesced into one publish frame
// (PublishBatch groups are never split for this bound).
const maxFrameMessages = 4096

// maxFrameBudget bounds the estimated bytes of one coalesced publish frame.
const maxFrameBudget = 4 << 20

// pubItem is one message on its way to a confirm. It lives in the client's
// publish queue, then in a pubFrame of a connection, and goes back to the
// queue when that attempt fails in a retryable way, until it is finished:
// confirmed, failed for good, or abandoned because its context ended.
type pubItem struct {
	c     *Client
	msg   wire.PublishMessage
	group uint64 // non-zero for the members of one PublishBatch
	slot  bool   // holds an in-flight slot, released when finished
	size  int    // estimated encoded size

	// stateMu makes finishing and starting an attempt exclusive, so an
	// item abandoned with no attempt is never sent afterwards, and one that
	// was sent is never reported as never attempted.
	stateMu  sync.Mutex
	attempts atomic.Int32
	finished atomic.Bool
	done     chan struct{}
	conf     Confirm // valid once done is closed
	err      error   // valid once done is closed

	mu   sync.Mutex
	stop func() bool // stops the context watch
	last error       // the last retryable failure
}

func (c *Client) newItem(exchange, key string, m Message) (*pubItem, error) {
	if m.TTL < 0 {
		return nil, fmt.Errorf("message TTL %v is negative: %w", m.TTL, ErrInvalidArgument)
	}
	id := m.ID
	if id == "" {
		id = NewID()
	}
	it := &pubItem{
		c: c,
		msg: wire.PublishMessage{
			ID: id, Exchange: exchange, RoutingKey: key, Headers: m.Headers,
			Body: m.Body, TTL: millis(m.TTL), Mandatory: m.Mandatory,
		},
		done: make(chan struct{}),
	}
	it.size = 32 + len(id) + len(exchange) + len(key) + len(m.Body)
	for k, v := range m.Headers {
		it.size += len(k) + len(v) + 10
	}
	return it, nil
}

// watch finishes the item when ctx ends.
func (it *pubItem) watch(ctx context.Context) {
	if ctx.Done() == nil {
		return
	}
	it.mu.Lock()
	it.stop = context.AfterFunc(ctx, func() { it.abandon(ctx) })
	it.mu.Unlock()
}

func (it *pubItem) setLast(err error) {
	it.mu.Lock()
	it.last = err
	it.mu.Unlock()
}

// ctxErr explains a publish abandoned because ctx ended.
func (it *pubItem) ctxErr(ctx context.Context) error {
	it.mu.Lock()
	last := it.last
	it.mu.Unlock()
	if last == nil {
		last = it.c.connErr()
	}
	switch {
	case it.attempts.Load() > 0:
		return fmt.Errorf("publish %s: %w before a confirm; the message may have been enqueued: %w", it.msg.ID, ctx.Err(), ErrIndeterminate)
	case last != nil:
		return fmt.Errorf("publish %s: %w (last error: %w)", it.msg.ID, ctx.Err(), last)
	}
	return fmt.Errorf("publish %s: %w", it.msg.ID, ctx.Err())
}

// claim starts an attempt to send the item; false if it is already
// finished (then it must not be sent).
func (it *pubItem) claim() bool {
	it.stateMu.Lock()
	defer it.stateMu.Unlock()
	if it.finished.Load() {
		return false
	}
	it.attempts.Add(1)
	return true
}

// abandon finishes the item because ctx ended, explaining whether it may
// have been enqueued.
func (it *pubItem) abandon(ctx context.Context) {
	it.stateMu.Lock()
	defer it.stateMu.Unlock()
	if it.finished.Load() {
		return
	}
	it.finishLocked(Confirm{}, it.ctxErr(ctx))
}

// finish settles the item's outcome once; later calls do nothing.
func (it *pubItem) finish(conf Confirm, err error) bool {
	it.stateMu.Lock()
	defer it.stateMu.Unlock()
	return it.finishLocked(conf, err)
}

// finishLocked is finish with stateMu held.
func (it *pubItem) finishLocked(conf Confirm, err error) bool {
	if !it.finished.CompareAndSwap(false, true) {
		return false
	}
	conf.Attempts = int(it.attempts.Load())
	if err == nil {
		conf.ID = it.msg.ID
	}
	it.conf, it.err = conf, err
	it.mu.Lock()
	stop := it.stop
	it.mu.Unlock()
	if stop != nil {
		stop()
	}
	if it.slot {
		it.c.slots.release(1)
	}
	close(it.done)
	return true
}

// PendingConfirm is a message published with PublishAsync, waiting for its
// confirm. It is safe for concurrent use.
type PendingConfirm struct {
	it *pubItem
}

// ID returns the message ID.
func (p *PendingConfirm) ID() string { return p.it.msg.ID }

// Done is closed once the outcome is known: confirmed, failed for good, or
// abandoned because PublishAsync's context ended.
func (p *PendingConfirm) Done() <-chan struct{} { return p.it.done }

// Wait returns the outcome, waiting for it until ctx ends. Ending ctx stops
// only the wait, not the publish (PublishAsync's context bounds that).
func (p *PendingConfirm) Wait(ctx context.Context) (Confirm, error) {
	select {
	case <-p.it.done:
		return p.it.conf, p.it.err
	default:
	}
	select {
	case <-p.it.done:
		return p.it.conf, p.it.err
	case <-ctx.Done():
		return Confirm{}, fmt.Errorf("wait for the confirm of %s: %w", p.it.msg.ID, ctx.Err())
	}
}

// Publish publishes msg to exchange with routing key key and returns once
// the broker confirms it: it is on disk on a majority of the cluster. On no
// leader, a lost connection, an unknown outcome or a resource limit it
// retries, with the same message ID and back-off, until ctx ends; the
// broker's de-duplication makes the retries safe (a retry of a message
// already enqueued is confirmed as Duplicate). It fails with ErrUnroutable
// for a mandatory message that routes nowhere, ErrRejected when a
// reject-publish queue is full, and ErrNotFound for a missing exchange. If
// ctx ends after the message was sent, the error wraps ErrIndeterminate: the
// message may have been enqueued.
func (c *Client) Publish(ctx context.Context, exchange, key string, msg Message) (Confirm, error) {
	p, err := c.PublishAsync(ctx, exchange, key, msg)
	if err != nil {
		return Confirm{}, err
	}
	<-p.it.done // ctx's end or Close finishes it
	return p.it.conf, p.it.err
}

// PublishAsync queues msg for publishing and returns without waiting for
// the confirm; the returned PendingConfirm reports it. It blocks while
// WithMaxInFlight messages are unconfirmed (backpressure). Messages queued
// while the connection is busy are coalesced into one publish frame. The
// publish is retried as Publish's is, until ctx ends: pass a context that
// lives as long as the publish may take. Messages published from one
// goroutine are sent in order, but a retried message may be enqueued after
// messages sent after it.
func (c *Client) PublishAsync(ctx context.Context, exchange, key string, msg Message) (*PendingConfirm, error) {
	it, err := c.newItem(exchange, key, msg)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if err := c.slots.acquire(ctx, c.ctx.Done(), 1); err != nil {
		return nil, fmt.Errorf("publish %s: wait for an in-flight slot: %w", it.msg.ID, err)
	}
	it.slot = true
	it.watch(ctx)
	c.enqueuePubs([]*pubItem{it})
	return &PendingConfirm{it: it}, nil
}

// PublishBatch publishes messages in one publish frame (the fast path: one
// Raft entry when nothing else is queued) and returns once each is
// confirmed or has failed for good. Retries are as for Publish. The
// confirms are in the order of ps; when some messages failed the error is a
// *BatchError that says which, and the Confirm of each confirmed message is
// still valid.
func (c *Client) PublishBatch(ctx context.Context, ps []Publishing) ([]Confirm, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	group := c.nextGroup.Add(1)
	items := make([]*pubItem, len(ps))
	for i, p := range ps {
		it, err := c.newItem(p.Exchange, p.Key, p.Message)
		if err != nil {
			return nil, fmt.Errorf("publish batch: message %d: %w", i, err)
		}
		it.group = group
		items[i] = it
	}
	k := min(len(items), c.opts.maxInFlight)
	if err := c.slots.acquire(ctx, c.ctx.Done(), k); err != nil {
		return nil, fmt.Errorf("publish batch: wait for in-flight slots: %w", err)
	}
	for _, it := range items[:k] {
		it.slot = true
	}
	for _, it := range items {
		it.watch(ctx)
	}
	c.enqueuePubs(items)
	confs := make([]Confirm, len(items))
	var errs []error
	for i, it := range items {
		<-it.done
		confs[i] = it.conf
		if it.err != nil {
			if errs == nil {
				errs = make([]error, len(items))
			}
			errs[i] = it.err
		}
	}
	if errs != nil {
		return confs, &BatchError{Errs: errs}
	}
	return confs, nil
}

// enqueuePubs appends items to the publish queue.
func (c *Client) enqueuePubs(items []*pubItem) {
	c.pubMu.Lock()
	if c.pubClosed {
		c.pubMu.Unlock()
		failPubs(items, ErrClosed)
		return
	}
	if len(c.pubq) > 2*c.opts.maxInFlight {
		// Abandoned items pile up while no connection drains the queue.
		live := c.pubq[:0]
		for _, it := range c.pubq {
			if !it.finished.Load() {
				live = append(live, it)
			}
		}
		clear(c.pubq[len(live):])
		c.pubq = live
	}
	c.pubq = append(c.pubq, items...)
	c.pubMu.Unlock()
	c.kick()
}

// requeuePubs puts items back at the head of the queue, in order, for the
// next attempt.
func (c *Client) requeuePubs(items []*pubItem) {
	live := make([]*pubItem, 0, len(items))
	for _, it := range items {
		if !it.finished.Load() {
			live = append(live, it)
		}
	}
	if len(live) == 0 {
		return
	}
	c.pubMu.Lock()
	if c.pubClosed {
		c.pubMu.Unlock()
		failPubs(live, ErrClosed)
		return
	}
	c.pubq = append(live, c.pubq...)
	c.pubMu.Unlock()
	c.kick()
}

// requeueAfter requeues items after d.
func (c *Client) requeueAfter(items []*pubItem, d time.Duration) {
	c.pubMu.Lock()
	if c.pubClosed {
		c.pubMu.Unlock()
		failPubs(items, ErrClosed)
		return
	}
	defer c.pubMu.Unlock()
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		c.pubMu.Lock()
		_, ok := c.timers[t]
		delete(c.timers, t)
		c.pubMu.Unlock()
		if ok {
			c.requeuePubs(items)
		}
	})
	c.timers[t] = items
}

// takePubs removes one frame's worth of messages from the head of the
// queue, skipping finished ones and keeping batch groups whole.
func (c *Client) takePubs() []*pubItem {
	budget := min(c.opts.maxFrameSize*3/4, maxFrameBudget)
	c.pubMu.Lock()
	defer c.pubMu.Unlock()
	var out []*pubItem
	size := 0
	for len(c.pubq) > 0 {
		it := c.pubq[0]
		if it.finished.Load() {
			c.popPub()
			continue
		}
		n, gsize := 1, it.size
		if it.group != 0 {
			for n < len(c.pubq) && c.pubq[n].group == it.group {
				gsize += c.pubq[n].size
				n++
			}
		}
		if len(out) > 0 && (len(out)+n > maxFrameMessages || size+gsize > budget) {
			break
		}
		for range n {
			if x := c.popPub(); !x.finished.Load() {
				out = append(out, x)
			}
		}
		size += gsize
	}
	return out
}

// popPub removes the queue's head. Caller holds pubMu.
func (c *Client) popPub() *pubItem {
	it := c.pubq[0]
	c.pubq[0] = nil
	c.pubq = c.pubq[1:]
	return it
}

// failPubs finishes items with err.
func failPubs(items []*pubItem, err error) {
	for _, it := range items {
		it.finish(Confirm{}, fmt.Errorf("publish %s: %w", it.msg.ID, err))
	}
}

// retryPubs schedules another attempt for items after a retryable failure
// on cn (nil when the connection was lost).
func (c *Client) retryPubs(cn *conn, items []*pubItem, err error) {
	for _, it := range items {
		it.setLast(err)
	}
	var we *wire.Error
	if errors.As(err, &we) && (we.Code == wire.CodeNotLeader || we.Code == wire.CodeUnavailable) {
		c.redirect(cn, we.LeaderAddr)
		c.requeuePubs(items) // they wait for the next connection
		return
	}
	if cn == nil {
		c.requeuePubs(items)
		return
	}
	n := 0
	for _, it := range items {
		n = max(n, int(it.attempts.Load()))
	}
	c.requeueAfter(items, c.backoff(n))
}

// pubFrame is one publish frame waiting for its confirm.
type pubFrame struct {
	items []*pubItem
}

func (p *pubFrame) onFrame(cn *conn, f wire.Frame) {
	c := cn.c
	if f.Type != wire.TConfirm {
		failPubs(p.items, fmt.Errorf("%w: expected confirm, got %s", ErrProtocol, f.Type))
		return
	}
	var conf wire.Confirm
	if err := wire.Decode(f, &conf); err != nil {
		failPubs(p.items, fmt.Errorf("%w: %w", ErrProtocol, err))
		return
	}
	if len(conf.Results) != len(p.items) {
		failPubs(p.items, fmt.Errorf("%w: confirm has %d results for %d messages", ErrProtocol, len(conf.Results), len(p.items)))
		return
	}
	var retry []*pubItem
	var retryErr error
	for i, r := range conf.Results {
		it := p.items[i]
		if r.Code != 0 {
			err := fromWire(&wire.Error{Code: r.Code, Message: r.Message})
			if r.Code.Retryable() {
				retry, retryErr = append(retry, it), err
				continue
			}
			it.finish(Confirm{}, fmt.Errorf("publish %s: %w", it.msg.ID, err))
			continue
		}
		switch r.Status {
		case wire.Routed, wire.Duplicate, wire.Dropped:
			it.finish(Confirm{Status: PublishStatus(r.Status), Queues: int(r.Queues), Term: conf.Term, Index: conf.Index}, nil)
		case wire.Unroutable:
			it.finish(Confirm{}, fmt.Errorf("publish %s to exchange %q with key %q: %w", it.msg.ID, it.msg.Exchange, it.msg.RoutingKey, ErrUnroutable))
		case wire.Rejected:
			it.finish(Confirm{}, fmt.Errorf("publish %s to exchange %q with key %q: %w", it.msg.ID, it.msg.Exchange, it.msg.RoutingKey, ErrRejected))
		default:
			it.finish(Confirm{}, fmt.Errorf("publish %s: %w: unknown status %s", it.msg.ID, ErrProtocol, r.Status))
		}
	}
	if len(retry) > 0 {
		c.retryPubs(cn, retry, retryErr)
	}
}

func (p *pubFrame) onError(cn *conn, err error) {
	if IsRetryable(err) {
		cn.c.retryPubs(cn, p.items, err)
		return
	}
	failPubs(p.items, err)
}

func (p *pubFrame) onLost(err error) {
	if len(p.items) > 0 {
		p.items[0].c.retryPubs(nil, p.items, err)
	}
}
