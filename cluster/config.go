package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by Config.SetDefaults. The Raft timings are tuned for a
// LAN: a follower notices a dead leader after HeartbeatTimeout to twice that
// (randomised), then needs one pre-vote and one vote round trip, so a new
// leader is usually elected 0.3 to 0.5 s after the old one dies. Measured
// with raftmq bench (docs/performance.md): with 500 ms the longest gap
// between confirms in W4 was 1.3 s, with 300 ms 1.1 s, with 200 ms 0.46 to
// 0.70 s, and no election happened while W1 and W3 saturated the CPU. The
// leader lease equals the heartbeat timeout, the most raft allows, so a
// leader stalled by a busy machine does not step down needlessly. On a
// slower or busier network raise all three together (-heartbeat-timeout,
// -election-timeout, -leader-lease-timeout).
const (
	// DefaultRaftAddr is the Raft bind address: loopback, so a node started
	// with no flags is reachable only locally.
	DefaultRaftAddr = "127.0.0.1:6571"
	// DefaultGossipAddr is the memberlist bind address (TCP and UDP).
	DefaultGossipAddr = "127.0.0.1:6572"
	// DefaultHeartbeatTimeout is how long a follower waits without hearing
	// from the leader before it starts an election.
	DefaultHeartbeatTimeout = 200 * time.Millisecond
	// DefaultElectionTimeout is how long a candidate waits for votes.
	DefaultElectionTimeout = 200 * time.Millisecond
	// DefaultLeaderLeaseTimeout is how long a leader keeps leading without
	// hearing from a quorum.
	DefaultLeaderLeaseTimeout = 200 * time.Millisecond
	// DefaultCommitTimeout is the longest a follower waits to learn of a
	// new commit index when the leader is otherwise idle.
	DefaultCommitTimeout = 20 * time.Millisecond
	// DefaultSnapshotThreshold is the number of new log entries after which
	// a snapshot is taken (checked every SnapshotInterval).
	DefaultSnapshotThreshold uint64 = 8192
	// DefaultTrailingLogs is how many entries are kept after a snapshot; a
	// follower further behind than this catches up by snapshot install.
	DefaultTrailingLogs uint64 = 10240
	// DefaultSnapshotInterval is how often raft checks SnapshotThreshold.
	DefaultSnapshotInterval = 30 * time.Second
	// DefaultReconcileInterval is how often the leader reconciles gossip
	// into the Raft configuration between gossip events.
	DefaultReconcileInterval = time.Second
)

// logCacheSize is how many of the newest log entries are kept in memory in
// front of the log store, so the leader replicates an entry it has just
// written without reading it back. Replication trails by a few entries, so
// a small cache serves it; an entry can be a group commit of hundreds of
// KiB, so a large one costs memory: with 4096 entries W1 left 600-770 MB
// resident per node, with 256 510-580 MB, at the same throughput and CPU.
// With 64, a node faults in about 20% fewer pages under W1, which paid 12-30%
// more throughput on a machine where first touches of memory were dear
// (docs/performance.md, "Third pass"). A follower further behind than that is
// served from the log store.
const logCacheSize = 64

// Limits that keep gossip metadata well under memberlist's 512-byte cap.
const (
	maxIDLen   = 64
	maxAddrLen = 128
)

// Config configures one node. The zero value plus DataDir is a working
// single-node setup on loopback once SetDefaults has been applied.
type Config struct {
	// DataDir holds the node-id file, the log and stable store (raft.db or
	// wal/, see LogStore; every append synced) and snapshots/ (file
	// snapshot store, two retained).
	DataDir string
	// LogStore is the Raft log and stable store: LogStoreWAL or
	// LogStoreBolt; empty means the kind DataDir already holds, or
	// DefaultLogStore for a new DataDir. It cannot change over a data dir's
	// life: a node refuses to start with the other kind's files present.
	LogStore string
	// WALSegmentSize is the size of one segment file of LogStoreWAL in
	// bytes (0: raft-wal's default, 64 MiB). Segment files are
	// preallocated; compaction deletes whole segments only, so a follower
	// that is behind by less than a segment can still catch up from the log
	// instead of a snapshot.
	WALSegmentSize int
	// SerialLeaderWrite makes the leader write new entries to its own log
	// before it replicates them, as stock hashicorp/raft does. By default
	// it replicates them while it writes them (third_party/hashicorp-raft,
	// Raft thesis section 10.2.1); either way an entry commits only once a
	// majority holds it on disk. The serial order is there to compare the
	// two and as a way back.
	SerialLeaderWrite bool
	// NoLogReadBack keeps the log from an FSM that could read applied
	// entries back from it (LogReadingFSM): such an FSM then keeps in
	// memory what it needs of them, as every FSM did before (for raftmq's,
	// the message bodies). For comparison and as a way back.
	NoLogReadBack bool
	// NodeID is optional: when empty it is read from DataDir/node-id, or
	// generated (random hex) and persisted on first start. When set it must
	// match the persisted ID, if any.
	NodeID string

	// RaftAddr is the Raft bind address "host:port"; port 0 picks a free
	// port.
	RaftAddr string
	// RaftAdvertise is the Raft address other nodes dial; default the bound
	// address, which must then not be unspecified (0.0.0.0 or ::).
	RaftAdvertise string
	// GossipAddr is the memberlist bind address (TCP and UDP); port 0 picks
	// a free port.
	GossipAddr string
	// GossipAdvertise is the gossip address other nodes use; default
	// derived by memberlist from the bind address.
	GossipAdvertise string
	// ClientAddr is the advertised client (wire) address, carried in
	// gossip metadata so any node can name the leader's.
	ClientAddr string
	// HTTPAddr is the advertised HTTP address, carried in gossip metadata.
	HTTPAddr string
	// Join lists gossip seeds "host:port". Joining retries in the
	// background until it succeeds or the node stops.
	Join []string
	// BootstrapExpect controls the creation of a new cluster by a node with
	// no Raft state. 0 or 1 without Join seeds: bootstrap alone at once.
	// 0 or 1 with Join seeds: never bootstrap, wait to be added by the
	// leader of the cluster joined. N > 1: once N servers without state see
	// each other in gossip, each proposes the same sorted configuration.
	BootstrapExpect int

	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout and
	// CommitTimeout are passed to hashicorp/raft.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration

	// SnapshotThreshold, SnapshotInterval and TrailingLogs are passed to
	// hashicorp/raft; see the defaults for the reasoning.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64

	// ReconcileInterval is how often the leader reconciles gossip members
	// into the Raft configuration (it also does so on gossip events).
	ReconcileInterval time.Duration

	// Logger receives the node's logs, including raft's and memberlist's.
	Logger *slog.Logger

	// OnLeaderChange is called serially from the leader loop: true once
	// this node has been elected and a barrier has applied every earlier
	// entry, false when that leadership ends (including at shutdown). It
	// must not block for long and must not call Shutdown or Kill.
	OnLeaderChange func(isLeader bool)
}

// SetDefaults fills every zero field with its default. A zero
// ElectionTimeout or LeaderLeaseTimeout is kept consistent with a
// HeartbeatTimeout that was set.
func (c *Config) SetDefaults() {
	if c.RaftAddr == "" {
		c.RaftAddr = DefaultRaftAddr
	}
	if c.GossipAddr == "" {
		c.GossipAddr = DefaultGossipAddr
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.ElectionTimeout == 0 {
		c.ElectionTimeout = max(DefaultElectionTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout == 0 {
		c.LeaderLeaseTimeout = min(DefaultLeaderLeaseTimeout, c.HeartbeatTimeout)
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = DefaultTrailingLogs
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = DefaultReconcileInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first problem found in c, wrapped around
// ErrInvalidConfig. Call SetDefaults first.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if c.DataDir == "" {
		return bad("DataDir is required")
	}
	if c.LogStore != "" && c.LogStore != LogStoreBolt && c.LogStore != LogStoreWAL {
		return bad("LogStore %q: want %q or %q", c.LogStore, LogStoreBolt, LogStoreWAL)
	}
	if c.WALSegmentSize < 0 || c.WALSegmentSize > maxWALSegmentSize || (c.WALSegmentSize > 0 && c.WALSegmentSize < minWALSegmentSize) {
		return bad("WALSegmentSize %d: want 0 (default) or %d to %d bytes", c.WALSegmentSize, minWALSegmentSize, maxWALSegmentSize)
	}
	if c.NodeID != "" {
		if err := validateNodeID(c.NodeID); err != nil {
			return bad("NodeID: %v", err)
		}
	}
	for _, a := range []struct {
		name, value string
		required    bool
	}{
		{"RaftAddr", c.RaftAddr, true},
		{"GossipAddr", c.GossipAddr, true},
		{"RaftAdvertise", c.RaftAdvertise, false},
		{"GossipAdvertise", c.GossipAdvertise, false},
		{"ClientAddr", c.ClientAddr, false},
		{"HTTPAddr", c.HTTPAddr, false},
	} {
		if a.value == "" {
			if a.required {
				return bad("%s is required", a.name)
			}
			continue
		}
		if err := validateHostPort(a.value); err != nil {
			return bad("%s %q: %v", a.name, a.value, err)
		}
	}
	if c.RaftAdvertise != "" {
		if host, _, _ := net.SplitHostPort(c.RaftAdvertise); isUnspecified(host) {
			return bad("RaftAdvertise %q is not an address other nodes can dial", c.RaftAdvertise)
		}
	} else if host, _, _ := net.SplitHostPort(c.RaftAddr); isUnspecified(host) {
		return bad("RaftAddr %q binds all interfaces: set RaftAdvertise", c.RaftAddr)
	}
	for i, j := range c.Join {
		if err := validateHostPort(j); err != nil {
			return bad("Join[%d] %q: %v", i, j, err)
		}
	}
	if c.BootstrapExpect < 0 {
		return bad("BootstrapExpect %d is negative", c.BootstrapExpect)
	}
	if c.HeartbeatTimeout < 5*time.Millisecond {
		return bad("HeartbeatTimeout %s is below 5ms", c.HeartbeatTimeout)
	}
	if c.ElectionTimeout < c.HeartbeatTimeout {
		return bad("ElectionTimeout %s is below HeartbeatTimeout %s", c.ElectionTimeout, c.HeartbeatTimeout)
	}
	if c.LeaderLeaseTimeout < 5*time.Millisecond || c.LeaderLeaseTimeout > c.HeartbeatTimeout {
		return bad("LeaderLeaseTimeout %s must be in [5ms, HeartbeatTimeout]", c.LeaderLeaseTimeout)
	}
	if c.CommitTimeout < time.Millisecond {
		return bad("CommitTimeout %s is below 1ms", c.CommitTimeout)
	}
	if c.SnapshotInterval < 5*time.Millisecond {
		return bad("SnapshotInterval %s is below 5ms", c.SnapshotInterval)
	}
	if c.SnapshotThreshold == 0 || c.TrailingLogs == 0 {
		return bad("SnapshotThreshold and TrailingLogs must be positive")
	}
	if c.ReconcileInterval <= 0 {
		return bad("ReconcileInterval must be positive")
	}
	if c.Logger == nil {
		return bad("Logger is nil (call SetDefaults)")
	}
	return nil
}

func validateHostPort(s string) error {
	if len(s) > maxAddrLen {
		return fmt.Errorf("longer than %d bytes", maxAddrLen)
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return err
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

func isUnspecified(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// validateNodeID accepts 1 to 64 characters from [A-Za-z0-9._-]: the ID is
// a memberlist node name, a Raft server ID and part of log lines.
func validateNodeID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("length %d not in [1, %d]", len(id), maxIDLen)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("character %q not allowed", r)
		}
	}
	return nil
}

const nodeIDFile = "node-id"

// loadOrCreateNodeID returns the node ID stored in dir, storing want (or a
// new random ID when want is empty) on first start. A configured ID that
// differs from the stored one is an error: the Raft state in dir belongs to
// the stored ID.
func loadOrCreateNodeID(dir, want string) (string, error) {
	path := filepath.Join(dir, nodeIDFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		stored := strings.TrimSpace(string(b))
		if err := validateNodeID(stored); err != nil {
			return "", fmt.Errorf("read node id %s: %w", path, err)
		}
		if want != "" && want != stored {
			return "", fmt.Errorf("%w: NodeID %q differs from %q stored in %s", ErrInvalidConfig, want, stored, path)
		}
		return stored, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("read node id: %w", err)
	}
	id := want
	if id == "" {
		var raw [8]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return "", fmt.Errorf("generate node id: %w", err)
		}
		id = hex.EncodeToString(raw[:])
	}
	if err := writeFileSync(path, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("persist node id: %w", err)
	}
	return id, nil
}

// writeFileSync writes data to path atomically: a temporary file is
// fsynced, renamed over path, and the directory is fsynced.
func writeFileSync(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
