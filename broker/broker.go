package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/raftmq/raftmq/cluster"
	"github.com/raftmq/raftmq/fsm"
	"github.com/raftmq/raftmq/wire"
)

// Config configures a broker node.
type Config struct {
	// Cluster configures Raft and gossip. Its ClientAddr and HTTPAddr (the
	// advertised addresses) default to the addresses bound below.
	Cluster cluster.Config
	// ClientAddr is the address the client protocol listens on.
	ClientAddr string
	// HTTPAddr is the address of /healthz, /readyz and /metrics; "" disables
	// the HTTP server.
	HTTPAddr string
	// Profiling adds Go's profiling endpoints (net/http/pprof) under
	// /debug/pprof/ to the HTTP server. Off by default: a CPU profile costs
	// the node while it runs, and the endpoints have no authentication.
	Profiling bool
	// MaxFrameSize is the largest frame a client may send.
	MaxFrameSize int
	// MemoryHighWatermark: above this many bytes of queued messages (bodies
	// plus a per-message estimate) the leader refuses publishes with a
	// retryable resource-limit error. 0 disables the check.
	MemoryHighWatermark int64
	// TickInterval is how often the leader checks for expired messages and
	// de-duplication entries to forget.
	TickInterval time.Duration
	// RequestTimeout bounds one admin request (declare, bind, inspect...).
	RequestTimeout time.Duration
	// MaxUnconfirmedFrames bounds the publish frames of one connection that
	// wait for their confirm; past it the broker stops reading from the
	// connection until confirms go out.
	MaxUnconfirmedFrames int
	// Logger receives the node's logs.
	Logger *slog.Logger
}

// Defaults of Config.
const (
	DefaultClientAddr           = "127.0.0.1:6570"
	DefaultHTTPAddr             = "127.0.0.1:6580"
	DefaultMemoryHighWatermark  = 2 << 30
	DefaultTickInterval         = time.Second
	DefaultRequestTimeout       = 10 * time.Second
	DefaultMaxUnconfirmedFrames = 4096
	// messageOverhead estimates the memory a queued message costs beyond
	// its body, for the high watermark.
	messageOverhead = 256
)

// SetDefaults fills in zero fields.
func (c *Config) SetDefaults() {
	if c.ClientAddr == "" {
		c.ClientAddr = DefaultClientAddr
	}
	if c.MaxFrameSize <= 0 {
		c.MaxFrameSize = wire.DefaultMaxFrameSize
	}
	if c.TickInterval <= 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxUnconfirmedFrames <= 0 {
		c.MaxUnconfirmedFrames = DefaultMaxUnconfirmedFrames
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Broker is one raftmq node: the state machine, its Raft and gossip, the
// client listener and the HTTP server.
type Broker struct {
	cfg      Config
	log      *slog.Logger
	fsm      *fsm.FSM
	node     *cluster.Node
	dispatch *dispatcher
	metrics  *metrics

	ctx    context.Context // ends when the broker stops
	cancel context.CancelFunc
	wg     sync.WaitGroup

	ln      net.Listener
	httpLn  net.Listener
	httpSrv *http.Server

	mu     sync.Mutex
	leader *leaderState // non-nil while this node leads and is ready
	conns  map[*conn]struct{}
	closed bool
}

// leaderState lives while this node is the ready leader.
type leaderState struct {
	cancel    context.CancelFunc
	committer *committer
	done      chan struct{}
}

// Open starts a broker node: it binds its listeners, starts Raft and gossip,
// and serves clients. ctx bounds the start only.
func Open(ctx context.Context, cfg Config) (*Broker, error) {
	cfg.SetDefaults()
	b := &Broker{
		cfg:   cfg,
		log:   cfg.Logger,
		fsm:   fsm.New(),
		conns: make(map[*conn]struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.dispatch = newDispatcher(b)
	b.fsm.SetNotify(b.dispatch.markDirty)

	var err error
	if b.ln, err = net.Listen("tcp", cfg.ClientAddr); err != nil {
		b.cancel()
		return nil, fmt.Errorf("listen for clients on %s: %w", cfg.ClientAddr, err)
	}
	if cfg.Cluster.ClientAddr == "" {
		cfg.Cluster.ClientAddr = b.ln.Addr().String()
	}
	if cfg.HTTPAddr != "" {
		if b.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			b.ln.Close()
			b.cancel()
			return nil, fmt.Errorf("listen for HTTP on %s: %w", cfg.HTTPAddr, err)
		}
		if cfg.Cluster.HTTPAddr == "" {
			cfg.Cluster.HTTPAddr = b.httpLn.Addr().String()
		}
	}
	if cfg.Cluster.Logger == nil {
		cfg.Cluster.Logger = cfg.Logger
	}
	cfg.Cluster.OnLeaderChange = b.onLeaderChange
	b.cfg = cfg

	b.metrics = newMetrics(b)
	b.node, err = cluster.Start(ctx, cfg.Cluster, b.fsm)
	if err != nil {
		b.closeListeners()
		b.cancel()
		return nil, fmt.Errorf("start cluster node: %w", err)
	}

	b.wg.Add(2)
	go func() {
		defer b.wg.Done()
		b.dispatch.run(b.ctx.Done())
	}()
	go func() {
		defer b.wg.Done()
		b.acceptLoop()
	}()
	if b.httpLn != nil {
		b.httpSrv = &http.Server{Handler: b.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			if err := b.httpSrv.Serve(b.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				b.log.Error("http server stopped", "err", err)
			}
		}()
	}
	b.log.Info("broker started", "id", b.node.ID(), "client", b.ln.Addr().String(), "raft", b.node.RaftAddr(), "gossip", b.node.GossipAddr())
	return b, nil
}

// ID returns the node's ID.
func (b *Broker) ID() string { return b.node.ID() }

// ClientAddr returns the address the client listener is bound to.
func (b *Broker) ClientAddr() string { return b.ln.Addr().String() }

// HTTPAddr returns the address the HTTP server is bound to, or "".
func (b *Broker) HTTPAddr() string {
	if b.httpLn == nil {
		return ""
	}
	return b.httpLn.Addr().String()
}

// Node returns the node's cluster membership and Raft.
func (b *Broker) Node() *cluster.Node { return b.node }

// Failed is closed when the node's Raft has stopped on its own
// (cluster.Node.Failed): the broker can serve nothing more and its process
// should stop, to be restarted.
func (b *Broker) Failed() <-chan struct{} { return b.node.Failed() }

// FSM returns the node's state machine.
func (b *Broker) FSM() *fsm.FSM { return b.fsm }

// IsLeader reports whether this node leads and serves writes.
func (b *Broker) IsLeader() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.leader != nil
}

func (b *Broker) acceptLoop() {
	var delay time.Duration
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			if b.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, go on.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			b.log.Warn("accept failed", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-b.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		c := newConn(b, nc)
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			nc.Close()
			return
		}
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.metrics.connections.Inc()
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			c.serve()
			b.mu.Lock()
			delete(b.conns, c)
			b.mu.Unlock()
			b.metrics.connections.Dec()
		}()
	}
}

// onLeaderChange is called by the cluster's leader loop, serially.
func (b *Broker) onLeaderChange(isLeader bool) {
	b.mu.Lock()
	if b.leader != nil {
		old := b.leader
		b.leader = nil
		old.cancel()
		b.mu.Unlock()
		<-old.done
		b.mu.Lock()
	}
	if !isLeader || b.closed {
		conns := b.connList()
		b.mu.Unlock()
		b.dispatch.deactivate()
		// Clients follow the leader: closing their connections makes them
		// find the new one at once instead of waiting for a timeout.
		for _, c := range conns {
			c.close()
		}
		b.log.Info("not the leader")
		return
	}
	ctx, cancel := context.WithCancel(b.ctx)
	ls := &leaderState{cancel: cancel, committer: newCommitter(b.node.Raft(), b.metrics), done: make(chan struct{})}
	b.leader = ls
	b.mu.Unlock()
	b.dispatch.activate()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		ls.committer.run(ctx)
	}()
	go func() {
		defer wg.Done()
		b.tickLoop(ctx)
	}()
	go func() {
		wg.Wait()
		close(ls.done)
	}()
	b.dispatch.markDirty("")
	b.log.Info("leading", "term", b.node.Raft().CurrentTerm())
}

func (b *Broker) connList() []*conn {
	out := make([]*conn, 0, len(b.conns))
	for c := range b.conns {
		out = append(out, c)
	}
	return out
}

// leaderCommitter returns the group commit of the ready leader, or nil.
func (b *Broker) leaderCommitter() *committer {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.leader == nil {
		return nil
	}
	return b.leader.committer
}

// leaderInfo returns the leader's client address and whether this node is
// the ready leader.
func (b *Broker) leaderInfo() (string, bool) {
	return b.leaderClientAddr(), b.IsLeader()
}

// helloLeaderWait is how long a node that knows no leader holds a new
// connection's handshake waiting for one. During an election this answers
// the client the moment the new leader is known, instead of the client
// polling the nodes with growing back-offs. It stays well below the
// client's default dial timeout (3 s).
const helloLeaderWait = time.Second

// awaitLeaderInfo is leaderInfo, but when no leader is known it waits up to
// d for one (checking every few milliseconds) or until ctx ends. Callers
// pass a context that ends with the broker.
func (b *Broker) awaitLeaderInfo(ctx context.Context, d time.Duration) (string, bool) {
	addr, isLeader := b.leaderInfo()
	if addr != "" || isLeader {
		return addr, isLeader
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for addr == "" && !isLeader {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return b.leaderInfo()
		}
		addr, isLeader = b.leaderInfo()
	}
	return addr, isLeader
}

// leaderClientAddr returns the client address of the node clients should
// use, or "" when none is known (including while this node is elected but
// not yet ready).
func (b *Broker) leaderClientAddr() string {
	m, ok := b.node.Leader()
	if !ok {
		return ""
	}
	if m.ID == b.node.ID() && !b.IsLeader() {
		return ""
	}
	return m.ClientAddr
}

func (b *Broker) overWatermark() bool {
	if b.cfg.MemoryHighWatermark <= 0 {
		return false
	}
	n, bytes := b.fsm.Totals()
	return bytes+n*messageOverhead > b.cfg.MemoryHighWatermark
}

// tickLoop proposes Tick commands while this node leads: when a message has
// expired, and when the oldest remembered message ID left the window.
func (b *Broker) tickLoop(ctx context.Context) {
	t := time.NewTicker(b.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now().UnixNano()
		due := false
		b.fsm.View(func(v fsm.View) {
			if e := v.NextExpiry(); e > 0 && e <= now {
				due = true
			}
			if o := v.DedupOldest(); o > 0 && o < now-int64(v.DedupWindow()) {
				due = true
			}
		})
		if !due {
			continue
		}
		cmd := fsm.MustEncode(fsm.OpTick, &fsm.Tick{Time: now})
		if err := b.node.Raft().Apply(cmd, b.cfg.RequestTimeout).Error(); err != nil {
			b.log.Debug("tick failed", "err", err)
		}
	}
}

// applyAdmin runs one admin command through Raft on the leader.
func (b *Broker) applyAdmin(ctx context.Context, op fsm.Op, body any) (wire.Type, any, error) {
	if !b.IsLeader() {
		return 0, nil, errNotLeader
	}
	cmd, err := fsm.Encode(op, body)
	if err != nil {
		return 0, nil, wire.Errorf(wire.CodeInvalidArgument, "%v", err)
	}
	resp, _, _, err := b.node.Apply(ctx, cmd)
	if err != nil {
		return 0, nil, err
	}
	res, ok := resp.(*fsm.Result)
	if !ok || res == nil {
		return 0, nil, fmt.Errorf("%w: unexpected apply response %T", errInternal, resp)
	}
	if res.Err != nil {
		return 0, nil, res.Err
	}
	return wire.TOK, &wire.OK{Count: res.Count}, nil
}

// verifyLeader makes sure this node still leads before it answers a read, so
// inspections and lists are never stale.
func (b *Broker) verifyLeader(ctx context.Context) error {
	if !b.IsLeader() {
		return errNotLeader
	}
	if err := b.node.VerifyLeader(ctx); err != nil {
		return fmt.Errorf("%w: %w", errNotLeader, err)
	}
	return nil
}

func (b *Broker) inspectQueue(ctx context.Context, name string) (wire.Type, any, error) {
	if err := b.verifyLeader(ctx); err != nil {
		return 0, nil, err
	}
	info, ok := b.queueInfo(name)
	if !ok {
		return 0, nil, wire.Errorf(wire.CodeNotFound, "queue %q not found", name)
	}
	return wire.TQueueInfo, &info, nil
}

func (b *Broker) queueInfo(name string) (wire.QueueInfo, bool) {
	var info wire.QueueInfo
	found := false
	b.fsm.View(func(v fsm.View) {
		q, ok := v.Queue(name)
		if !ok {
			return
		}
		found = true
		info = wire.QueueInfo{Name: name, Args: wireQueueArgs(q.Args()), Messages: int64(q.Len()), Bytes: q.Bytes()}
	})
	if !found {
		return info, false
	}
	consumers, unacked := b.dispatch.consumerCount(name)
	info.Consumers = int32(consumers)
	info.Unacked = int64(min(unacked, int(info.Messages)))
	info.Ready = info.Messages - info.Unacked
	return info, true
}

func (b *Broker) listQueues(ctx context.Context) (wire.Type, any, error) {
	if err := b.verifyLeader(ctx); err != nil {
		return 0, nil, err
	}
	var names []string
	b.fsm.View(func(v fsm.View) { names = v.QueueNames() })
	list := &wire.QueueList{Queues: make([]wire.QueueInfo, 0, len(names))}
	for _, n := range names {
		if info, ok := b.queueInfo(n); ok {
			list.Queues = append(list.Queues, info)
		}
	}
	return wire.TQueueList, list, nil
}

func (b *Broker) listExchanges(ctx context.Context) (wire.Type, any, error) {
	if err := b.verifyLeader(ctx); err != nil {
		return 0, nil, err
	}
	list := &wire.ExchangeList{}
	b.fsm.View(func(v fsm.View) {
		for _, x := range v.Exchanges() {
			list.Exchanges = append(list.Exchanges, wire.ExchangeInfo{Name: x.Name, Kind: string(x.Kind), AlternateExchange: x.AlternateExchange})
		}
	})
	return wire.TExchangeList, list, nil
}

func (b *Broker) listBindings(ctx context.Context, exchangeName string) (wire.Type, any, error) {
	if err := b.verifyLeader(ctx); err != nil {
		return 0, nil, err
	}
	list := &wire.BindingList{}
	var missing bool
	b.fsm.View(func(v fsm.View) {
		if exchangeName != "" {
			if _, ok := v.Exchange(exchangeName); !ok {
				missing = true
				return
			}
		}
		for _, x := range v.Bindings(exchangeName) {
			list.Bindings = append(list.Bindings, wire.BindingInfo{
				Source: x.Source, Dest: x.Dest, ToExchange: x.DestKind == 1, Key: x.Key, Args: x.Args,
			})
		}
	})
	if missing {
		return 0, nil, wire.Errorf(wire.CodeNotFound, "exchange %q not found", exchangeName)
	}
	return wire.TBindingList, list, nil
}

func (b *Broker) removeNode(ctx context.Context, id string) (wire.Type, any, error) {
	if !b.node.IsLeader() {
		return 0, nil, errNotLeader
	}
	if err := b.node.RemoveServer(ctx, id); err != nil {
		if errors.Is(err, cluster.ErrUnknownNode) {
			return 0, nil, wire.Errorf(wire.CodeNotFound, "node %q is not in the cluster", id)
		}
		return 0, nil, err
	}
	return wire.TOK, &wire.OK{}, nil
}

// status describes this node and the cluster as this node sees it. Any node
// answers it.
func (b *Broker) status() *wire.StatusInfo {
	st := b.node.Status()
	info := &wire.StatusInfo{
		NodeID: st.ID, State: st.State, LeaderID: st.LeaderID, LeaderAddr: b.leaderClientAddr(),
		Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex, LastLogIndex: st.LastLogIndex,
	}
	for _, m := range b.node.Members() {
		info.Members = append(info.Members, wire.Member{
			ID: m.ID, RaftAddr: m.RaftAddr, ClientAddr: m.ClientAddr, HTTPAddr: m.HTTPAddr,
			Voter: m.Voter, Leader: m.Leader, Alive: m.Alive, Suffrage: m.Suffrage,
		})
	}
	return info
}

func (b *Broker) closeListeners() {
	if b.ln != nil {
		b.ln.Close()
	}
	if b.httpLn != nil {
		b.httpLn.Close()
	}
}

// Close stops the node gracefully: it stops accepting clients, hands
// leadership to another voter if it leads (the node stays a voter, so a
// rolling restart never shrinks the cluster), closes Raft and gossip, and
// waits for its goroutines.
func (b *Broker) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.ln.Close()
	err := b.node.Shutdown(ctx)
	b.stop(ctx)
	return err
}

// Kill stops the node abruptly, as a crash would: no leadership transfer, no
// goodbye to the cluster. For tests.
func (b *Broker) Kill() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	b.ln.Close()
	_ = b.node.Kill()
	b.stop(context.Background())
}

func (b *Broker) stop(ctx context.Context) {
	if b.httpSrv != nil {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = b.httpSrv.Shutdown(sctx)
		cancel()
	}
	b.mu.Lock()
	ls := b.leader
	b.leader = nil
	conns := b.connList()
	b.mu.Unlock()
	if ls != nil {
		ls.cancel()
		<-ls.done
	}
	b.cancel()
	for _, c := range conns {
		c.close()
	}
	b.wg.Wait()
	b.log.Info("broker stopped", "id", b.node.ID())
}
