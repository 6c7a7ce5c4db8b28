package broker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/raftmq/raftmq/exchange"
	"github.com/raftmq/raftmq/fsm"
	"github.com/raftmq/raftmq/queue"
	"github.com/raftmq/raftmq/wire"
)

// handshakeTimeout bounds how long a new connection may take to say hello.
const handshakeTimeout = 10 * time.Second

// conn is one client connection. Its reader goroutine decodes requests and
// hands them on without waiting for Raft (publishes and acks go to the
// committer, admin requests to their own goroutine), so requests pipeline;
// its writer goroutine sends whatever was queued and flushes once per batch.
type conn struct {
	b   *Broker
	nc  net.Conn
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // request goroutines

	outMu   sync.Mutex
	out     []outFrame
	outWake chan struct{}

	// pubSlots bounds the publish frames waiting for their confirm, so a
	// client that publishes faster than Raft commits is slowed by TCP
	// instead of growing the broker's memory.
	pubSlots chan struct{}

	consumersMu sync.Mutex
	consumers   map[uint64]struct{}
}

type outFrame struct {
	t       wire.Type
	reqID   uint64
	payload any
}

func newConn(b *Broker, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(b.ctx)
	return &conn{
		b:         b,
		nc:        nc,
		log:       b.log.With("remote", nc.RemoteAddr().String()),
		ctx:       ctx,
		cancel:    cancel,
		outWake:   make(chan struct{}, 1),
		pubSlots:  make(chan struct{}, b.cfg.MaxUnconfirmedFrames),
		consumers: make(map[uint64]struct{}),
	}
}

// serve runs the connection until the client goes away or the broker stops.
func (c *conn) serve() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	err := c.readLoop()
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && c.ctx.Err() == nil {
		c.log.Debug("connection closed", "err", err)
	}
	c.cancel()
	c.releaseConsumers()
	c.wg.Wait()
	<-writerDone
	_ = c.nc.Close()
}

// close ends the connection from the broker's side.
func (c *conn) close() {
	c.cancel()
	_ = c.nc.Close()
}

// maxQueuedFrames bounds the frames waiting for the writer. Deliveries are
// bounded by prefetch and confirms by MaxUnconfirmedFrames, so only a client
// that sends requests and never reads the answers gets here: it is
// disconnected rather than allowed to grow the broker's memory.
const maxQueuedFrames = 1 << 16

// send queues a frame for the writer. It never blocks.
func (c *conn) send(t wire.Type, reqID uint64, payload any) {
	c.outMu.Lock()
	if len(c.out) >= maxQueuedFrames {
		c.outMu.Unlock()
		c.log.Warn("client does not read its answers: closing the connection", "queued_frames", maxQueuedFrames)
		c.close()
		return
	}
	c.out = append(c.out, outFrame{t: t, reqID: reqID, payload: payload})
	c.outMu.Unlock()
	select {
	case c.outWake <- struct{}{}:
	default:
	}
}

func (c *conn) sendErr(reqID uint64, err error) {
	c.send(wire.TError, reqID, toWire(err, c.b.leaderClientAddr()))
}

func (c *conn) writeLoop() {
	w := wire.NewWriter(c.nc)
	var batch []outFrame
	for {
		select {
		case <-c.ctx.Done():
			// Send what is already queued (an error that explains the
			// close, say), then stop.
			c.flushOut(w, batch)
			return
		case <-c.outWake:
		}
		var err error
		batch, err = c.flushOut(w, batch)
		if err != nil {
			c.cancel()
			_ = c.nc.Close()
			return
		}
	}
}

func (c *conn) flushOut(w *wire.Writer, batch []outFrame) ([]outFrame, error) {
	c.outMu.Lock()
	batch, c.out = c.out, batch[:0]
	c.outMu.Unlock()
	if len(batch) == 0 {
		return batch, nil
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for i := range batch {
		f := &batch[i]
		if err := w.WriteFrame(f.t, f.reqID, f.payload); err != nil {
			return batch, err
		}
		*f = outFrame{}
	}
	return batch, w.Flush()
}

func (c *conn) readLoop() error {
	r := wire.NewReader(c.nc, c.b.cfg.MaxFrameSize)
	_ = c.nc.SetReadDeadline(time.Now().Add(handshakeTimeout))
	f, err := r.Next()
	if err != nil {
		c.protocolError(0, err)
		return err
	}
	var hello wire.Hello
	if f.Type != wire.THello {
		err := wire.Errorf(wire.CodeProtocol, "expected hello, got %s", f.Type)
		c.protocolError(f.ReqID, err)
		return err
	}
	if err := wire.Decode(f, &hello); err != nil {
		c.protocolError(f.ReqID, err)
		return err
	}
	if hello.Version != wire.Version {
		err := wire.Errorf(wire.CodeProtocol, "protocol version %d is not supported (this node speaks %d)", hello.Version, wire.Version)
		c.protocolError(f.ReqID, err)
		return err
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	leader, isLeader := c.b.awaitLeaderInfo(c.ctx, helloLeaderWait)
	c.send(wire.THelloOK, f.ReqID, &wire.HelloOK{Version: wire.Version, NodeID: c.b.node.ID(), Leader: isLeader, LeaderAddr: leader})
	for {
		f, err := r.Next()
		if err != nil {
			if errors.Is(err, wire.ErrFrameTooLarge) || errors.Is(err, wire.ErrMalformed) {
				c.protocolError(0, err)
			}
			return err
		}
		if err := c.handle(f); err != nil {
			c.protocolError(f.ReqID, err)
			return err
		}
	}
}

// protocolError tells the client why its connection is being closed.
func (c *conn) protocolError(reqID uint64, err error) {
	code := wire.CodeProtocol
	if errors.Is(err, wire.ErrFrameTooLarge) {
		code = wire.CodeFrameTooLarge
	}
	var we *wire.Error
	if !errors.As(err, &we) {
		we = &wire.Error{Code: code, Message: err.Error()}
	}
	c.send(wire.TError, reqID, we)
	c.b.metrics.protocolErrors.Inc()
}

// handle processes one request. A returned error closes the connection (the
// request could not be decoded); errors about the request itself are sent to
// the client and the connection goes on.
func (c *conn) handle(f wire.Frame) error {
	switch f.Type {
	case wire.TPublish:
		var p wire.Publish
		if err := wire.Decode(f, &p); err != nil {
			return err
		}
		c.publish(f.ReqID, &p)
	case wire.TAck:
		var a wire.Ack
		if err := wire.Decode(f, &a); err != nil {
			return err
		}
		c.ack(f.ReqID, &a)
	case wire.TNack:
		var n wire.Nack
		if err := wire.Decode(f, &n); err != nil {
			return err
		}
		c.nack(f.ReqID, &n)
	case wire.TConsume:
		var m wire.Consume
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		c.consume(f.ReqID, &m)
	case wire.TCancel:
		var m wire.Cancel
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		c.cancelConsumer(f.ReqID, m.ConsumerID)
	case wire.TStatus:
		c.send(wire.TStatusInfo, f.ReqID, c.b.status())
	default:
		return c.handleAdmin(f)
	}
	return nil
}

// handleAdmin decodes a request that goes through Raft or needs a leader
// check, and runs it on its own goroutine so the reader goes on.
func (c *conn) handleAdmin(f wire.Frame) error {
	var run func(ctx context.Context) (wire.Type, any, error)
	switch f.Type {
	case wire.TDeclareExchange:
		var m wire.DeclareExchange
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		run = func(ctx context.Context) (wire.Type, any, error) {
			kind, err := exchange.ParseKind(m.Kind)
			if err != nil {
				return 0, nil, wire.Errorf(wire.CodeInvalidArgument, "%v", err)
			}
			return c.b.applyAdmin(ctx, fsm.OpDeclareExchange, &fsm.DeclareExchange{Exchange: exchange.Exchange{Name: m.Name, Kind: kind, AlternateExchange: m.AlternateExchange}})
		}
	case wire.TDeleteExchange:
		var m wire.DeleteExchange
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		run = func(ctx context.Context) (wire.Type, any, error) {
			return c.b.applyAdmin(ctx, fsm.OpDeleteExchange, &fsm.DeleteExchange{Name: m.Name})
		}
	case wire.TDeclareQueue:
		var m wire.DeclareQueue
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		run = func(ctx context.Context) (wire.Type, any, error) {
			return c.b.applyAdmin(ctx, fsm.OpDeclareQueue, &fsm.DeclareQueue{Name: m.Name, Args: queueArgs(m.Args)})
		}
	case wire.TDeleteQueue:
		var m wire.DeleteQueue
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		run = func(ctx context.Context) (wire.Type, any, error) {
			return c.b.applyAdmin(ctx, fsm.OpDeleteQueue, &fsm.DeleteQueue{Name: m.Name})
		}
	case wire.TPurgeQueue:
		var m wire.PurgeQueue
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		run = func(ctx context.Context) (wire.Type, any, error) {
			return c.b.applyAdmin(ctx, fsm.OpPurgeQueue, &fsm.PurgeQueue{Name: m.Name})
		}
	case wire.TBind, wire.TUnbind:
		var m wire.Bind
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		op := fsm.OpBind
		if f.Type == wire.TUnbind {
			op = fsm.OpUnbind
		}
		run = func(ctx context.Context) (wire.Type, any, error) {
			return c.b.applyAdmin(ctx, op, &fsm.Bind{Binding: bindingOf(&m)})
		}
	case wire.TInspectQueue:
		var m wire.InspectQueue
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		run = func(ctx context.Context) (wire.Type, any, error) { return c.b.inspectQueue(ctx, m.Name) }
	case wire.TListExchanges:
		run = func(ctx context.Context) (wire.Type, any, error) { return c.b.listExchanges(ctx) }
	case wire.TListQueues:
		run = func(ctx context.Context) (wire.Type, any, error) { return c.b.listQueues(ctx) }
	case wire.TListBindings:
		var m wire.ListBindings
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		run = func(ctx context.Context) (wire.Type, any, error) { return c.b.listBindings(ctx, m.Exchange) }
	case wire.TRemoveNode:
		var m wire.RemoveNode
		if err := wire.Decode(f, &m); err != nil {
			return err
		}
		run = func(ctx context.Context) (wire.Type, any, error) { return c.b.removeNode(ctx, m.ID) }
	default:
		return wire.Errorf(wire.CodeProtocol, "unexpected frame %s", f.Type)
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, c.b.cfg.RequestTimeout)
		defer cancel()
		t, payload, err := run(ctx)
		if err != nil {
			c.sendErr(f.ReqID, err)
			return
		}
		c.send(t, f.ReqID, payload)
	}()
	return nil
}

func queueArgs(a wire.QueueArgs) queue.Args {
	return queue.Args{
		MessageTTL:           a.MessageTTL,
		MaxLength:            a.MaxLength,
		MaxLengthBytes:       a.MaxLengthBytes,
		Overflow:             queue.Overflow(a.Overflow),
		DeadLetterExchange:   a.DeadLetterExchange,
		DeadLetterRoutingKey: a.DeadLetterRoutingKey,
		DeliveryLimit:        a.DeliveryLimit,
	}
}

func wireQueueArgs(a queue.Args) wire.QueueArgs {
	return wire.QueueArgs{
		MessageTTL:           a.MessageTTL,
		MaxLength:            a.MaxLength,
		MaxLengthBytes:       a.MaxLengthBytes,
		Overflow:             string(a.Overflow),
		DeadLetterExchange:   a.DeadLetterExchange,
		DeadLetterRoutingKey: a.DeadLetterRoutingKey,
		DeliveryLimit:        a.DeliveryLimit,
	}
}

func bindingOf(m *wire.Bind) exchange.Binding {
	b := exchange.Binding{Source: m.Source, Dest: m.Dest, Key: m.Key, Args: m.Args}
	if m.ToExchange {
		b.DestKind = exchange.ToExchange
	}
	return b
}

// publish hands a publish frame to the group commit; the confirm is sent
// once the batch holding it is committed and applied.
func (c *conn) publish(reqID uint64, p *wire.Publish) {
	cm := c.b.leaderCommitter()
	if cm == nil {
		c.sendErr(reqID, errNotLeader)
		return
	}
	if c.b.overWatermark() {
		c.b.metrics.publishRefused.Add(float64(len(p.Messages)))
		c.sendErr(reqID, wire.Errorf(wire.CodeResourceLimit, "memory high watermark reached: publishes are refused until consumers drain the queues"))
		return
	}
	select {
	case c.pubSlots <- struct{}{}:
	case <-c.ctx.Done():
		return
	}
	msgs := make([]fsm.PublishMessage, len(p.Messages))
	for i := range p.Messages {
		m := &p.Messages[i]
		msgs[i] = fsm.PublishMessage{
			ID: m.ID, Exchange: m.Exchange, RoutingKey: m.RoutingKey, Headers: m.Headers,
			Body: m.Body, TTL: m.TTL, Mandatory: m.Mandatory,
		}
	}
	c.b.metrics.published.Add(float64(len(msgs)))
	cm.submit(&commitReq{kind: fsm.OpPublish, msgs: msgs, done: func(r commitResult) {
		<-c.pubSlots
		if r.err != nil {
			c.sendErr(reqID, r.err)
			return
		}
		conf := &wire.Confirm{Results: make([]wire.PublishResult, len(r.results)), Term: r.term, Index: r.index}
		for i, mr := range r.results {
			conf.Results[i] = publishResult(mr)
		}
		c.b.metrics.confirmed.Add(float64(len(r.results)))
		c.send(wire.TConfirm, reqID, conf)
	}})
}

func publishResult(mr fsm.MessageResult) wire.PublishResult {
	pr := wire.PublishResult{Queues: mr.Queues}
	switch mr.Status {
	case fsm.Routed:
		pr.Status = wire.Routed
	case fsm.Duplicate:
		pr.Status = wire.Duplicate
	case fsm.Unroutable:
		pr.Status = wire.Unroutable
	case fsm.Rejected:
		pr.Status = wire.Rejected
	case fsm.Dropped:
		pr.Status = wire.Dropped
	default:
		we := toWire(mr.Err, "")
		pr.Code, pr.Message = we.Code, we.Message
	}
	return pr
}

func (c *conn) ack(reqID uint64, a *wire.Ack) {
	cm := c.b.leaderCommitter()
	if cm == nil {
		if reqID != 0 {
			c.sendErr(reqID, errNotLeader)
		}
		return
	}
	c.b.dispatch.settled(a.Queue, a.Seqs)
	c.b.metrics.acked.Add(float64(len(a.Seqs)))
	queueName, seqs := a.Queue, a.Seqs
	cm.submit(&commitReq{kind: fsm.OpSettle, seqs: []fsm.QueueSeqs{{Queue: queueName, Seqs: seqs}}, done: func(r commitResult) {
		if r.err != nil {
			// The settle did not happen (or may not have): offer the
			// messages again rather than forget them.
			c.b.dispatch.giveBack(queueName, seqs)
			if reqID != 0 {
				c.sendErr(reqID, r.err)
			}
			return
		}
		if reqID != 0 {
			c.send(wire.TOK, reqID, &wire.OK{Count: r.count})
		}
	}})
}

func (c *conn) nack(reqID uint64, n *wire.Nack) {
	cm := c.b.leaderCommitter()
	if cm == nil {
		if reqID != 0 {
			c.sendErr(reqID, errNotLeader)
		}
		return
	}
	c.b.metrics.nacked.Add(float64(len(n.Seqs)))
	c.returnSeqs(cm, n.Queue, n.Seqs, n.Requeue, func(r commitResult) {
		if reqID == 0 {
			return
		}
		if r.err != nil {
			c.sendErr(reqID, r.err)
			return
		}
		c.send(wire.TOK, reqID, &wire.OK{Count: r.count})
	})
}

// returnSeqs gives messages back through Raft; once that is applied (or has
// failed) the dispatcher may offer them again.
func (c *conn) returnSeqs(cm *committer, queueName string, seqs []uint64, requeue bool, then func(commitResult)) {
	cm.submit(&commitReq{kind: fsm.OpReturn, requeue: requeue, seqs: []fsm.QueueSeqs{{Queue: queueName, Seqs: seqs}}, done: func(r commitResult) {
		c.b.dispatch.giveBack(queueName, seqs)
		if then != nil {
			then(r)
		}
	}})
}

func (c *conn) consume(reqID uint64, m *wire.Consume) {
	if c.b.leaderCommitter() == nil {
		c.sendErr(reqID, errNotLeader)
		return
	}
	_, err := c.b.dispatch.addConsumer(c, m.Queue, m.Tag, m.Prefetch, func(id uint64) {
		c.consumersMu.Lock()
		c.consumers[id] = struct{}{}
		c.consumersMu.Unlock()
		c.send(wire.TConsumeOK, reqID, &wire.ConsumeOK{ConsumerID: id})
	})
	if err != nil {
		c.sendErr(reqID, err)
	}
}

func (c *conn) cancelConsumer(reqID uint64, id uint64) {
	c.consumersMu.Lock()
	_, mine := c.consumers[id]
	delete(c.consumers, id)
	c.consumersMu.Unlock()
	if !mine {
		c.sendErr(reqID, wire.Errorf(wire.CodeNotFound, "consumer %d not found on this connection", id))
		return
	}
	c.dropConsumer(id)
	c.send(wire.TOK, reqID, &wire.OK{})
}

// dropConsumer unregisters a consumer and gives back what it held.
func (c *conn) dropConsumer(id uint64) {
	queueName, held, ok := c.b.dispatch.removeConsumer(id)
	if !ok || len(held) == 0 {
		return
	}
	if cm := c.b.leaderCommitter(); cm != nil {
		c.returnSeqs(cm, queueName, held, true, nil)
	}
}

// releaseConsumers drops every consumer of a closing connection: messages
// they held go back to their queues, marked redelivered.
func (c *conn) releaseConsumers() {
	c.consumersMu.Lock()
	ids := make([]uint64, 0, len(c.consumers))
	for id := range c.consumers {
		ids = append(ids, id)
	}
	clear(c.consumers)
	c.consumersMu.Unlock()
	for _, id := range ids {
		c.dropConsumer(id)
	}
}
