package cluster

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
)

func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		c := Config{DataDir: t.TempDir()}
		c.SetDefaults()
		return c
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c := valid()
	if c.RaftAddr != DefaultRaftAddr || c.GossipAddr != DefaultGossipAddr || c.HeartbeatTimeout != DefaultHeartbeatTimeout ||
		c.SnapshotThreshold != DefaultSnapshotThreshold || c.TrailingLogs != DefaultTrailingLogs || c.Logger == nil {
		t.Fatalf("SetDefaults left %+v", c)
	}
	cases := []struct {
		name string
		mod  func(*Config)
	}{
		{"no data dir", func(c *Config) { c.DataDir = "" }},
		{"bad node id", func(c *Config) { c.NodeID = "has space" }},
		{"long node id", func(c *Config) { c.NodeID = strings.Repeat("a", 65) }},
		{"raft addr without port", func(c *Config) { c.RaftAddr = "127.0.0.1" }},
		{"raft addr bad port", func(c *Config) { c.RaftAddr = "127.0.0.1:99999" }},
		{"unspecified raft bind without advertise", func(c *Config) { c.RaftAddr = "0.0.0.0:6571" }},
		{"empty raft host without advertise", func(c *Config) { c.RaftAddr = ":6571" }},
		{"unspecified advertise", func(c *Config) { c.RaftAddr = "0.0.0.0:6571"; c.RaftAdvertise = "[::]:6571" }},
		{"bad gossip addr", func(c *Config) { c.GossipAddr = "nope" }},
		{"bad client addr", func(c *Config) { c.ClientAddr = "x" }},
		{"too long http addr", func(c *Config) { c.HTTPAddr = strings.Repeat("h", 200) + ":1" }},
		{"bad join seed", func(c *Config) { c.Join = []string{"127.0.0.1:1", "seed"} }},
		{"negative expect", func(c *Config) { c.BootstrapExpect = -1 }},
		{"tiny heartbeat", func(c *Config) { c.HeartbeatTimeout = time.Millisecond }},
		{"election below heartbeat", func(c *Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 }},
		{"lease above heartbeat", func(c *Config) { c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout }},
		{"zero commit timeout", func(c *Config) { c.CommitTimeout = time.Microsecond }},
		{"negative reconcile", func(c *Config) { c.ReconcileInterval = -time.Second }},
		{"nil logger", func(c *Config) { c.Logger = nil }},
		{"unknown log store", func(c *Config) { c.LogStore = "leveldb" }},
		{"negative wal segment", func(c *Config) { c.WALSegmentSize = -1 }},
		{"tiny wal segment", func(c *Config) { c.WALSegmentSize = 4096 }},
	}
	for _, tc := range cases {
		c := valid()
		tc.mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Validate() = %v, want ErrInvalidConfig", tc.name, err)
		}
	}
	slow := Config{DataDir: "d", HeartbeatTimeout: 2 * time.Second}
	slow.SetDefaults()
	if err := slow.Validate(); err != nil || slow.ElectionTimeout != 2*time.Second || slow.LeaderLeaseTimeout != DefaultLeaderLeaseTimeout {
		t.Errorf("defaults around a slow heartbeat: %+v, %v", slow, err)
	}
	fast := Config{DataDir: "d", HeartbeatTimeout: 100 * time.Millisecond}
	fast.SetDefaults()
	if err := fast.Validate(); err != nil || fast.LeaderLeaseTimeout != 100*time.Millisecond {
		t.Errorf("defaults around a fast heartbeat: %+v, %v", fast, err)
	}
	ok := valid()
	ok.RaftAddr, ok.RaftAdvertise = "0.0.0.0:6571", "10.0.0.1:6571"
	ok.Join = []string{"10.0.0.2:6572"}
	if err := ok.Validate(); err != nil {
		t.Errorf("bind all with advertise: %v", err)
	}
}

func TestStartRejectsBadInput(t *testing.T) {
	if _, err := Start(context.Background(), Config{}, &testFSM{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("empty config: %v", err)
	}
	cfg := newConfig(t)
	if _, err := Start(context.Background(), cfg, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("nil FSM: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, cfg, &testFSM{}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: %v", err)
	}
	// A Raft port already taken: Start fails and releases what it opened,
	// so the same data dir can be opened again right away.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg.RaftAddr = l.Addr().String()
	if _, err := Start(context.Background(), cfg, &testFSM{}); err == nil {
		t.Fatal("start on a busy raft port succeeded")
	}
	cfg.RaftAddr = "127.0.0.1:0"
	n := startNode(t, cfg)
	if err := n.Kill(); err != nil {
		t.Fatalf("kill: %v", err)
	}
}

func TestNodeIDPersistence(t *testing.T) {
	dir := t.TempDir()
	id, err := loadOrCreateNodeID(dir, "")
	if err != nil || validateNodeID(id) != nil || len(id) != 16 {
		t.Fatalf("generated id %q, err %v", id, err)
	}
	again, err := loadOrCreateNodeID(dir, "")
	if err != nil || again != id {
		t.Fatalf("reloaded id %q (%v), want %q", again, err, id)
	}
	if same, err := loadOrCreateNodeID(dir, id); err != nil || same != id {
		t.Fatalf("configured matching id: %q %v", same, err)
	}
	if _, err := loadOrCreateNodeID(dir, "other"); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("conflicting id: %v", err)
	}

	dir2 := t.TempDir()
	if got, err := loadOrCreateNodeID(dir2, "node-a"); err != nil || got != "node-a" {
		t.Fatalf("configured id: %q %v", got, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir2, nodeIDFile)); strings.TrimSpace(string(b)) != "node-a" {
		t.Fatalf("persisted %q", b)
	}

	dir3 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir3, nodeIDFile), []byte("bad id!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateNodeID(dir3, ""); err == nil {
		t.Fatal("garbage node-id file accepted")
	}
}

func TestMetaEncoding(t *testing.T) {
	m := nodeMeta{
		Version: metaVersion, ID: strings.Repeat("i", maxIDLen),
		RaftAddr: strings.Repeat("r", maxAddrLen), Client: strings.Repeat("c", maxAddrLen),
		HTTP: strings.Repeat("h", maxAddrLen), Applied: 1<<64 - 1, HasState: true,
	}
	b, err := encodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > memberlist.MetaMaxSize {
		t.Fatalf("largest metadata is %d bytes, above memberlist's %d", len(b), memberlist.MetaMaxSize)
	}
	got, err := decodeMeta(b)
	if err != nil || got != m {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, {0xc1}, []byte("garbage"), mustEncode(t, nodeMeta{ID: "x"})} {
		if _, err := decodeMeta(bad); !errors.Is(err, errBadMeta) {
			t.Errorf("decodeMeta(%q) = %v, want errBadMeta", bad, err)
		}
	}
}

func mustEncode(t *testing.T, m nodeMeta) []byte {
	t.Helper()
	b, err := encodeMeta(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeMeta(f *testing.F) {
	good, _ := encodeMeta(nodeMeta{Version: 1, ID: "a", RaftAddr: "127.0.0.1:1", Applied: 7})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x81, 0xa1, 0x61, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err == nil && (m.ID == "" || m.RaftAddr == "") {
			t.Fatalf("accepted metadata without id or raft address: %+v", m)
		}
	})
}

func TestGossipCache(t *testing.T) {
	kick := make(chan struct{}, 1)
	var logged []string
	g := &gossip{
		peers: make(map[string]peer),
		kicks: []chan struct{}{kick},
		log:   func(msg string, _ ...any) { logged = append(logged, msg) },
	}
	meta := mustEncode(t, nodeMeta{Version: 1, ID: "b", RaftAddr: "127.0.0.1:7001", Client: "127.0.0.1:6570"})
	g.NotifyJoin(&memberlist.Node{Name: "b", Addr: net.ParseIP("127.0.0.1"), Port: 7002, Meta: meta})
	select {
	case <-kick:
	default:
		t.Fatal("join did not signal")
	}
	p, ok := g.get("b")
	if !ok || !p.alive || p.gossipAddr != "127.0.0.1:7002" || p.meta.Client != "127.0.0.1:6570" {
		t.Fatalf("after join: %+v %v", p, ok)
	}
	// A later update with broken metadata keeps the last good metadata.
	g.NotifyUpdate(&memberlist.Node{Name: "b", Addr: net.ParseIP("127.0.0.1"), Port: 7002, Meta: []byte("junk")})
	if p, _ := g.get("b"); p.meta.RaftAddr != "127.0.0.1:7001" {
		t.Fatalf("good metadata lost: %+v", p)
	}
	g.NotifyLeave(&memberlist.Node{Name: "b", Addr: net.ParseIP("127.0.0.1"), Port: 7002, Meta: meta})
	if p, _ := g.get("b"); p.alive {
		t.Fatal("still alive after leave")
	}
	// A stranger without usable metadata, or whose metadata names someone
	// else, is not cached.
	g.NotifyJoin(&memberlist.Node{Name: "c", Addr: net.ParseIP("127.0.0.1"), Port: 7003, Meta: nil})
	g.NotifyJoin(&memberlist.Node{Name: "d", Addr: net.ParseIP("127.0.0.1"), Port: 7004, Meta: meta})
	if _, ok := g.get("c"); ok {
		t.Fatal("member without metadata cached")
	}
	if _, ok := g.get("d"); ok {
		t.Fatal("member with someone else's metadata cached")
	}
	if len(logged) != 2 {
		t.Fatalf("logged %v, want two ignored members", logged)
	}
	if got := g.snapshot(); len(got) != 1 || got[0].meta.ID != "b" {
		t.Fatalf("snapshot %+v", got)
	}
	// NodeMeta never returns more than memberlist allows.
	big := bytes.Repeat([]byte{1}, 600)
	g.meta.Store(&big)
	if got := g.NodeMeta(memberlist.MetaMaxSize); got != nil {
		t.Fatalf("NodeMeta returned %d bytes", len(got))
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a := newHCLogAdapter(l, "raft")
	if a.IsDebug() || a.IsTrace() || !a.IsInfo() || !a.IsWarn() || !a.IsError() {
		t.Fatal("level checks do not follow the handler")
	}
	if a.GetLevel() != hclog.Info {
		t.Fatalf("GetLevel %v", a.GetLevel())
	}
	a.Debug("hidden")
	a.Trace("hidden")
	w := a.With("peer", "x")
	w.Warn("careful", "n", 3)
	a.Named("snapshot").Error("broke", "err", errors.New("disk"))
	a.Log(hclog.Off, "hidden")
	out := buf.String()
	if strings.Contains(out, "hidden") {
		t.Fatalf("logged below the handler level: %s", out)
	}
	for _, want := range []string{"level=WARN msg=careful", "component=raft", "peer=x", "n=3",
		"level=ERROR msg=broke", "subsystem=raft.snapshot", "err=disk"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := w.ImpliedArgs(); len(got) != 2 || got[0] != "peer" {
		t.Errorf("implied args %v", got)
	}
	if a.Named("x").Name() != "raft.x" || a.ResetNamed("y").Name() != "y" {
		t.Error("names")
	}

	buf.Reset()
	std := a.StandardLogger(nil)
	std.Printf("[WARN] memberlist: Was able to connect to x")
	std.Printf("[DEBUG] memberlist: chatter")
	std.Printf("no level")
	out = buf.String()
	if !strings.Contains(out, `level=WARN msg="Was able to connect to x"`) || strings.Contains(out, "chatter") ||
		!strings.Contains(out, `level=INFO msg="no level"`) {
		t.Fatalf("standard logger output:\n%s", out)
	}
}

func TestApplyWithoutQuorum(t *testing.T) {
	nodes := startCluster(t, 3, func(c *Config) {
		// A long lease keeps the isolated leader leading for a while.
		c.HeartbeatTimeout = 2 * time.Second
		c.ElectionTimeout = 2 * time.Second
		c.LeaderLeaseTimeout = 2 * time.Second
	})
	leader := leaderOf(nodes)
	mustApply(t, leader, "committed")
	for _, f := range followersOf(nodes) {
		if err := f.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	// Proposed but never committed: the caller gives up, the outcome is
	// unknown.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, _, _, err := leader.Apply(ctx, []byte("stuck"))
	if !errors.Is(err, ErrIndeterminate) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("apply without quorum: %v, want ErrIndeterminate and DeadlineExceeded", err)
	}
	// Once the lease runs out the leader steps down and knows no leader.
	waitFor(t, 10*time.Second, "isolated leader steps down", func() bool { return !leader.IsLeader() })
	_, _, _, err = leader.Apply(ctxT(t, time.Second), []byte("refused"))
	if !errors.Is(err, ErrNotLeader) || !errors.Is(err, ErrNoLeader) {
		t.Fatalf("apply after stepping down: %v, want ErrNotLeader and ErrNoLeader", err)
	}
	waitFor(t, 5*time.Second, "OnLeaderChange(false)", func() bool {
		ev := leader.leaderEvents()
		return len(ev) == 2 && ev[0] && !ev[1]
	})
	if err := leader.RemoveServer(ctxT(t, time.Second), nodes[0].ID()); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("RemoveServer on a deposed leader: %v", err)
	}
	if err := leader.TransferLeadership(ctxT(t, time.Second)); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("TransferLeadership on a deposed leader: %v", err)
	}
}

// TestTermFSMWrapping checks that both plain and batching FSMs report the
// entry's term through the wrapper.
func TestTermFSMWrapping(t *testing.T) {
	plain := wrapFSM(&testFSM{})
	if _, ok := plain.(raft.BatchingFSM); ok {
		t.Fatal("plain FSM became batching")
	}
	r := plain.Apply(&raft.Log{Index: 4, Term: 9, Data: []byte("x")}).(applyResult)
	if r.term != 9 || r.resp != 1 {
		t.Fatalf("plain: %+v", r)
	}
	b := wrapFSM(&batchFSM{})
	bf, ok := b.(raft.BatchingFSM)
	if !ok {
		t.Fatal("batching FSM lost ApplyBatch")
	}
	out := bf.ApplyBatch([]*raft.Log{{Term: 2, Data: []byte("a")}, {Term: 3, Data: []byte("b")}})
	if len(out) != 2 || out[0].(applyResult).term != 2 || out[1].(applyResult).resp != "b" {
		t.Fatalf("batch: %+v", out)
	}
}

type batchFSM struct{ testFSM }

func (f *batchFSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	for i, l := range logs {
		out[i] = string(l.Data)
	}
	return out
}

func TestStreamLayerDialsFromItsBindIP(t *testing.T) {
	a, err := newStreamLayer("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := newStreamLayer("127.0.0.2:0", nil)
	if err != nil {
		t.Skipf("cannot bind 127.0.0.2 here: %v", err)
	}
	defer b.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := a.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := b.Dial(raft.ServerAddress(a.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	in := <-accepted
	defer in.Close()
	if ip := in.RemoteAddr().(*net.TCPAddr).IP.String(); ip != "127.0.0.2" {
		t.Fatalf("connection came from %s, want the dialer's bind IP 127.0.0.2", ip)
	}
	if _, err := newStreamLayer("0.0.0.0:0", nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("unspecified bind without advertise: %v", err)
	}
}

// Failed is closed when Raft stops by itself, and not by a normal shutdown.
func TestFailedWhenRaftStopsOnItsOwn(t *testing.T) {
	n := startNode(t, newConfig(t))
	waitFor(t, 10*time.Second, "single node leadership", n.IsLeader)
	// As after a failed log write with entries applied ahead of the log.
	if err := n.Raft().Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.Failed():
	case <-time.After(5 * time.Second):
		t.Fatal("Failed not closed after Raft stopped on its own")
	}
	if err := n.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("shutdown after Raft stopped: %v", err)
	}

	other := startNode(t, newConfig(t))
	waitFor(t, 10*time.Second, "single node leadership", other.IsLeader)
	if err := other.Shutdown(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * raftWatchEvery)
	select {
	case <-other.Failed():
		t.Fatal("Failed closed by a normal shutdown")
	default:
	}
}
