package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/raftmq/raftmq/internal/testaddr"
)

// testFSM appends every command to a slice; a snapshot is the msgpack of
// the slice. It counts restores so tests can tell a snapshot install.
type testFSM struct {
	mu             sync.Mutex
	entries        [][]byte
	restores       int
	lastRestoreLen int
}

func (f *testFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = append(f.entries, bytes.Clone(l.Data))
	return len(f.entries)
}

func (f *testFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &testSnapshot{entries: slices.Clone(f.entries)}, nil
}

func (f *testFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var entries [][]byte
	if err := msgpack.NewDecoder(rc).Decode(&entries); err != nil {
		return fmt.Errorf("decode test snapshot: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.entries = entries
	f.restores++
	f.lastRestoreLen = len(entries)
	return nil
}

func (f *testFSM) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.entries)
}

func (f *testFSM) snapshotEntries() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.entries)
}

func (f *testFSM) restoreInfo() (count, lastLen int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.restores, f.lastRestoreLen
}

type testSnapshot struct{ entries [][]byte }

func (s *testSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := msgpack.NewEncoder(sink).Encode(s.entries); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist test snapshot: %w", err)
	}
	return sink.Close()
}

func (s *testSnapshot) Release() {}

// fastDir returns a data directory on tmpfs when the machine has one, for
// tests that write far more than they fsync-test.
func fastDir(t testing.TB) string {
	t.Helper()
	if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("/dev/shm", "cluster-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// testLogger discards logs unless CLUSTER_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("CLUSTER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// tnode is a started Node with its FSM, config and leadership callbacks.
type tnode struct {
	*Node
	fsm *testFSM
	cfg Config

	mu     sync.Mutex
	events []bool
}

func (tn *tnode) leaderEvents() []bool {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	return slices.Clone(tn.events)
}

func newConfig(t testing.TB) Config {
	t.Helper()
	// Fixed ports outside the ephemeral range: restartNode binds the same
	// ones, which an outgoing connection could otherwise take.
	return Config{
		DataDir:    t.TempDir(),
		RaftAddr:   testaddr.Loopback(t),
		GossipAddr: testaddr.Loopback(t),
		Logger:     testLogger(),
	}
}

func startNode(t testing.TB, cfg Config) *tnode {
	t.Helper()
	tn := &tnode{fsm: &testFSM{}, cfg: cfg}
	cfg.OnLeaderChange = func(isLeader bool) {
		tn.mu.Lock()
		tn.events = append(tn.events, isLeader)
		tn.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg, tn.fsm)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	tn.Node = n
	t.Cleanup(func() { _ = n.Kill() })
	return tn
}

// restartNode starts tn again from its data dir, at the same addresses,
// with a fresh FSM.
func restartNode(t testing.TB, tn *tnode, join []string) *tnode {
	t.Helper()
	cfg := tn.cfg
	cfg.RaftAddr = tn.RaftAddr()
	cfg.GossipAddr = tn.GossipAddr()
	cfg.Join = join
	return startNode(t, cfg)
}

// startCluster starts size nodes with BootstrapExpect size, the others
// joining the first, and waits for a leader with size voters. Unless mod
// says otherwise the Raft timings are twice the LAN defaults: tests share
// a small machine with other work, and a stall longer than the leader lease
// would depose a leader in the middle of a test that is not about that.
func startCluster(t testing.TB, size int, mod func(c *Config)) []*tnode {
	t.Helper()
	var nodes []*tnode
	for i := range size {
		cfg := newConfig(t)
		cfg.HeartbeatTimeout = time.Second
		cfg.ElectionTimeout = time.Second
		cfg.LeaderLeaseTimeout = time.Second
		cfg.BootstrapExpect = size
		cfg.ClientAddr = fmt.Sprintf("127.0.0.1:%d", 16570+i)
		cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", 16580+i)
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		if mod != nil {
			mod(&cfg)
		}
		nodes = append(nodes, startNode(t, cfg))
	}
	waitFor(t, 20*time.Second, "a leader with all voters", func() bool {
		l := leaderOf(nodes)
		return l != nil && len(voters(l)) == size
	})
	return nodes
}

// lanTimings restores the default (LAN) Raft timings, for tests that
// measure failover.
func lanTimings(c *Config) {
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = 0, 0, 0
}

// applyOnLeader applies data on whichever of nodes leads, retrying on
// leadership changes as a client would, and returns the node that
// committed it. A retry after ErrIndeterminate may apply data twice, so
// callers compare FSMs rather than count entries.
func applyOnLeader(t testing.TB, nodes []*tnode, data string) *tnode {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var err error
		if l := leaderOf(nodes); l != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _, _, err = l.Apply(ctx, []byte(data))
			cancel()
			if err == nil {
				return l
			}
			if !errors.Is(err, ErrNotLeader) && !errors.Is(err, ErrIndeterminate) {
				t.Fatalf("apply %q on %s: %v", data, l.ID(), err)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("apply %q: no leader committed it within 15s (last error %v)", data, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sameEntries reports whether two FSMs hold the same entries.
func sameEntries(a, b *testFSM) bool {
	return slices.EqualFunc(a.snapshotEntries(), b.snapshotEntries(), bytes.Equal)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdsFor checks that cond stays true for d.
func holdsFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !cond() {
			t.Fatalf("%s stopped holding", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// others returns nodes without n.
func others(nodes []*tnode, n *tnode) []*tnode {
	var rest []*tnode
	for _, o := range nodes {
		if o != n {
			rest = append(rest, o)
		}
	}
	return rest
}

func leaderOf(nodes []*tnode) *tnode {
	for _, n := range nodes {
		if n != nil && n.IsLeader() {
			return n
		}
	}
	return nil
}

func followersOf(nodes []*tnode) []*tnode {
	var out []*tnode
	for _, n := range nodes {
		if !n.IsLeader() {
			out = append(out, n)
		}
	}
	return out
}

// voters returns the IDs of the voters in n's latest Raft configuration.
func voters(n *tnode) []string {
	var out []string
	for _, m := range n.Members() {
		if m.Voter {
			out = append(out, m.ID)
		}
	}
	return out
}

func suffrageOf(n *tnode, id string) string {
	for _, m := range n.Members() {
		if m.ID == id {
			return m.Suffrage
		}
	}
	return ""
}

func mustApply(t testing.TB, n *tnode, data string) (resp any, index, term uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, index, term, err := n.Apply(ctx, []byte(data))
	if err != nil {
		t.Fatalf("apply %q on %s: %v", data, n.ID(), err)
	}
	return resp, index, term
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// killWithin kills n and fails the test if Kill does not return within d;
// why says what a hang would mean.
func killWithin(t testing.TB, n *Node, d time.Duration, why string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- n.Kill() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("kill: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("Kill did not return in %v: %s", d, why)
	}
}
