package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

const (
	// metaInterval is how often a node republishes its gossip metadata
	// (only when it changed, e.g. its applied index moved).
	metaInterval = time.Second
	// metaUpdateWait bounds the wait for a metadata broadcast.
	metaUpdateWait = 250 * time.Millisecond
	// retainSnapshots is how many snapshots the file store keeps.
	retainSnapshots = 2
	// transportTimeout bounds one Raft RPC's network I/O.
	transportTimeout = 10 * time.Second
	// leaveTimeout bounds the gossip leave broadcast in Shutdown.
	leaveTimeout = 2 * time.Second
	// deadNodeReclaim lets a node that died come back under the same name
	// at a different gossip address (a restarted container).
	deadNodeReclaim = 10 * time.Second
)

// Member describes one server as seen from this node: the union of the Raft
// configuration and gossip.
type Member struct {
	ID         string
	RaftAddr   string
	GossipAddr string
	ClientAddr string
	HTTPAddr   string
	// Voter: a voter in the latest Raft configuration.
	Voter bool
	// InRaft: present in the latest Raft configuration (voter or not).
	InRaft bool
	// Alive: gossip currently considers the node alive.
	Alive bool
	// Leader: the node is the Raft leader known to this node.
	Leader bool
	// Suffrage is "voter", "nonvoter" or "none" (not in Raft).
	Suffrage string
}

// Status is a point-in-time view of this node's Raft state.
type Status struct {
	ID string
	// State is "follower", "candidate", "leader" or "shutdown".
	State        string
	LeaderID     string
	Term         uint64
	CommitIndex  uint64
	AppliedIndex uint64
	LastLogIndex uint64
}

// Node is one server: a Raft instance plus memberlist gossip. All methods
// are safe for concurrent use.
type Node struct {
	cfg       Config
	id        string
	log       *slog.Logger
	raft      *raft.Raft
	store     store
	storeKind string // LogStoreWAL or LogStoreBolt
	logWrites logWriteHist
	trans     *raft.NetworkTransport
	stream    *streamLayer
	ml        *memberlist.Memberlist
	g         *gossip

	gossipAddr string // advertised gossip address, fixed at start

	notifyCh      chan bool     // raft.Config.NotifyCh
	leaderKick    chan struct{} // gossip changed: reconcile now
	bootstrapKick chan struct{} // gossip changed or joined: try bootstrap
	stopCh        chan struct{} // closed to stop every loop
	closed        chan struct{} // closed when shutdown has finished
	metaDone      chan struct{} // closed when metaLoop has returned
	leaderDone    chan struct{} // closed when leaderLoop has returned
	failed        chan struct{} // closed when Raft has stopped on its own (see Failed)
	stopping      atomic.Bool

	// mu guards closing and the Add side of wg, so no goroutine is started
	// once shutdown waits for them.
	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup

	// leader-loop state: only the leader loop touches these.
	commits []commitSample

	// configMu serialises Raft configuration changes made by this node
	// (reconcile and RemoveServer). Lock order: configMu, then tombMu.
	configMu sync.Mutex

	tombMu     sync.Mutex
	tombstones map[string]struct{}
}

// Start opens (or creates) the node's state in cfg.DataDir, starts Raft and
// gossip, and returns once both listen. Defaults are applied to cfg. ctx
// bounds startup only. Joining seeds and bootstrapping a new cluster
// continue in the background.
func Start(ctx context.Context, cfg Config, fsm raft.FSM) (*Node, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if fsm == nil {
		return nil, fmt.Errorf("%w: nil FSM", ErrInvalidConfig)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	id, err := loadOrCreateNodeID(cfg.DataDir, cfg.NodeID)
	if err != nil {
		return nil, err
	}
	cfg.NodeID = id
	n := &Node{
		cfg:           cfg,
		id:            id,
		log:           cfg.Logger.With("node", id),
		notifyCh:      make(chan bool, 16),
		leaderKick:    make(chan struct{}, 1),
		bootstrapKick: make(chan struct{}, 1),
		stopCh:        make(chan struct{}),
		closed:        make(chan struct{}),
		metaDone:      make(chan struct{}),
		leaderDone:    make(chan struct{}),
		failed:        make(chan struct{}),
		tombstones:    make(map[string]struct{}),
	}
	// Undo whatever was opened if a later step fails.
	started := false
	defer func() {
		if !started {
			n.closeResources()
		}
	}()

	hlog := newHCLogAdapter(n.log, "raft")
	if n.store, n.storeKind, err = openStore(cfg.LogStore, cfg.DataDir, cfg.WALSegmentSize, hlog); err != nil {
		return nil, err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, retainSnapshots, hlog.Named("snapshot"))
	if err != nil {
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	hasState, err := raft.HasExistingState(n.store, n.store, snaps)
	if err != nil {
		return nil, fmt.Errorf("inspect raft state: %w", err)
	}
	var advertise net.Addr
	if cfg.RaftAdvertise != "" {
		advertise, err = net.ResolveTCPAddr("tcp", cfg.RaftAdvertise)
		if err != nil {
			return nil, fmt.Errorf("%w: resolve RaftAdvertise: %w", ErrInvalidConfig, err)
		}
	}
	stream, err := newStreamLayer(cfg.RaftAddr, advertise)
	if err != nil {
		return nil, fmt.Errorf("raft transport on %s: %w", cfg.RaftAddr, err)
	}
	n.stream = stream
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		Logger:  hlog.Named("transport"),
		MaxPool: 3,
		Timeout: transportTimeout,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.NotifyCh = n.notifyCh
	rc.LeaderWritesInParallel = !cfg.SerialLeaderWrite
	rc.Logger = hlog
	// A server removed by an admin stays up as a non-member follower, so
	// its Node keeps answering Status and Members instead of failing.
	rc.ShutdownOnRemove = false
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	// The cache keeps the newest entries in memory, so the leader sends an
	// entry it has just written without reading and decoding it back from
	// the store (with bolt, about a tenth of the CPU per replicated message
	// under load).
	logs, err := raft.NewLogCache(logCacheSize, timedLogStore{LogStore: n.store, hist: &n.logWrites, log: n.log})
	if err != nil {
		return nil, fmt.Errorf("raft log cache: %w", err)
	}
	if lr, ok := fsm.(LogReadingFSM); ok && !cfg.NoLogReadBack {
		lr.UseLog(logs)
		trailing := rc.TrailingLogs
		rc.CompactionFloor = func() uint64 { return lr.LogFloor(trailing) }
	}
	n.raft, err = raft.NewRaft(rc, wrapFSM(fsm), logs, n.store, snaps, n.trans)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	bootstrapAlone := cfg.BootstrapExpect <= 1 && len(cfg.Join) == 0
	if !hasState && bootstrapAlone {
		conf := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(id), Address: n.trans.LocalAddr(),
		}}}
		if err := n.raft.BootstrapCluster(conf).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return nil, fmt.Errorf("bootstrap single-node cluster: %w", err)
		}
		n.log.Info("bootstrapped a new single-node cluster")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}

	n.g = &gossip{
		peers: make(map[string]peer),
		kicks: []chan struct{}{n.leaderKick, n.bootstrapKick},
		log:   func(msg string, args ...any) { n.log.Debug(msg, args...) },
	}
	if err := n.storeMeta(); err != nil {
		return nil, err
	}
	if n.ml, err = n.startGossip(ctx); err != nil {
		return nil, err
	}
	// Read once, before any goroutine can call UpdateNode: memberlist
	// rewrites its local node in place.
	n.gossipAddr = n.ml.LocalNode().Address()

	n.spawn(func() {
		defer close(n.leaderDone)
		n.leaderLoop()
	})
	n.spawn(func() {
		defer close(n.metaDone)
		n.metaLoop()
	})
	n.spawn(n.watchRaft)
	if seeds := n.seeds(); len(seeds) > 0 {
		n.spawn(func() { n.joinLoop(seeds) })
	}
	if !hasState && cfg.BootstrapExpect > 1 {
		n.spawn(n.bootstrapLoop)
	}
	n.log.Info("node started", "raft", n.RaftAddr(), "gossip", n.GossipAddr(),
		"log_store", n.storeKind, "existing_state", hasState, "bootstrap_expect", cfg.BootstrapExpect)
	started = true
	return n, nil
}

func (n *Node) startGossip(ctx context.Context) (*memberlist.Memberlist, error) {
	mc := memberlist.DefaultLANConfig()
	mc.Name = n.id
	host, port, err := splitHostPortResolve(ctx, n.cfg.GossipAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: GossipAddr: %w", ErrInvalidConfig, err)
	}
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = "", port
	if n.cfg.GossipAdvertise != "" {
		ahost, aport, err := splitHostPortResolve(ctx, n.cfg.GossipAdvertise)
		if err != nil {
			return nil, fmt.Errorf("%w: GossipAdvertise: %w", ErrInvalidConfig, err)
		}
		mc.AdvertiseAddr, mc.AdvertisePort = ahost, aport
		if aport == 0 {
			mc.AdvertisePort = port
		}
	}
	mc.Delegate = n.g
	mc.Events = n.g
	mc.DeadNodeReclaimTime = deadNodeReclaim
	mc.Logger = log.New(&levelWriter{l: n.log.With("component", "memberlist")}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s: %w", n.cfg.GossipAddr, err)
	}
	return ml, nil
}

// splitHostPortResolve splits "host:port" and resolves host to an IP
// literal, which memberlist requires for binding.
func splitHostPortResolve(ctx context.Context, hp string) (string, int, error) {
	host, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if host == "" {
		return "0.0.0.0", port, nil
	}
	if net.ParseIP(host) != nil {
		return host, port, nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", 0, fmt.Errorf("resolve %q: %w", host, err)
	}
	if len(ips) == 0 {
		return "", 0, fmt.Errorf("resolve %q: no addresses", host)
	}
	return ips[0].IP.String(), port, nil
}

// seeds returns the configured join seeds minus this node's own gossip
// address, so a shared seed list can be given to every node.
func (n *Node) seeds() []string {
	self := n.GossipAddr()
	var out []string
	for _, s := range n.cfg.Join {
		if s != self {
			out = append(out, s)
		}
	}
	return out
}

// spawn starts f in a goroutine owned by n; it reports false (and starts
// nothing) once shutdown has begun.
func (n *Node) spawn(f func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		f()
	}()
	return true
}

// await runs fn (which blocks on a raft future) in an owned goroutine and
// waits for it or ctx. Raft resolves every future by its shutdown at the
// latest, so the goroutine always ends.
func (n *Node) await(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	if !n.spawn(func() { done <- fn() }) {
		return ErrShutdown
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ID returns the node's stable ID.
func (n *Node) ID() string { return n.id }

// Raft returns the underlying Raft instance, for metrics and tests.
func (n *Node) Raft() *raft.Raft { return n.raft }

// RaftAddr returns the address other nodes dial for Raft (the bound
// address, with port 0 resolved, unless RaftAdvertise was set).
func (n *Node) RaftAddr() string { return string(n.trans.LocalAddr()) }

// GossipAddr returns the gossip address other nodes join (the bound
// address, with port 0 resolved, unless GossipAdvertise was set).
func (n *Node) GossipAddr() string { return n.gossipAddr }

// IsLeader reports whether this node is currently the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Apply proposes cmd and waits for it to be committed and applied locally.
// It returns the FSM's response and the log index and term of the entry.
// Errors: ErrNotLeader (nothing proposed; also ErrNoLeader when no leader
// is known), ErrIndeterminate (leadership lost, or ctx ended, after the
// command was handed to Raft: it may still commit), ErrShutdown, and ctx
// errors (a ctx that ends after proposing yields an error matching both
// ErrIndeterminate and the ctx error).
func (n *Node) Apply(ctx context.Context, cmd []byte) (resp any, index, term uint64, err error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, fmt.Errorf("apply: %w", err)
	}
	switch n.raft.State() {
	case raft.Leader:
	case raft.Shutdown:
		return nil, 0, 0, fmt.Errorf("apply: %w", ErrShutdown)
	default:
		return nil, 0, 0, n.notLeaderErr("apply")
	}
	type result struct {
		f   raft.ApplyFuture
		err error
	}
	done := make(chan result, 1)
	started := n.spawn(func() {
		f := n.raft.Apply(cmd, 0)
		done <- result{f, f.Error()}
	})
	if !started {
		return nil, 0, 0, fmt.Errorf("apply: %w", ErrShutdown)
	}
	select {
	case r := <-done:
		if r.err != nil {
			return nil, 0, 0, n.mapRaftErr("apply", r.err, true)
		}
		if ar, ok := r.f.Response().(applyResult); ok {
			return ar.resp, r.f.Index(), ar.term, nil
		}
		return r.f.Response(), r.f.Index(), 0, nil
	case <-ctx.Done():
		return nil, 0, 0, fmt.Errorf("apply: %w: %w", ErrIndeterminate, ctx.Err())
	}
}

// Leader returns the current leader as known to this node, with the
// addresses it publishes in gossip. ok is false when no leader is known.
func (n *Node) Leader() (m Member, ok bool) {
	addr, id := n.raft.LeaderWithID()
	if id == "" {
		return Member{}, false
	}
	for _, mem := range n.Members() {
		if mem.ID == string(id) {
			return mem, true
		}
	}
	return Member{ID: string(id), RaftAddr: string(addr), Leader: true, Suffrage: "voter", Voter: true, InRaft: true}, true
}

// VerifyLeader confirms with a quorum that this node still leads. It
// returns ErrNotLeader when it does not.
func (n *Node) VerifyLeader(ctx context.Context) error {
	err := n.await(ctx, func() error { return n.raft.VerifyLeader().Error() })
	return n.mapRaftErr("verify leader", err, false)
}

// Barrier waits until every entry committed before the call has been
// applied to the local FSM. Leader only: ErrNotLeader otherwise.
func (n *Node) Barrier(ctx context.Context) error {
	err := n.await(ctx, func() error { return n.raft.Barrier(0).Error() })
	return n.mapRaftErr("barrier", err, false)
}

// Members returns the union of the latest Raft configuration and the
// gossip membership, sorted by ID.
func (n *Node) Members() []Member {
	byID := make(map[string]*Member)
	get := func(id string) *Member {
		m, ok := byID[id]
		if !ok {
			m = &Member{ID: id, Suffrage: "none"}
			byID[id] = m
		}
		return m
	}
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			m := get(string(s.ID))
			m.RaftAddr = string(s.Address)
			m.InRaft = true
			m.Voter = s.Suffrage == raft.Voter
			m.Suffrage = suffrageName(s.Suffrage)
		}
	}
	for _, p := range n.g.snapshot() {
		m := get(p.meta.ID)
		m.GossipAddr = p.gossipAddr
		m.ClientAddr = p.meta.Client
		m.HTTPAddr = p.meta.HTTP
		m.Alive = p.alive
		if m.RaftAddr == "" {
			m.RaftAddr = p.meta.RaftAddr
		}
	}
	self := get(n.id)
	self.Alive = n.raft.State() != raft.Shutdown
	self.ClientAddr, self.HTTPAddr = n.cfg.ClientAddr, n.cfg.HTTPAddr
	if self.RaftAddr == "" {
		self.RaftAddr = n.RaftAddr()
	}
	if _, leader := n.raft.LeaderWithID(); leader != "" {
		if m, ok := byID[string(leader)]; ok {
			m.Leader = true
		}
	}
	out := make([]Member, 0, len(byID))
	for _, m := range byID {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func suffrageName(s raft.ServerSuffrage) string {
	if s == raft.Voter {
		return "voter"
	}
	return "nonvoter" // Nonvoter, and the deprecated Staging
}

// Status returns this node's Raft state.
func (n *Node) Status() Status {
	_, leader := n.raft.LeaderWithID()
	return Status{
		ID:           n.id,
		State:        strings.ToLower(n.raft.State().String()),
		LeaderID:     string(leader),
		Term:         n.raft.CurrentTerm(),
		CommitIndex:  n.raft.CommitIndex(),
		AppliedIndex: n.raft.AppliedIndex(),
		LastLogIndex: n.raft.LastIndex(),
	}
}

// RemoveServer removes the server id from the Raft configuration (an
// explicit, admin-initiated leave). Leader only: ErrNotLeader otherwise;
// ErrUnknownNode if id is not in the configuration. The ID is tombstoned so
// reconciliation never adds it back; a removed node can rejoin only with a
// wiped data directory, which gives it a new ID.
func (n *Node) RemoveServer(ctx context.Context, id string) error {
	op := fmt.Sprintf("remove server %q", id)
	if !n.IsLeader() {
		return n.notLeaderErr(op)
	}
	err := n.await(ctx, func() error {
		n.configMu.Lock() // see reconcile
		defer n.configMu.Unlock()
		f := n.raft.GetConfiguration()
		if err := f.Error(); err != nil {
			return err
		}
		if !slices.ContainsFunc(f.Configuration().Servers, func(s raft.Server) bool { return string(s.ID) == id }) {
			return ErrUnknownNode
		}
		n.tombMu.Lock()
		n.tombstones[id] = struct{}{}
		n.tombMu.Unlock()
		return n.raft.RemoveServer(raft.ServerID(id), 0, 0).Error()
	})
	if err != nil {
		return n.mapRaftErr(op, err, true)
	}
	n.log.Info("removed server from raft", "id", id)
	return nil
}

func (n *Node) tombstoned(id string) bool {
	n.tombMu.Lock()
	defer n.tombMu.Unlock()
	_, ok := n.tombstones[id]
	return ok
}

// TransferLeadership hands leadership to the most up-to-date other voter
// and waits for the transfer to finish. Leader only: ErrNotLeader
// otherwise.
func (n *Node) TransferLeadership(ctx context.Context) error {
	if !n.IsLeader() {
		return n.notLeaderErr("transfer leadership")
	}
	err := n.await(ctx, func() error { return n.raft.LeadershipTransfer().Error() })
	return n.mapRaftErr("transfer leadership", err, false)
}

// Shutdown stops the node gracefully: it hands leadership to another voter
// if it leads, leaves gossip, stops Raft and closes its stores. The node
// stays a voter in the Raft configuration, so restarting it (rolling
// restart) never shrinks the cluster. A failed leadership transfer is
// logged and does not stop the shutdown. Calling it again waits for the
// first call.
func (n *Node) Shutdown(ctx context.Context) error {
	if !n.stopping.CompareAndSwap(false, true) {
		select {
		case <-n.closed:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("shutdown: %w", ctx.Err())
		}
	}
	if n.IsLeader() {
		start := time.Now()
		if err := n.TransferLeadership(ctx); err != nil {
			n.log.Warn("leadership transfer before shutdown failed", "err", err)
		} else {
			n.log.Info("leadership transferred before shutdown", "took", time.Since(start))
		}
	}
	return n.stop(true)
}

// Kill stops the node abruptly, as a crash would look to its peers: no
// leadership transfer and no gossip leave. Meant for tests.
func (n *Node) Kill() error {
	if !n.stopping.CompareAndSwap(false, true) {
		<-n.closed
		return nil
	}
	return n.stop(false)
}

// stop shuts everything down in reverse start order.
func (n *Node) stop(graceful bool) error {
	defer close(n.closed)
	n.mu.Lock()
	n.closing = true
	n.mu.Unlock()
	var errs []error
	close(n.stopCh)
	// No metadata update may follow the leave: it would announce the node
	// alive again.
	<-n.metaDone
	if graceful {
		if err := n.ml.Leave(leaveTimeout); err != nil {
			n.log.Warn("gossip leave", "err", err)
		}
	}
	// The leader loop ends a leadership with OnLeaderChange(false), which
	// lets the caller wait for the commands it proposed. Raft must still run
	// then, so that they get their real outcome: a shutdown answers the
	// commands still queued for the FSM with ErrRaftShutdown (stock
	// hashicorp/raft never answered them, and a caller waiting on one waited
	// for ever; see third_party/hashicorp-raft/PATCHES.md).
	<-n.leaderDone
	n.stream.stopDialing()
	if err := n.raft.Shutdown().Error(); err != nil { // also closes the transport
		errs = append(errs, fmt.Errorf("raft shutdown: %w", err))
	}
	n.wg.Wait()
	if err := n.ml.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("gossip shutdown: %w", err))
	}
	if err := n.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close raft store: %w", err))
	}
	n.log.Info("node stopped", "graceful", graceful)
	return errors.Join(errs...)
}

// closeResources releases whatever Start opened before it failed.
func (n *Node) closeResources() {
	if n.ml != nil {
		_ = n.ml.Shutdown()
	}
	if n.stream != nil {
		n.stream.stopDialing()
	}
	if n.raft != nil {
		_ = n.raft.Shutdown().Error() // closes the transport
	} else if n.trans != nil {
		_ = n.trans.Close()
	}
	if n.store != nil {
		_ = n.store.Close()
	}
}

// localMeta is this node's current gossip metadata.
func (n *Node) localMeta() nodeMeta {
	return nodeMeta{
		Version:  metaVersion,
		ID:       n.id,
		RaftAddr: n.RaftAddr(),
		Client:   n.cfg.ClientAddr,
		HTTP:     n.cfg.HTTPAddr,
		Applied:  n.raft.AppliedIndex(),
		HasState: n.raft.LastIndex() > 0,
	}
}

// storeMeta encodes the local metadata for NodeMeta.
func (n *Node) storeMeta() error {
	_, err := n.swapMeta()
	return err
}

// swapMeta re-encodes the local metadata for NodeMeta and reports whether
// it changed. An encoding above memberlist's limit is refused (memberlist
// would panic on it); Validate's length limits make that unreachable.
func (n *Node) swapMeta() (changed bool, err error) {
	b, err := encodeMeta(n.localMeta())
	if err != nil {
		return false, err
	}
	if len(b) > memberlist.MetaMaxSize {
		return false, fmt.Errorf("gossip metadata is %d bytes, above %d", len(b), memberlist.MetaMaxSize)
	}
	if old := n.g.meta.Load(); old != nil && bytes.Equal(*old, b) {
		return false, nil
	}
	n.g.meta.Store(&b)
	return true, nil
}

// metaLoop republishes the gossip metadata when it changes, at most about
// once per metaInterval.
func (n *Node) metaLoop() {
	n.every(metaInterval, func() bool {
		changed, err := n.swapMeta()
		if err != nil {
			n.log.Error("gossip metadata", "err", err)
			return true
		}
		if changed {
			// The update is queued for gossip either way; the timeout only
			// bounds how long this loop (and so shutdown) waits for it.
			if err := n.ml.UpdateNode(metaUpdateWait); err != nil {
				n.log.Debug("gossip metadata update", "err", err)
			}
		}
		return true
	})
}

// every calls fn every d until the node stops or fn returns false.
func (n *Node) every(d time.Duration, fn func() bool) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-n.stopCh:
			return
		case <-t.C:
			if !fn() {
				return
			}
		}
	}
}

// LogStore is the kind of log store the node opened: LogStoreWAL or
// LogStoreBolt.
func (n *Node) LogStore() string { return n.storeKind }

// Failed is closed when Raft has stopped on its own, without Shutdown or
// Kill: after its own log write failed while the followers committed
// entries its state machine had applied, a leader stops rather than go on
// with a state machine ahead of its log. Such a node can do nothing more
// until it is restarted, which rebuilds the state machine from the snapshot
// and the log; the process should stop (cmd/node exits with status 1).
func (n *Node) Failed() <-chan struct{} { return n.failed }

// raftWatchEvery is how often watchRaft looks at Raft's state.
const raftWatchEvery = 250 * time.Millisecond

// watchRaft closes n.failed if Raft stops while the node is not stopping.
func (n *Node) watchRaft() {
	n.every(raftWatchEvery, func() bool {
		if n.raft.State() != raft.Shutdown || n.stopping.Load() {
			return true
		}
		n.log.Error("raft stopped on its own (see the errors before this); the node must be restarted")
		close(n.failed)
		return false
	})
}

// LogWrites returns how long this node's log store has taken to store each
// batch of Raft entries (write and sync) since the node started.
func (n *Node) LogWrites() LogWriteStats { return n.logWrites.stats() }
