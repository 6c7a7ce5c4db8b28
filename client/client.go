package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/wire"
)

// libraryName identifies this library in the server's logs.
const libraryName = "raftmq-go/1"

// maxKnownAddrs bounds the addresses the client remembers.
const maxKnownAddrs = 64

// closeFlushTimeout bounds how long Close waits for queued acks to be
// written.
const closeFlushTimeout = time.Second

// Client is a connection to a raftmq cluster that follows its leader. It is
// safe for concurrent use.
//
// The client holds one connection, to the leader. When it breaks (the leader
// died or lost leadership, which closes its client connections), the client
// finds the new leader through the seeds and the members it has learned,
// with back-off and jitter between rounds; meanwhile publishes wait and are
// then resent with the same message IDs, consumers re-subscribe, and admin
// requests retry.
type Client struct {
	opts options
	log  *slog.Logger

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // manager, subscriptions, buffer loop

	// mu guards the fields below. Lock order: Client.mu, then a
	// Subscription's mu; conn.mu, pubMu, settleMu and the buffer's mu are
	// leaf locks taken without Client.mu.
	mu      sync.Mutex
	cur     *conn         // the leader connection, or nil
	ready   chan struct{} // closed while cur != nil
	closed  bool
	addrs   []string // seeds first, then learned member addresses
	hint    string   // where the leader probably is
	lastErr error    // why the last connection round failed
	subs    map[*Subscription]struct{}

	// wake tells the primary connection's writer that publishes or settles
	// are queued.
	wake chan struct{}

	pubMu     sync.Mutex
	pubq      []*pubItem
	pubClosed bool
	timers    map[*time.Timer][]*pubItem
	nextGroup atomic.Uint64
	slots     semaphore

	settleMu     sync.Mutex
	settles      map[settleKey][]uint64
	settleClosed bool

	buf *pubBuffer // nil without WithPublishBuffer
}

// Dial connects to the cluster through seeds (client addresses "host:port"
// of any nodes) and returns once it is connected to the leader, or fails
// when ctx ends first. ctx bounds only the connection; the client then runs
// until Close.
func Dial(ctx context.Context, seeds []string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("client options: %w", err)
	}
	var addrs []string
	for _, s := range seeds {
		if s != "" && !slices.Contains(addrs, s) {
			addrs = append(addrs, s)
		}
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("no seed address: %w", ErrInvalidArgument)
	}
	c := &Client{
		opts:    o,
		log:     o.logger.With("component", "raftmq-client"),
		ready:   make(chan struct{}),
		addrs:   addrs,
		subs:    make(map[*Subscription]struct{}),
		wake:    make(chan struct{}, 1),
		timers:  make(map[*time.Timer][]*pubItem),
		settles: make(map[settleKey][]uint64),
		slots:   semaphore{max: o.maxInFlight},
	}
	if o.name != "" {
		c.log = c.log.With("client", o.name)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run()
	}()
	if o.bufferSize > 0 {
		c.buf = newPubBuffer(o.bufferSize)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.bufferLoop()
		}()
	}
	if _, err := c.waitConn(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("dial %v: %w", addrs, err)
	}
	return c, nil
}

func (c *Client) clientName() string {
	if c.opts.name == "" {
		return libraryName
	}
	return libraryName + " (" + c.opts.name + ")"
}

// Addr returns the client address of the node the client is connected to
// (the leader), or "" while it is not connected.
func (c *Client) Addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return ""
	}
	return c.cur.addr
}

// Close stops the client: it writes the acks still queued (for at most a
// second), closes the connection, ends subscriptions (their Err is
// ErrClosed), and fails publishes that wait for a confirm with ErrClosed.
// With a publish buffer, it returns an error wrapping ErrUnconfirmed that
// says how many buffered messages were not confirmed. Close is idempotent;
// later calls return nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cur := c.cur
	c.mu.Unlock()
	if cur != nil {
		cur.drain(closeFlushTimeout)
	}
	c.cancel()
	c.wg.Wait()

	c.settleMu.Lock()
	c.settleClosed = true
	c.settleMu.Unlock()

	c.pubMu.Lock()
	c.pubClosed = true
	queued := c.pubq
	c.pubq = nil
	for t, items := range c.timers {
		t.Stop()
		queued = append(queued, items...)
	}
	clear(c.timers)
	c.pubMu.Unlock()
	for _, it := range queued {
		it.finish(Confirm{}, fmt.Errorf("publish %s: %w", it.msg.ID, ErrClosed))
	}
	if c.buf != nil {
		if n := c.buf.len(); n > 0 {
			return fmt.Errorf("%d buffered messages were not confirmed: %w", n, ErrUnconfirmed)
		}
	}
	return nil
}

// failoverPoll is how long after losing the leader the client retries at
// its shortest back-off. Nodes answer at once during an election (a node
// that knows no leader holds the handshake until one is known), and a LAN
// election takes a few hundred milliseconds: growing back-offs would only
// add to the gap.
const failoverPoll = 2 * time.Second

// run is the connection manager: it keeps a connection to the leader until
// Close.
func (c *Client) run() {
	attempt := 0
	var lostAt time.Time // when the last leader connection was lost
	for {
		cn, err := c.connect(c.ctx)
		if c.ctx.Err() != nil {
			if cn != nil {
				cn.close(ErrClosed)
			}
			return
		}
		if err != nil {
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			attempt++
			c.log.Debug("no leader reachable", "err", err, "attempt", attempt)
			wait := attempt
			if !lostAt.IsZero() && time.Since(lostAt) < failoverPoll {
				wait = 1
			}
			if !c.sleep(c.ctx, wait) {
				return
			}
			continue
		}
		start := time.Now()
		c.install(cn)
		select {
		case <-cn.dead:
		case <-c.ctx.Done():
		}
		c.uninstall(cn)
		cn.close(ErrClosed)
		if c.ctx.Err() != nil {
			return
		}
		c.log.Info("connection to the leader lost", "addr", cn.addr, "err", cn.lostErr())
		lostAt = time.Now()
		if time.Since(start) > 2*c.opts.backoffMax {
			attempt = 0
		}
		attempt++
		if attempt > 1 && !c.sleep(c.ctx, attempt-1) {
			return
		}
	}
}

// connect makes one round through the known addresses, the leader hint
// first, following the leader address that non-leaders give. It returns a
// connection to the leader, or why none was found.
func (c *Client) connect(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	cands := make([]string, 0, len(c.addrs)+1)
	if c.hint != "" {
		cands = append(cands, c.hint)
	}
	cands = append(cands, c.addrs...)
	c.mu.Unlock()
	tried := make(map[string]bool)
	var errs []error
	for len(cands) > 0 && ctx.Err() == nil {
		addr := cands[0]
		cands = cands[1:]
		if tried[addr] {
			continue
		}
		tried[addr] = true
		cn, err := c.dial(ctx, addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cn.hello.Leader {
			return cn, nil
		}
		if la := cn.hello.LeaderAddr; la != "" {
			c.learn(la)
			if !tried[la] {
				cands = append([]string{la}, cands...)
			}
			errs = append(errs, fmt.Errorf("%s (node %s) is not the leader, %s is", addr, cn.hello.NodeID, la))
		} else {
			// No leader known there: learn the other members, one of them
			// may know better.
			var si wire.StatusInfo
			sctx, cancel := context.WithTimeout(ctx, c.opts.dialTimeout)
			if err := cn.do(sctx, wire.TStatus, &wire.Status{}, wire.TStatusInfo, decodeInto(&si)); err == nil {
				c.learnMembers(si.Members)
				for _, m := range si.Members {
					if m.ClientAddr != "" && !tried[m.ClientAddr] {
						cands = append(cands, m.ClientAddr)
					}
				}
			}
			cancel()
			errs = append(errs, fmt.Errorf("%s (node %s) knows no leader", addr, cn.hello.NodeID))
		}
		cn.close(errors.New("not the leader"))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: %w", ErrNoLeader, errors.Join(errs...))
}

// install makes cn the leader connection.
func (c *Client) install(cn *conn) {
	c.mu.Lock()
	c.cur = cn
	c.hint = ""
	c.lastErr = nil
	close(c.ready)
	c.mu.Unlock()
	cn.primary.Store(true)
	cn.kick()
	c.log.Info("connected to the leader", "addr", cn.addr, "node", cn.hello.NodeID)
	// Learn the other members, for the next failover.
	id := cn.nextID.Add(1)
	var probing atomic.Bool
	probing.Store(true)
	if cn.register(id, &statusProbe{c: c, done: &probing}) {
		cn.send(wire.TStatus, id, &wire.Status{})
	}
}

// uninstall forgets cn as the leader connection.
func (c *Client) uninstall(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == cn {
		c.cur = nil
		c.ready = make(chan struct{})
	}
}

// waitConn returns the leader connection, waiting for one until ctx ends.
func (c *Client) waitConn(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		cur, ready, last := c.cur, c.ready, c.lastErr
		c.mu.Unlock()
		var retry <-chan time.Time
		if cur != nil {
			if cur.alive() {
				return cur, nil
			}
			// Dead and about to be replaced by the manager.
			retry = time.After(time.Millisecond)
			ready = nil
		}
		select {
		case <-ready:
		case <-retry:
		case <-c.ctx.Done():
			return nil, ErrClosed
		case <-ctx.Done():
			if last != nil {
				return nil, fmt.Errorf("%w: %w (last attempt: %w)", ErrNoLeader, ctx.Err(), last)
			}
			return nil, fmt.Errorf("%w: %w", ErrNoLeader, ctx.Err())
		}
	}
}

// connErr returns an error wrapping ErrNoLeader while the client has no
// leader connection, nil otherwise.
func (c *Client) connErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil && c.cur.alive() {
		return nil
	}
	if c.lastErr != nil {
		return c.lastErr // wraps ErrNoLeader
	}
	return fmt.Errorf("%w: not connected", ErrNoLeader)
}

// redirect drops cn after a not-leader or unavailable answer, so the
// manager looks for the leader, at addr first if given.
func (c *Client) redirect(cn *conn, addr string) {
	c.mu.Lock()
	if addr != "" {
		c.hint = addr
		c.learnLocked(addr)
	}
	c.mu.Unlock()
	if cn != nil {
		cn.fail(fmt.Errorf("%s is not the leader", cn.addr))
	}
}

// kick wakes the primary connection's writer.
func (c *Client) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Client) learn(addr string) {
	c.mu.Lock()
	c.learnLocked(addr)
	c.mu.Unlock()
}

func (c *Client) learnLocked(addr string) {
	if addr != "" && !slices.Contains(c.addrs, addr) && len(c.addrs) < maxKnownAddrs {
		c.addrs = append(c.addrs, addr)
	}
}

func (c *Client) learnMembers(ms []wire.Member) {
	c.mu.Lock()
	for _, m := range ms {
		c.learnLocked(m.ClientAddr)
	}
	c.mu.Unlock()
}

// backoff returns the delay before attempt n (n >= 1): exponential from the
// minimum to the maximum, with jitter over its upper half.
func (c *Client) backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := c.opts.backoffMin
	for i := 1; i < n && d < c.opts.backoffMax; i++ {
		d *= 2
	}
	d = min(d, c.opts.backoffMax)
	half := d / 2
	return half + rand.N(half+1)
}

// sleep waits for the back-off of attempt n; false if ctx or the client
// ended first.
func (c *Client) sleep(ctx context.Context, n int) bool {
	t := time.NewTimer(c.backoff(n))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-c.ctx.Done():
		return false
	}
}

// decodeInto returns a decode function that decodes a frame into v.
func decodeInto(v any) func(wire.Frame) error {
	return func(f wire.Frame) error { return wire.Decode(f, v) }
}

// reqPolicy says how a request may be retried.
type reqPolicy int

const (
	// idempotent requests are retried after an unknown outcome too.
	idempotent reqPolicy = iota
	// goneIsDone requests (deletes) are retried after an unknown outcome,
	// and a not-found answer after one means the earlier attempt did it.
	goneIsDone
)

// request sends one request to the leader and waits for its answer,
// retrying (with back-off) on no leader, lost connections and unknown
// outcomes until ctx ends. Domain errors are returned at once.
func (c *Client) request(ctx context.Context, t wire.Type, payload any, want wire.Type, decode func(wire.Frame) error, policy reqPolicy) error {
	var last error
	indeterminate := false
	for attempt := 1; ; attempt++ {
		cn, err := c.waitConn(ctx)
		if err != nil {
			if last != nil && !errors.Is(err, ErrClosed) {
				return fmt.Errorf("%s: %w (last error: %w)", t, err, last)
			}
			return fmt.Errorf("%s: %w", t, err)
		}
		err = cn.do(ctx, t, payload, want, decode)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		if !IsRetryable(err) {
			if indeterminate && policy == goneIsDone && errors.Is(err, ErrNotFound) {
				return errGoneAfterRetry
			}
			return fmt.Errorf("%s: %w", t, err)
		}
		if errors.Is(err, ErrIndeterminate) {
			indeterminate = true
		}
		var we *wire.Error
		if errors.As(err, &we) && (we.Code == wire.CodeNotLeader || we.Code == wire.CodeUnavailable) {
			c.redirect(cn, we.LeaderAddr)
		}
		last = err
		c.log.Debug("retrying request", "type", t.String(), "attempt", attempt, "err", err)
		if !c.sleep(ctx, attempt) {
			if c.ctx.Err() != nil {
				return fmt.Errorf("%s: %w", t, ErrClosed)
			}
			return fmt.Errorf("%s: %w (last error: %w)", t, ctx.Err(), last)
		}
	}
}

// errGoneAfterRetry tells a delete that its target was gone after an
// attempt whose outcome was unknown: that attempt most likely did it.
var errGoneAfterRetry = errors.New("gone after an indeterminate attempt")

// semaphore bounds the publishes in flight. A waiter needing k slots waits
// until k are free.
type semaphore struct {
	mu   sync.Mutex
	n    int
	max  int
	wait chan struct{} // closed and replaced on release
}

func (s *semaphore) acquire(ctx context.Context, closed <-chan struct{}, k int) error {
	k = min(k, s.max)
	for {
		s.mu.Lock()
		if s.n+k <= s.max {
			s.n += k
			s.mu.Unlock()
			return nil
		}
		if s.wait == nil {
			s.wait = make(chan struct{})
		}
		w := s.wait
		s.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		case <-closed:
			return ErrClosed
		}
	}
}

func (s *semaphore) release(k int) {
	s.mu.Lock()
	s.n -= k
	if s.wait != nil {
		close(s.wait)
		s.wait = nil
	}
	s.mu.Unlock()
}
