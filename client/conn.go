package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/wire"
)

// writeTimeout bounds one flush to the socket. A broker that stops reading
// (it does so to slow a publisher down) for longer than this is treated as
// gone.
const writeTimeout = 30 * time.Second

// maxAckSeqs bounds the sequence numbers of one Ack or Nack frame.
const maxAckSeqs = 8192

// settleFrameOverhead is more than an Ack or Nack frame needs besides its
// queue name and its sequence numbers (at most 9 bytes each).
const settleFrameOverhead = 64

// settleSeqsPerFrame is how many sequence numbers of queue one settle frame
// carries so that it stays within maxFrame, the largest frame this client
// sends (WithMaxFrameSize): a frame the writer refuses would fail the
// connection, and every reconnect would fail the same way.
func settleSeqsPerFrame(maxFrame int, queue string) int {
	return max(1, min(maxAckSeqs, (maxFrame-settleFrameOverhead-len(queue))/9))
}

// afterSettlesTaken, when set by a test, runs in the writer's pass right
// after it has taken and written the queued settles.
var afterSettlesTaken atomic.Pointer[func()]

// pubFramesPerPass bounds the publish frames one writer pass sends before it
// looks at acks and control frames again.
const pubFramesPerPass = 8

// pendingReq is a request waiting for its answer. Exactly one of its
// methods is called, once: onFrame and onError from the reader goroutine,
// onLost from whoever ends the connection.
type pendingReq interface {
	onFrame(cn *conn, f wire.Frame)
	onError(cn *conn, err error)
	onLost(err error)
}

// outFrame is a control frame queued for the writer.
type outFrame struct {
	t       wire.Type
	reqID   uint64
	payload any
}

// conn is one connection to a node. Its reader goroutine decodes answers and
// pushes; its writer goroutine sends control frames and, while the
// connection is the client's primary one, the client's queued acks and
// publishes, coalesced into as few frames as possible and flushed once per
// pass. A third goroutine probes a silent connection.
//
// Lock order: conn.mu is a leaf lock; no other lock is taken while holding
// it, and callbacks (pendingReq, Subscription) run without it.
type conn struct {
	c     *Client
	nc    net.Conn
	addr  string
	hello wire.HelloOK
	log   *slog.Logger

	primary  atomic.Bool  // drains the client's publish and ack queues
	settling atomic.Int64 // settle frames waiting for their answer
	nextID   atomic.Uint64
	lastRead atomic.Int64 // Unix nanoseconds of the last frame read

	mu        sync.Mutex
	pending   map[uint64]pendingReq
	ctrl      []outFrame
	consumers map[uint64]*Subscription
	cancelled map[uint64]bool // unknown consumers already cancelled
	consuming int             // consume requests waiting for their answer
	early     map[uint64][]wire.Delivery
	err       error // why the connection ended; nil while alive

	wake    chan struct{} // cap 1: control frames queued
	dead    chan struct{} // closed when the connection ends
	drained chan struct{} // closed by the writer after a final pass on close
	wg      sync.WaitGroup
}

// dial connects to addr and completes the handshake. The returned conn runs
// its goroutines until close.
func (c *Client) dial(ctx context.Context, addr string) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.dialTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: 15 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	cn := &conn{
		c:         c,
		nc:        nc,
		addr:      addr,
		log:       c.log.With("addr", addr),
		pending:   make(map[uint64]pendingReq),
		consumers: make(map[uint64]*Subscription),
		cancelled: make(map[uint64]bool),
		early:     make(map[uint64][]wire.Delivery),
		wake:      make(chan struct{}, 1),
		dead:      make(chan struct{}),
		drained:   make(chan struct{}),
	}
	r := wire.NewReader(nc, c.opts.maxFrameSize)
	if err := cn.handshake(ctx, r); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("handshake with %s: %w", addr, err)
	}
	cn.lastRead.Store(time.Now().UnixNano())
	cn.wg.Add(3)
	go func() {
		defer cn.wg.Done()
		cn.readLoop(r)
	}()
	go func() {
		defer cn.wg.Done()
		cn.writeLoop()
	}()
	go func() {
		defer cn.wg.Done()
		cn.heartbeatLoop()
	}()
	return cn, nil
}

func (cn *conn) handshake(ctx context.Context, r *wire.Reader) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = cn.nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = cn.nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	w := wire.NewWriter(cn.nc)
	id := cn.nextID.Add(1)
	if err := w.WriteFrame(wire.THello, id, &wire.Hello{Version: wire.Version, Client: cn.c.clientName()}); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	f, err := r.Next()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return err
	}
	switch f.Type {
	case wire.THelloOK:
		if err := wire.Decode(f, &cn.hello); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
	case wire.TError:
		var we wire.Error
		if err := wire.Decode(f, &we); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		return fromWire(&we)
	default:
		return fmt.Errorf("%w: expected hello-ok, got %s", ErrProtocol, f.Type)
	}
	return cn.nc.SetDeadline(time.Time{})
}

// alive reports whether the connection has not ended.
func (cn *conn) alive() bool {
	select {
	case <-cn.dead:
		return false
	default:
		return true
	}
}

// fail ends the connection with err: it closes the socket and hands every
// request in flight to its onLost. Safe from any goroutine, including the
// connection's own; it does not wait for them.
func (cn *conn) fail(err error) {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return
	}
	cn.err = err
	pending := cn.pending
	subs := cn.consumers
	cn.pending, cn.consumers, cn.ctrl = nil, nil, nil
	cn.mu.Unlock()
	close(cn.dead)
	_ = cn.nc.Close()
	lost := fmt.Errorf("connection to %s lost: %w: %w", cn.addr, ErrIndeterminate, err)
	for _, p := range pending {
		p.onLost(lost)
	}
	for _, s := range subs {
		s.connLost(cn)
	}
}

// drain asks the writer for a final pass that sends what is queued (acks
// above all) and waits for it and for the answers to the settles, for at
// most timeout. The connection stays
// open; close it afterwards.
func (cn *conn) drain(timeout time.Duration) {
	if !cn.alive() {
		return
	}
	cn.mu.Lock()
	cn.ctrl = append(cn.ctrl, outFrame{}) // marks the final pass
	cn.mu.Unlock()
	cn.kick()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-cn.drained:
	case <-cn.dead:
		return
	case <-t.C:
		return
	}
	// Wait for the answers to the settles, so they are committed.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for cn.settling.Load() > 0 {
		select {
		case <-cn.dead:
			return
		case <-t.C:
			return
		case <-tick.C:
		}
	}
}

// close ends the connection with err and waits for its goroutines. It must
// not be called from the connection's own goroutines.
func (cn *conn) close(err error) {
	cn.fail(err)
	cn.wg.Wait()
}

// kick wakes the writer.
func (cn *conn) kick() {
	select {
	case cn.wake <- struct{}{}:
	default:
	}
}

// register records a request waiting for its answer; false if the
// connection has ended.
func (cn *conn) register(id uint64, p pendingReq) bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.err != nil {
		return false
	}
	cn.pending[id] = p
	return true
}

// take removes and returns the request waiting for id.
func (cn *conn) take(id uint64) pendingReq {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	p := cn.pending[id]
	delete(cn.pending, id)
	return p
}

// send queues a control frame for the writer; false if the connection has
// ended.
func (cn *conn) send(t wire.Type, id uint64, payload any) bool {
	cn.mu.Lock()
	if cn.err != nil {
		cn.mu.Unlock()
		return false
	}
	cn.ctrl = append(cn.ctrl, outFrame{t: t, reqID: id, payload: payload})
	cn.mu.Unlock()
	cn.kick()
	return true
}

// call is a request whose caller waits for the answer.
type call struct {
	want   wire.Type
	decode func(f wire.Frame) error // nil: the payload is not needed
	done   chan struct{}
	err    error
}

func (cl *call) onFrame(_ *conn, f wire.Frame) {
	switch {
	case f.Type != cl.want:
		cl.err = fmt.Errorf("%w: expected %s, got %s", ErrProtocol, cl.want, f.Type)
	case cl.decode != nil:
		if err := cl.decode(f); err != nil {
			cl.err = fmt.Errorf("%w: %w", ErrProtocol, err)
		}
	}
	close(cl.done)
}

func (cl *call) onError(_ *conn, err error) {
	cl.err = err
	close(cl.done)
}

func (cl *call) onLost(err error) {
	cl.err = err
	close(cl.done)
}

// do sends one request and waits for its answer. decode, if not nil, runs
// on the reader goroutine with the answer's frame. When ctx ends first, do
// returns ctx's error and the answer is ignored.
func (cn *conn) do(ctx context.Context, t wire.Type, payload any, want wire.Type, decode func(wire.Frame) error) error {
	cl := &call{want: want, decode: decode, done: make(chan struct{})}
	id := cn.nextID.Add(1)
	if !cn.register(id, cl) || !cn.send(t, id, payload) {
		cn.take(id)
		return fmt.Errorf("%s on %s: %w", t, cn.addr, cn.lostErr())
	}
	select {
	case <-cl.done:
		return cl.err
	case <-ctx.Done():
		if cn.take(id) == nil {
			// The answer is being handled: wait for it, it is close.
			<-cl.done
			return cl.err
		}
		return fmt.Errorf("%s on %s: %w", t, cn.addr, ctx.Err())
	}
}

// lostErr returns why the connection ended, as an indeterminate error.
func (cn *conn) lostErr() error {
	cn.mu.Lock()
	err := cn.err
	cn.mu.Unlock()
	if err == nil {
		err = errors.New("connection closing")
	}
	return fmt.Errorf("connection to %s lost: %w: %w", cn.addr, ErrIndeterminate, err)
}

func (cn *conn) readLoop(r *wire.Reader) {
	for {
		f, err := r.Next()
		if err != nil {
			cn.fail(fmt.Errorf("read: %w", err))
			return
		}
		cn.lastRead.Store(time.Now().UnixNano())
		if err := cn.dispatch(f); err != nil {
			cn.fail(err)
			return
		}
	}
}

// dispatch handles one frame from the server.
func (cn *conn) dispatch(f wire.Frame) error {
	if f.ReqID == 0 {
		return cn.push(f)
	}
	p := cn.take(f.ReqID)
	if p == nil {
		// Its caller gave up. A consumer created for nobody is cancelled,
		// so that it does not hold messages.
		var ok wire.ConsumeOK
		if f.Type == wire.TConsumeOK && wire.Decode(f, &ok) == nil {
			cn.mu.Lock()
			known := cn.consumers[ok.ConsumerID] != nil || cn.cancelled[ok.ConsumerID]
			if !known {
				cn.cancelled[ok.ConsumerID] = true
				delete(cn.early, ok.ConsumerID)
			}
			cn.mu.Unlock()
			if !known {
				cn.cancelOrphan(ok.ConsumerID)
			}
		}
		return nil
	}
	if f.Type == wire.TError {
		var we wire.Error
		if err := wire.Decode(f, &we); err != nil {
			p.onError(cn, fmt.Errorf("%w: %w", ErrProtocol, err))
			return nil
		}
		p.onError(cn, fromWire(&we))
		if we.Code.ClosesConnection() {
			return fromWire(&we)
		}
		return nil
	}
	p.onFrame(cn, f)
	return nil
}

// push handles a frame the server sent on its own (request ID 0).
func (cn *conn) push(f wire.Frame) error {
	switch f.Type {
	case wire.TDeliver:
		var d wire.Deliver
		if err := wire.Decode(f, &d); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		cn.mu.Lock()
		s := cn.consumers[d.ConsumerID]
		orphan := false
		if s == nil && cn.err == nil && !cn.cancelled[d.ConsumerID] {
			if cn.consuming > 0 {
				// Deliveries may overtake the answer to the consume that
				// created their consumer: keep them for it.
				cn.early[d.ConsumerID] = append(cn.early[d.ConsumerID], d.Deliveries...)
			} else {
				orphan = true
				cn.cancelled[d.ConsumerID] = true
			}
		}
		cn.mu.Unlock()
		if s != nil {
			s.push(cn, d.Deliveries)
		} else if orphan {
			cn.cancelOrphan(d.ConsumerID)
		}
	case wire.TCancelled:
		var m wire.Cancelled
		if err := wire.Decode(f, &m); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		cn.mu.Lock()
		s := cn.consumers[m.ConsumerID]
		delete(cn.consumers, m.ConsumerID)
		cn.mu.Unlock()
		if s != nil {
			s.serverCancelled(cn, m.Reason)
		}
	case wire.TError:
		var we wire.Error
		if err := wire.Decode(f, &we); err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		cn.log.Warn("server reported an error", "err", we.Error())
		if we.Code.ClosesConnection() {
			return fromWire(&we)
		}
	default:
		cn.log.Debug("ignoring unexpected frame", "type", f.Type.String())
	}
	return nil
}

// cancelOrphan cancels a consumer nobody waits for (its subscribe was
// abandoned, or it was just cancelled); the server gives its messages back
// to the queue.
func (cn *conn) cancelOrphan(id uint64) {
	cn.send(wire.TCancel, cn.nextID.Add(1), &wire.Cancel{ConsumerID: id})
}

// consume creates a consumer for s on the connection. onOK runs on the
// reader goroutine when the answer arrives, before any later frame is read,
// with the deliveries that overtook the answer.
func (cn *conn) consume(ctx context.Context, req *wire.Consume, s *Subscription) (uint64, error) {
	cn.mu.Lock()
	cn.consuming++
	cn.mu.Unlock()
	defer cn.consumeDone()
	var ok wire.ConsumeOK
	err := cn.do(ctx, wire.TConsume, req, wire.TConsumeOK, func(f wire.Frame) error {
		if err := wire.Decode(f, &ok); err != nil {
			return err
		}
		s.attach(cn, ok.ConsumerID)
		cn.mu.Lock()
		early := cn.early[ok.ConsumerID]
		delete(cn.early, ok.ConsumerID)
		if cn.err == nil {
			cn.consumers[ok.ConsumerID] = s
		}
		cn.mu.Unlock()
		if len(early) > 0 {
			s.push(cn, early)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return ok.ConsumerID, nil
}

// consumeDone ends a consume request; once none is waiting, deliveries kept
// for unknown consumers belong to nobody and their consumers are cancelled.
func (cn *conn) consumeDone() {
	cn.mu.Lock()
	cn.consuming--
	var orphans []uint64
	if cn.consuming == 0 && cn.err == nil {
		for id := range cn.early {
			orphans = append(orphans, id)
			cn.cancelled[id] = true
		}
		clear(cn.early)
	}
	cn.mu.Unlock()
	for _, id := range orphans {
		cn.cancelOrphan(id)
	}
}

// removeConsumer stops routing deliveries for id.
func (cn *conn) removeConsumer(id uint64) {
	cn.mu.Lock()
	delete(cn.consumers, id)
	if cn.err == nil {
		cn.cancelled[id] = true
	}
	cn.mu.Unlock()
}

func (cn *conn) writeLoop() {
	w := wire.NewWriter(cn.nc)
	w.SetMaxFrameSize(cn.c.opts.maxFrameSize)
	for {
		var clientWake <-chan struct{}
		if cn.primary.Load() {
			clientWake = cn.c.wake
		}
		select {
		case <-cn.dead:
			return
		case <-cn.wake:
		case <-clientWake:
		}
		final, err := cn.writePass(w)
		if err != nil {
			cn.fail(fmt.Errorf("write: %w", err))
			return
		}
		if final {
			close(cn.drained)
			return
		}
	}
}

// writePass sends everything queued, flushing after each round, until
// nothing is left. It reports whether the final-pass marker was seen.
func (cn *conn) writePass(w *wire.Writer) (final bool, err error) {
	for {
		_ = cn.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
		wrote := false
		// The control frames are taken before the settles and written
		// after them: a cancel, or the final pass's marker, queued after an
		// ack is then never sent without that ack before it (the broker
		// would give back a message acknowledged before the cancel, and
		// Close would end the connection with the ack unsent).
		cn.mu.Lock()
		ctrl := cn.ctrl
		cn.ctrl = nil
		cn.mu.Unlock()
		if cn.primary.Load() {
			settles := cn.c.takeSettles()
			for k, seqs := range settles {
				for len(seqs) > 0 {
					n := min(len(seqs), settleSeqsPerFrame(cn.c.opts.maxFrameSize, k.queue))
					if err := cn.writeSettle(w, k, seqs[:n]); err != nil {
						// The frame that failed is requeued by its
						// pending request; what was not written yet
						// goes back to the queue for the next
						// connection.
						settles[k] = seqs[n:]
						for k, rest := range settles {
							if len(rest) > 0 {
								cn.c.requeueSettles(k, rest)
							}
						}
						return false, err
					}
					seqs = seqs[n:]
					wrote = true
				}
				delete(settles, k)
			}
			if h := afterSettlesTaken.Load(); h != nil {
				(*h)()
			}
		}
		for _, f := range ctrl {
			if f.t == 0 {
				final = true
				continue
			}
			if err := w.WriteFrame(f.t, f.reqID, f.payload); err != nil {
				if errors.Is(err, wire.ErrFrameTooLarge) {
					if p := cn.take(f.reqID); p != nil {
						p.onError(cn, fmt.Errorf("%w: %w", ErrInvalidArgument, err))
					}
					continue
				}
				return false, err
			}
			wrote = true
		}
		if cn.primary.Load() && !final {
			for range pubFramesPerPass {
				items := cn.c.takePubs()
				if len(items) == 0 {
					break
				}
				if err := cn.writePubs(w, items); err != nil {
					return false, err
				}
				wrote = true
			}
		}
		if !wrote {
			return final, nil
		}
		if err := w.Flush(); err != nil {
			return false, err
		}
		if final {
			return true, nil
		}
	}
}

// writeSettle sends one ack or nack frame. It carries a request ID, so the
// broker answers once the settle is committed; a settle whose connection is
// lost before that is sent again on the next one (settling twice is
// harmless: the second finds nothing to settle).
func (cn *conn) writeSettle(w *wire.Writer, k settleKey, seqs []uint64) error {
	id := cn.nextID.Add(1)
	seqs = append([]uint64(nil), seqs...)
	if !cn.register(id, &settleFrame{c: cn.c, key: k, seqs: seqs}) {
		cn.c.requeueSettles(k, seqs)
		return cn.lostErr()
	}
	cn.settling.Add(1)
	var err error
	if k.op == opAck {
		err = w.WriteFrame(wire.TAck, id, &wire.Ack{Queue: k.queue, Seqs: seqs})
	} else {
		err = w.WriteFrame(wire.TNack, id, &wire.Nack{Queue: k.queue, Seqs: seqs, Requeue: k.op == opRequeue})
	}
	return err // on error the frame stays registered: onLost requeues it
}

// settleFrame is an ack or nack frame waiting for its answer.
type settleFrame struct {
	c    *Client
	key  settleKey
	seqs []uint64
}

func (f *settleFrame) onFrame(cn *conn, _ wire.Frame) { cn.settling.Add(-1) }

func (f *settleFrame) onError(cn *conn, err error) {
	cn.settling.Add(-1)
	if !IsRetryable(err) {
		cn.log.Warn("settle refused", "queue", f.key.queue, "op", f.key.op.String(), "count", len(f.seqs), "err", err)
		return
	}
	if hint := leaderHint(err); hint != "" || errors.Is(err, ErrNoLeader) {
		cn.c.redirect(cn, hint)
	}
	cn.c.requeueSettles(f.key, f.seqs)
}

func (f *settleFrame) onLost(error) { f.c.requeueSettles(f.key, f.seqs) }

// writePubs sends items as one publish frame, or as several when they do
// not fit in one.
func (cn *conn) writePubs(w *wire.Writer, items []*pubItem) error {
	// Items abandoned since they were taken are not sent.
	items = slices.DeleteFunc(items, func(it *pubItem) bool { return !it.claim() })
	if len(items) == 0 {
		return nil
	}
	id := cn.nextID.Add(1)
	pf := &pubFrame{items: items}
	if !cn.register(id, pf) {
		for _, it := range items {
			it.attempts.Add(-1) // not sent after all
		}
		cn.c.requeuePubs(items)
		return cn.lostErr()
	}
	msgs := make([]wire.PublishMessage, len(items))
	for i, it := range items {
		msgs[i] = it.msg
	}
	err := w.WriteFrame(wire.TPublish, id, &wire.Publish{Messages: msgs})
	if err == nil || !errors.Is(err, wire.ErrFrameTooLarge) {
		// On a write error the frame stays registered: the connection's
		// end hands it to onLost, which retries it.
		return err
	}
	// Refused before anything was written: split, or fail a lone message
	// that can never fit.
	if cn.take(id) == nil {
		return nil
	}
	if len(items) == 1 {
		items[0].finish(Confirm{}, fmt.Errorf("publish %s: message does not fit in a frame: %w: %w", items[0].msg.ID, ErrInvalidArgument, err))
		return nil
	}
	for _, it := range items {
		it.attempts.Add(-1) // not sent: each half claims its items again
	}
	h := len(items) / 2
	if err := cn.writePubs(w, items[:h]); err != nil {
		return err
	}
	return cn.writePubs(w, items[h:])
}

// heartbeatLoop probes a silent connection with a status request (which
// also refreshes the client's list of member addresses) and ends the
// connection when nothing at all has been read for three intervals.
func (cn *conn) heartbeatLoop() {
	hb := cn.c.opts.heartbeat
	t := time.NewTicker(hb)
	defer t.Stop()
	var probing atomic.Bool
	for {
		select {
		case <-cn.dead:
			return
		case <-t.C:
		}
		silent := time.Since(time.Unix(0, cn.lastRead.Load()))
		if silent >= 3*hb {
			cn.fail(fmt.Errorf("no frame from the server for %v", silent.Round(time.Millisecond)))
			return
		}
		if silent >= hb && probing.CompareAndSwap(false, true) {
			id := cn.nextID.Add(1)
			st := &statusProbe{c: cn.c, done: &probing}
			if cn.register(id, st) {
				cn.send(wire.TStatus, id, &wire.Status{})
			}
		}
	}
}

// statusProbe is a heartbeat's status request: its answer feeds the
// client's address list.
type statusProbe struct {
	c    *Client
	done *atomic.Bool
}

func (p *statusProbe) onFrame(_ *conn, f wire.Frame) {
	defer p.done.Store(false)
	var si wire.StatusInfo
	if f.Type == wire.TStatusInfo && wire.Decode(f, &si) == nil {
		p.c.learnMembers(si.Members)
	}
}

func (p *statusProbe) onError(*conn, error) { p.done.Store(false) }
func (p *statusProbe) onLost(error)         { p.done.Store(false) }
