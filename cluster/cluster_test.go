package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestThreeNodesBootstrapExpect(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	leader := leaderOf(nodes)

	for _, n := range nodes {
		if got := voters(n); len(got) != 3 {
			t.Errorf("%s sees voters %v, want 3", n.ID(), got)
		}
	}
	// Every node names the same leader, with the client address the leader
	// publishes in gossip.
	for _, n := range nodes {
		waitFor(t, 5*time.Second, "leader known on "+n.ID(), func() bool {
			m, ok := n.Leader()
			return ok && m.ID == leader.ID() && m.ClientAddr == leader.cfg.ClientAddr &&
				m.HTTPAddr == leader.cfg.HTTPAddr && m.RaftAddr == leader.RaftAddr() && m.Leader
		})
	}
	waitFor(t, 5*time.Second, "OnLeaderChange(true) on the leader", func() bool {
		return slices.Equal(leader.leaderEvents(), []bool{true})
	})

	var lastIndex uint64
	for i := range 100 {
		resp, index, term := mustApply(t, leader, fmt.Sprintf("cmd-%d", i))
		if resp != i+1 {
			t.Fatalf("apply %d: response %v, want %d", i, resp, i+1)
		}
		if index <= lastIndex {
			t.Fatalf("apply %d: index %d not above %d", i, index, lastIndex)
		}
		if st := leader.Status(); term != st.Term {
			t.Fatalf("apply %d: term %d, leader term %d", i, term, st.Term)
		}
		lastIndex = index
	}
	// Proposing through Raft directly: Response unwraps the same way.
	f := leader.Raft().Apply([]byte("direct"), 0)
	if err := f.Error(); err != nil {
		t.Fatalf("direct apply: %v", err)
	}
	if resp, term := Response(f); resp != 101 || term != leader.Status().Term {
		t.Fatalf("Response() = %v, %d; want 101, term %d", resp, term, leader.Status().Term)
	}
	want := leader.fsm.snapshotEntries()
	for _, n := range nodes {
		waitFor(t, 5*time.Second, "replication to "+n.ID(), func() bool { return n.fsm.len() == 101 })
		if got := n.fsm.snapshotEntries(); !slices.EqualFunc(got, want, func(a, b []byte) bool { return string(a) == string(b) }) {
			t.Fatalf("%s FSM differs from the leader's", n.ID())
		}
		st := n.Status()
		if st.LeaderID != leader.ID() || st.AppliedIndex < lastIndex || st.CommitIndex < lastIndex || st.LastLogIndex < lastIndex {
			t.Errorf("%s status %+v, want leader %s and indexes >= %d", n.ID(), st, leader.ID(), lastIndex)
		}
	}
	if st := leader.Status(); st.State != "leader" {
		t.Errorf("leader state %q", st.State)
	}

	fol := followersOf(nodes)[0]
	if fol.Status().State != "follower" {
		t.Errorf("follower state %q", fol.Status().State)
	}
	_, _, _, err := fol.Apply(ctxT(t, time.Second), []byte("x"))
	if !errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNoLeader) {
		t.Errorf("apply on follower: %v, want ErrNotLeader with a known leader", err)
	}
	if err := fol.VerifyLeader(ctxT(t, time.Second)); !errors.Is(err, ErrNotLeader) {
		t.Errorf("VerifyLeader on follower: %v", err)
	}
	if err := leader.VerifyLeader(ctxT(t, 5*time.Second)); err != nil {
		t.Errorf("VerifyLeader on leader: %v", err)
	}
	if err := leader.Barrier(ctxT(t, 5*time.Second)); err != nil {
		t.Errorf("Barrier on leader: %v", err)
	}
}

func TestSingleNodeDefaultsAndRestart(t *testing.T) {
	cfg := newConfig(t) // only DataDir, loopback port 0 and a logger
	n := startNode(t, cfg)
	waitFor(t, 10*time.Second, "single node leadership", func() bool {
		return n.IsLeader() && len(n.leaderEvents()) == 1
	})
	for i := range 3 {
		mustApply(t, n, fmt.Sprintf("e%d", i))
	}
	id := n.ID()
	stored, err := os.ReadFile(filepath.Join(cfg.DataDir, "node-id"))
	if err != nil || strings.TrimSpace(string(stored)) != id {
		t.Fatalf("node-id file %q (%v), want %q", stored, err, id)
	}
	if m := n.Members(); len(m) != 1 || !m[0].Voter || !m[0].Leader || !m[0].Alive || m[0].ID != id {
		t.Fatalf("members %+v", m)
	}
	lastIndex := n.Status().LastLogIndex

	// Mapping of raft errors.
	if err := n.mapRaftErr("x", raft.ErrLeadershipLost, true); !errors.Is(err, ErrIndeterminate) {
		t.Errorf("leadership lost after proposing: %v", err)
	}
	if err := n.mapRaftErr("x", raft.ErrRaftShutdown, true); !errors.Is(err, ErrShutdown) {
		t.Errorf("raft shutdown: %v", err)
	}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := n.Apply(canceled, []byte("x")); !errors.Is(err, context.Canceled) || errors.Is(err, ErrIndeterminate) {
		t.Errorf("apply with a canceled context: %v", err)
	}

	if err := n.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := n.Shutdown(ctxT(t, time.Second)); err != nil {
		t.Fatalf("second shutdown: %v", err)
	}
	if got := n.leaderEvents(); !slices.Equal(got, []bool{true, false}) {
		t.Errorf("leader events %v, want [true false]", got)
	}
	if _, _, _, err := n.Apply(ctxT(t, time.Second), []byte("x")); !errors.Is(err, ErrShutdown) {
		t.Errorf("apply after shutdown: %v", err)
	}

	// Restart from the same directory on new ports: same ID, no second
	// bootstrap, the log is replayed, and the leader updates its own Raft
	// address in the configuration.
	cfg2 := cfg
	n2 := startNode(t, cfg2)
	if n2.ID() != id {
		t.Fatalf("restarted with ID %q, want %q", n2.ID(), id)
	}
	waitFor(t, 10*time.Second, "restarted node replays its log", func() bool {
		return n2.IsLeader() && n2.fsm.len() == 3
	})
	if st := n2.Status(); st.LastLogIndex <= lastIndex {
		t.Errorf("last index %d after restart, want above %d", st.LastLogIndex, lastIndex)
	}
	waitFor(t, 10*time.Second, "own raft address updated", func() bool {
		m := n2.Members()
		return len(m) == 1 && m[0].RaftAddr == n2.RaftAddr() && m[0].Voter
	})
	mustApply(t, n2, "after restart")
	if err := n2.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}

	// A configured ID that contradicts the stored one is refused.
	cfg3 := cfg
	cfg3.NodeID = "someone-else"
	if _, err := Start(context.Background(), cfg3, &testFSM{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("start with a different NodeID: %v", err)
	}
}

func TestKillLeaderFailoverAndRestart(t *testing.T) {
	nodes := startCluster(t, 3, lanTimings)
	for i := range 10 {
		applyOnLeader(t, nodes, fmt.Sprintf("before-%d", i))
	}
	old := leaderOf(nodes)
	rest := others(nodes, old)
	start := time.Now()
	if err := old.Kill(); err != nil {
		t.Fatalf("kill leader: %v", err)
	}
	waitFor(t, 15*time.Second, "a new leader", func() bool { return leaderOf(rest) != nil })
	elected := time.Since(start)
	newLeader := applyOnLeader(t, rest, "after-0")
	t.Logf("failover: new leader %s elected %v after the leader was killed, first apply done after %v",
		newLeader.ID(), elected, time.Since(start))
	for i := 1; i < 10; i++ {
		applyOnLeader(t, rest, fmt.Sprintf("after-%d", i))
	}

	// Restart the killed node from its data dir: same ID, still a voter, no
	// second cluster; it catches up.
	re := restartNode(t, old, []string{rest[0].GossipAddr(), rest[1].GossipAddr()})
	if re.ID() != old.ID() {
		t.Fatalf("restarted with ID %s, want %s", re.ID(), old.ID())
	}
	all := append(slices.Clone(rest), re)
	applyOnLeader(t, all, "final")
	waitFor(t, 15*time.Second, "restarted node catches up", func() bool {
		l := leaderOf(all)
		return l != nil && sameEntries(re.fsm, l.fsm) && re.fsm.len() >= 21
	})
	if got := voters(leaderOf(all)); len(got) != 3 {
		t.Errorf("voters %v after restart, want 3", got)
	}
}

func TestFollowerCatchesUpBySnapshotInstall(t *testing.T) {
	total := 50_000
	if raceDetector {
		// Same scenario, fewer entries: under the race detector 50,000
		// entries alone take most of a minute. Still far more than
		// SnapshotThreshold + TrailingLogs, so the log is compacted
		// several times over.
		total = 10_000
	}
	nodes := startCluster(t, 3, func(c *Config) {
		// fsync speed is not under test here: on a shared disk 50,000
		// entries would take most of a minute.
		c.DataDir = fastDir(t)
		// Compaction deletes whole WAL segments only: small segments, so
		// the entries the follower misses are really gone from the log.
		c.WALSegmentSize = minWALSegmentSize
		c.SnapshotThreshold = 4096
		c.TrailingLogs = 1024
		c.SnapshotInterval = 500 * time.Millisecond
	})
	leader := leaderOf(nodes)
	for i := range 10 {
		mustApply(t, leader, fmt.Sprintf("early-%d", i))
	}
	down := followersOf(nodes)[0]
	waitFor(t, 5*time.Second, "follower has the early entries", func() bool { return down.fsm.len() == 10 })
	downLast := down.Status().LastLogIndex
	if err := down.Kill(); err != nil {
		t.Fatalf("kill follower: %v", err)
	}
	var up []*tnode
	for _, n := range nodes {
		if n != down {
			up = append(up, n)
		}
	}

	start := time.Now()
	writeBulk(t, up, total)
	t.Logf("wrote %d entries in %v", total, time.Since(start))
	waitFor(t, 20*time.Second, "the leader compacts its log past the stopped follower", func() bool {
		l := leaderOf(up)
		if l == nil {
			return false
		}
		first, err := l.store.FirstIndex()
		return err == nil && first > downLast+1
	})

	start = time.Now()
	re := restartNode(t, down, []string{up[0].GossipAddr(), up[1].GossipAddr()})
	all := append(slices.Clone(up), re)
	waitFor(t, 30*time.Second, "restarted follower catches up", func() bool {
		l := leaderOf(all)
		return l != nil && re.fsm.len() == l.fsm.len()
	})
	restores, lastLen := re.fsm.restoreInfo()
	if restores == 0 || lastLen <= 10 {
		t.Fatalf("follower caught up without a snapshot install (restores %d, last restore %d entries)", restores, lastLen)
	}
	if got, want := re.fsm.snapshotEntries(), leaderOf(all).fsm.snapshotEntries(); !slices.EqualFunc(got, want, bytes.Equal) || len(got) < total+10 {
		t.Fatalf("restarted follower holds %d entries, leader %d (want >= %d, identical)", len(got), len(want), total+10)
	}
	t.Logf("follower caught up in %v via snapshot install of %d entries", time.Since(start), lastLen)
}

func TestNewServerJoinsAsNonvoterThenPromoted(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	leader := leaderOf(nodes)
	for i := range 20 {
		mustApply(t, leader, fmt.Sprintf("e%d", i))
	}
	// A node that only joins, and one that expects a 3-node bootstrap but
	// finds a cluster that already has state: neither may bootstrap.
	cfg := newConfig(t)
	cfg.Join = []string{nodes[1].GossipAddr()}
	fourth := startNode(t, cfg)
	cfg5 := newConfig(t)
	cfg5.Join = []string{nodes[2].GossipAddr()}
	cfg5.BootstrapExpect = 3
	fifth := startNode(t, cfg5)
	for _, n := range []*tnode{fourth, fifth} {
		waitFor(t, 20*time.Second, "new node promoted to voter", func() bool {
			l := leaderOf(nodes)
			return l != nil && suffrageOf(l, n.ID()) == "voter"
		})
		waitFor(t, 5*time.Second, "new node has the log", func() bool { return n.fsm.len() == 20 })
	}
	if got := voters(leaderOf(nodes)); len(got) != 5 {
		t.Fatalf("voters %v, want 5", got)
	}

	// The leader's log holds the history: the fourth node first appears as
	// a non-voter and only a later configuration makes it a voter.
	l := leaderOf(nodes)
	var history []string
	first, _ := l.store.FirstIndex()
	last, _ := l.store.LastIndex()
	for i := first; i <= last; i++ {
		var e raft.Log
		if err := l.store.GetLog(i, &e); err != nil || e.Type != raft.LogConfiguration {
			continue
		}
		for _, s := range raft.DecodeConfiguration(e.Data).Servers {
			if string(s.ID) == fourth.ID() {
				history = append(history, suffrageName(s.Suffrage))
			}
		}
	}
	if len(history) < 2 || history[0] != "nonvoter" || history[len(history)-1] != "voter" {
		t.Fatalf("configuration history of the new node %v, want nonvoter first and voter last", history)
	}
	mustApply(t, l, "after promotion")
	waitFor(t, 5*time.Second, "new nodes apply new entries", func() bool {
		return fourth.fsm.len() == 21 && fifth.fsm.len() == 21
	})
}

func TestRemoveServer(t *testing.T) {
	nodes := startCluster(t, 3, func(c *Config) { c.ReconcileInterval = 100 * time.Millisecond })
	leader := leaderOf(nodes)
	fs := followersOf(nodes)
	removed, other := fs[0], fs[1]

	if err := removed.RemoveServer(ctxT(t, time.Second), other.ID()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("RemoveServer on a follower: %v", err)
	}
	if err := leader.RemoveServer(ctxT(t, time.Second), "no-such-node"); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("RemoveServer of an unknown node: %v", err)
	}
	if err := leader.RemoveServer(ctxT(t, 5*time.Second), removed.ID()); err != nil {
		t.Fatalf("RemoveServer: %v", err)
	}
	if got := voters(leader); len(got) != 2 || slices.Contains(got, removed.ID()) {
		t.Fatalf("voters after removal %v", got)
	}
	for i := range 10 {
		mustApply(t, leader, fmt.Sprintf("two-%d", i))
	}
	waitFor(t, 5*time.Second, "remaining follower applies", func() bool { return other.fsm.len() == 10 })

	notReAdded := func(n *tnode) func() bool {
		return func() bool {
			return suffrageOf(n, removed.ID()) == "none" && len(voters(n)) == 2
		}
	}
	// The removed node keeps gossiping; the leader that removed it must
	// not add it back...
	holdsFor(t, 1500*time.Millisecond, "removed node stays out", notReAdded(leader))
	// ...nor must the next leader, which never saw the removal happen.
	if err := leader.TransferLeadership(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("transfer leadership: %v", err)
	}
	waitFor(t, 5*time.Second, "the other node leads", other.IsLeader)
	holdsFor(t, 1500*time.Millisecond, "removed node stays out under the new leader", notReAdded(other))
	for i := range 10 {
		mustApply(t, other, fmt.Sprintf("new-leader-%d", i))
	}
	waitFor(t, 5*time.Second, "old leader applies", func() bool { return leader.fsm.len() == 20 })
}

func TestShutdownTransfersLeadership(t *testing.T) {
	nodes := startCluster(t, 3, lanTimings)
	leader := applyOnLeader(t, nodes, "x")
	var rest []*tnode
	for _, n := range nodes {
		if n != leader {
			rest = append(rest, n)
		}
	}
	start := time.Now()
	if err := leader.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	took := time.Since(start)
	// The transfer completed inside Shutdown, so a successor is known at
	// once (a follower noticing a silent leader would take far longer).
	waitFor(t, 2*time.Second, "a successor", func() bool { return leaderOf(rest) != nil })
	t.Logf("leader shutdown with transfer took %v; successor known %v after it began", took, time.Since(start))
	if got := leader.leaderEvents(); !slices.Equal(got, []bool{true, false}) {
		t.Errorf("old leader's events %v, want [true false]", got)
	}
	next := applyOnLeader(t, rest, "y")
	if got := voters(next); len(got) != 3 || !slices.Contains(got, leader.ID()) {
		t.Fatalf("voters after shutdown %v: the stopped node must remain a voter", got)
	}
	waitFor(t, 10*time.Second, "gossip reports the stopped node gone", func() bool {
		for _, m := range next.Members() {
			if m.ID == leader.ID() {
				return !m.Alive && m.Voter
			}
		}
		return false
	})
}

// TestRestartedFollowerIsReplicatedAtOnce: a follower that was down long
// enough for raft's per-peer back-off to grow to seconds is replicated to
// within moments of its restart, because the stream layer turns refused
// dials into waiting rather than into failures that raft counts.
func TestRestartedFollowerIsReplicatedAtOnce(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	leader := leaderOf(nodes)
	down := followersOf(nodes)[0]
	mustApply(t, leader, "before")
	waitFor(t, 5*time.Second, "follower has the first entry", func() bool { return down.fsm.len() == 1 })
	if err := down.Kill(); err != nil {
		t.Fatalf("kill follower: %v", err)
	}
	// 12 s down: without the retrying dial, raft would by now wait 5 to
	// 10 s between attempts to reach this peer.
	deadline := time.Now().Add(12 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		mustApply(t, leader, fmt.Sprintf("while-down-%d", i))
		time.Sleep(100 * time.Millisecond)
	}
	start := time.Now()
	re := restartNode(t, down, []string{leader.GossipAddr()})
	waitFor(t, 15*time.Second, "restarted follower catches up", func() bool {
		return sameEntries(re.fsm, leader.fsm)
	})
	took := time.Since(start)
	t.Logf("restarted follower caught up %v after its restart (%d entries)", took, re.fsm.len())
	if took > 3*time.Second {
		t.Fatalf("restarted follower caught up only %v after its restart", took)
	}
}

// slowFSM is a testFSM whose Apply takes a while, so committed entries
// queue up in front of it.
type slowFSM struct {
	testFSM
	delay time.Duration
}

func (f *slowFSM) Apply(l *raft.Log) any {
	time.Sleep(f.delay)
	return f.testFSM.Apply(l)
}

// TestKillWithCommandsInFlight: the end of a leadership is announced while
// Raft still runs, so a caller that waits there for the commands it proposed
// gets their answers. hashicorp/raft never answers the futures of entries
// committed but not yet applied when it shuts down; announcing after the
// shutdown made such a caller, and Kill with it, wait for ever.
func TestKillWithCommandsInFlight(t *testing.T) {
	cfg := newConfig(t)
	fsm := &slowFSM{delay: 2 * time.Millisecond}
	var mu sync.Mutex
	var futures []raft.ApplyFuture
	answered := make(chan int, 1)
	established := make(chan struct{})
	cfg.OnLeaderChange = func(isLeader bool) {
		if isLeader {
			close(established)
			return
		}
		mu.Lock()
		pending := futures
		mu.Unlock()
		n := 0
		for _, f := range pending {
			if f.Error() == nil {
				n++
			}
		}
		answered <- n
	}
	n, err := Start(ctxT(t, 10*time.Second), cfg, fsm)
	if err != nil {
		t.Fatal(err)
	}
	// Only an established leadership is announced as ended: a node stopped
	// before its leader loop took the leadership never calls
	// OnLeaderChange at all.
	select {
	case <-established:
	case <-time.After(10 * time.Second):
		t.Fatal("single node leadership not established in 10 s")
	}
	for i := range 300 {
		f := n.Raft().Apply([]byte(fmt.Sprintf("e%d", i)), 0)
		mu.Lock()
		futures = append(futures, f)
		mu.Unlock()
	}
	killWithin(t, n, 20*time.Second, "the end of leadership waited on futures raft had abandoned")
	select {
	case n := <-answered:
		t.Logf("%d of 300 commands answered as applied before the node stopped", n)
	case <-time.After(10 * time.Second):
		t.Fatal("the end of leadership was not announced")
	}
}

// Kill returns, and every Apply with it, when the node stops with
// committed commands still queued for a slow FSM: hashicorp/raft (as
// patched, see third_party/hashicorp-raft/PATCHES.md) answers them
// ErrRaftShutdown, where stock v1.7.3 left them unanswered and stop waited
// for ever for the goroutines waiting on them.
func TestKillUnderApplyLoadReturns(t *testing.T) {
	n, err := Start(ctxT(t, 10*time.Second), newConfig(t), &slowFSM{delay: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "single node leadership", n.IsLeader)
	ctx := ctxT(t, 60*time.Second)
	var applied, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				if _, _, _, err := n.Apply(ctx, []byte(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					// Proposed before the stop: the outcome is unknown.
					// Not proposed: the node is shut down.
					if !errors.Is(err, ErrIndeterminate) && !errors.Is(err, ErrShutdown) {
						t.Errorf("apply during kill: %v, want ErrIndeterminate or ErrShutdown", err)
					}
					failed.Add(1)
					return
				}
				applied.Add(1)
			}
		}()
	}
	waitFor(t, 10*time.Second, "commands applied", func() bool { return applied.Load() >= 50 })
	killWithin(t, n, 20*time.Second, "committed commands queued for the FSM were never answered")
	returned := make(chan struct{})
	go func() { wg.Wait(); close(returned) }()
	select {
	case <-returned:
	case <-time.After(10 * time.Second):
		t.Fatal("Apply calls still waiting after Kill returned")
	}
	if failed.Load() == 0 {
		t.Fatal("no Apply failed: the node stopped with nothing in flight, so the test proved nothing")
	}
	t.Logf("%d applied, %d writers ended with an error", applied.Load(), failed.Load())
}

// Both write orders of the leader (parallel, the default, and serial) keep
// what they confirmed: entries applied concurrently while the leader is
// killed are all in the survivors' state machines afterwards, and the
// survivors agree.
func TestLeaderWriteOrdersKeepConfirmedEntries(t *testing.T) {
	for _, serial := range []bool{false, true} {
		t.Run(fmt.Sprintf("serial=%v", serial), func(t *testing.T) {
			nodes := startCluster(t, 3, func(c *Config) { c.SerialLeaderWrite = serial })
			old := leaderOf(nodes)
			var (
				mu        sync.Mutex
				confirmed []string
				wg        sync.WaitGroup
			)
			ctx, cancel := context.WithCancel(context.Background())
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ctx.Err() == nil && i < 10000; i++ {
						data := fmt.Sprintf("w%d-%d", w, i)
						actx, acancel := context.WithTimeout(ctx, 2*time.Second)
						_, _, _, err := old.Apply(actx, []byte(data))
						acancel()
						if err != nil {
							return // the leader is gone; unconfirmed entries may or may not survive
						}
						mu.Lock()
						confirmed = append(confirmed, data)
						mu.Unlock()
					}
				}()
			}
			waitFor(t, 10*time.Second, "entries confirmed under load", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(confirmed) >= 200
			})
			if err := old.Kill(); err != nil {
				t.Fatalf("kill leader: %v", err)
			}
			cancel()
			wg.Wait()
			rest := others(nodes, old)
			l := applyOnLeader(t, rest, "after")
			waitFor(t, 15*time.Second, "the survivors to agree", func() bool {
				return sameEntries(rest[0].fsm, rest[1].fsm)
			})
			have := map[string]bool{}
			for _, e := range l.fsm.snapshotEntries() {
				have[string(e)] = true
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range confirmed {
				if !have[c] {
					t.Fatalf("%q was confirmed by the killed leader but is not in the survivors' state (%d confirmed)", c, len(confirmed))
				}
			}
			t.Logf("%d entries confirmed before the kill, all kept", len(confirmed))
		})
	}
}
