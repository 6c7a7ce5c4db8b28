package testcluster

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/internal/testaddr"
)

// DefaultWait bounds WaitLeader and the other waits of this package.
const DefaultWait = 20 * time.Second

// Option configures Start.
type Option func(*settings)

type settings struct {
	configure func(i int, cfg *broker.Config)
	logger    *slog.Logger
}

// WithConfig lets a test adjust each node's configuration before its first
// start (Raft timeouts, watermark...). Addresses and the data directory are
// set by the cluster; leave them alone.
func WithConfig(f func(i int, cfg *broker.Config)) Option {
	return func(s *settings) { s.configure = f }
}

// WithLogger sends the nodes' logs to l.
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.logger = l } }

// Cluster is a set of in-process nodes. Its methods are safe for concurrent
// use. Node indexes run from 0 to Size()-1.
type Cluster struct {
	t testing.TB
	s settings

	mu    sync.Mutex
	nodes []*node
}

type node struct {
	b   *broker.Broker // nil while down
	cfg broker.Config  // concrete addresses once started
}

// Start starts n nodes that form one cluster (bootstrap-expect n, joined
// through the first node's gossip address), waits for a leader and
// registers their shutdown with t.Cleanup.
func Start(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("testcluster: %d nodes", n)
	}
	c := &Cluster{t: t}
	for _, o := range opts {
		o(&c.s)
	}
	if c.s.logger == nil {
		c.s.logger = testLogger()
	}
	// The data dirs come first: t.Cleanup runs last-registered first, so
	// the nodes must be shut down (registered after) before their dirs are
	// removed, or a node still writing a snapshot makes the removal fail.
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = t.TempDir()
	}
	t.Cleanup(c.shutdown)
	var seed string
	for i := range n {
		// Fixed ports outside the ephemeral range: a restarted node binds
		// the same ones, which an outgoing connection could otherwise take.
		cfg := broker.Config{
			ClientAddr: testaddr.Loopback(t),
			Logger:     c.s.logger.With("node", i),
		}
		cfg.Cluster.DataDir = dirs[i]
		cfg.Cluster.NodeID = fmt.Sprintf("node%d", i)
		cfg.Cluster.RaftAddr = testaddr.Loopback(t)
		cfg.Cluster.GossipAddr = testaddr.Loopback(t)
		cfg.Cluster.BootstrapExpect = n
		if seed != "" {
			cfg.Cluster.Join = []string{seed}
		}
		if c.s.configure != nil {
			c.s.configure(i, &cfg)
		}
		nd := &node{cfg: cfg}
		c.mu.Lock()
		c.nodes = append(c.nodes, nd)
		c.mu.Unlock()
		if err := c.open(nd); err != nil {
			t.Fatalf("testcluster: start node %d: %v", i, err)
		}
		if i == 0 {
			seed = nd.cfg.Cluster.GossipAddr
		}
	}
	c.WaitLeader()
	return c
}

func testLogger() *slog.Logger {
	lvl := strings.ToLower(os.Getenv("RAFTMQ_TEST_LOG"))
	if lvl == "" {
		return slog.New(slog.DiscardHandler)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(lvl)); err != nil {
		l = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// open starts nd's broker and records its concrete addresses, so that a
// restart binds the same ones.
func (c *Cluster) open(nd *node) error {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultWait)
	defer cancel()
	var b *broker.Broker
	var err error
	// A port just released may take a moment to be bindable again.
	for {
		b, err = broker.Open(ctx, nd.cfg)
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	nd.b = b
	nd.cfg.ClientAddr = b.ClientAddr()
	nd.cfg.Cluster.RaftAddr = b.Node().RaftAddr()
	nd.cfg.Cluster.GossipAddr = b.Node().GossipAddr()
	c.mu.Unlock()
	return nil
}

// shutdown kills every running node.
func (c *Cluster) shutdown() {
	c.mu.Lock()
	var live []*broker.Broker
	for _, nd := range c.nodes {
		if nd.b != nil {
			live = append(live, nd.b)
			nd.b = nil
		}
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, b := range live {
		wg.Go(b.Kill)
	}
	wg.Wait()
}

// Size returns the number of nodes, running or not.
func (c *Cluster) Size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.nodes)
}

// Node returns node i's broker, or nil while it is down.
func (c *Cluster) Node(i int) *broker.Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].b
}

// Index returns b's node index, or -1.
func (c *Cluster) Index(b *broker.Broker) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, nd := range c.nodes {
		if nd.b == b && b != nil {
			return i
		}
	}
	return -1
}

// Leader returns the running node that leads now (and serves clients), or
// nil.
func (c *Cluster) Leader() *broker.Broker {
	i := c.LeaderIndex()
	if i < 0 {
		return nil
	}
	return c.Node(i)
}

// LeaderIndex returns the index of the running node that leads now, or -1.
func (c *Cluster) LeaderIndex() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, nd := range c.nodes {
		if nd.b != nil && nd.b.IsLeader() {
			return i
		}
	}
	return -1
}

// Followers returns the running nodes that do not lead.
func (c *Cluster) Followers() []*broker.Broker {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*broker.Broker
	for _, nd := range c.nodes {
		if nd.b != nil && !nd.b.IsLeader() {
			out = append(out, nd.b)
		}
	}
	return out
}

// ClientAddrs returns every node's client address, running or not (a
// node keeps its address across restarts).
func (c *Cluster) ClientAddrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.nodes))
	for i, nd := range c.nodes {
		out[i] = nd.cfg.ClientAddr
	}
	return out
}

// ClientAddr returns node i's client address.
func (c *Cluster) ClientAddr(i int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i].cfg.ClientAddr
}

// WaitLeader waits until exactly one running node leads and every running
// node knows the leader's client address, and returns the leader. It fails
// the test after DefaultWait.
func (c *Cluster) WaitLeader() *broker.Broker {
	c.t.Helper()
	var b *broker.Broker
	c.WaitFor(DefaultWait, "a leader known to every running node", func() bool {
		b = c.Leader()
		if b == nil {
			return false
		}
		want := b.ClientAddr()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, nd := range c.nodes {
			if nd.b == nil || nd.b == b {
				continue
			}
			if nd.b.IsLeader() {
				return false
			}
			m, ok := nd.b.Node().Leader()
			if !ok || m.ClientAddr != want {
				return false
			}
		}
		return true
	})
	return b
}

// WaitFor polls cond every 10 ms until it holds, and fails the test with
// what if it does not within d.
func (c *Cluster) WaitFor(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("testcluster: timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill stops node i abruptly, as a crash would. It does nothing if the node
// is down.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	b := c.nodes[i].b
	c.nodes[i].b = nil
	c.mu.Unlock()
	if b != nil {
		b.Kill()
	}
}

// Stop stops node i gracefully (leadership transfer if it leads). It does
// nothing if the node is down.
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	c.mu.Lock()
	b := c.nodes[i].b
	c.nodes[i].b = nil
	c.mu.Unlock()
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), DefaultWait)
	defer cancel()
	if err := b.Close(ctx); err != nil {
		c.t.Logf("testcluster: stop node %d: %v", i, err)
	}
}

// RestartAll kills every node, as a power cut would, starts them all again
// from their data directories and waits for a leader.
func (c *Cluster) RestartAll() *broker.Broker {
	c.t.Helper()
	for i := range c.Size() {
		c.Kill(i)
	}
	for i := range c.Size() {
		c.Restart(i)
	}
	return c.WaitLeader()
}

// Restart starts node i again, with its data directory and addresses,
// joining the other nodes' gossip addresses. It does not wait for a leader.
func (c *Cluster) Restart(i int) *broker.Broker {
	c.t.Helper()
	c.mu.Lock()
	nd := c.nodes[i]
	if nd.b != nil {
		c.mu.Unlock()
		c.t.Fatalf("testcluster: restart node %d: it is running", i)
	}
	var join []string
	for j, o := range c.nodes {
		if j != i {
			join = append(join, o.cfg.Cluster.GossipAddr)
		}
	}
	nd.cfg.Cluster.Join = join
	c.mu.Unlock()
	if err := c.open(nd); err != nil {
		c.t.Fatalf("testcluster: restart node %d: %v", i, err)
	}
	return c.Node(i)
}
