// Command node runs one raftmq broker node.
//
// With no flags it starts a single-node broker on the default ports with its
// data in ./data. Every flag can also be set through an environment variable:
// RAFTMQ_ followed by the flag's name in upper case with dashes as
// underscores (-bootstrap-expect is RAFTMQ_BOOTSTRAP_EXPECT). A flag given on
// the command line wins over the environment.
//
//	node healthcheck [-http-addr host:port]
//
// asks a running node's /healthz and exits 0 if it answers, for container
// health checks in images that have no curl.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/raftmq/raftmq/broker"
	"github.com/raftmq/raftmq/cluster"
	"github.com/raftmq/raftmq/internal/hugepages"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Args[2:], os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

// options are the node's flags.
type options struct {
	id, data                                   string
	clientAddr, raftAddr, gossipAddr, httpAddr string
	advClient, advRaft, advGossip, advHTTP     string
	join, logStore                             string
	bootstrapExpect, walSegmentSize            int
	heartbeat, election, leaderLease, commit   time.Duration
	snapshotThreshold, trailingLogs            uint64
	snapshotInterval, tick                     time.Duration
	memoryWatermark                            int64
	pprof, raftMetrics, serialLeaderWrite      bool
	bodiesInMemory                             bool
	hugePages                                  bool
	monitorSlack                               time.Duration
	gcPercent                                  int
	maxFrame                                   int
	logLevel, logFormat                        string
	shutdownTimeout                            time.Duration
}

func newFlagSet(o *options, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("node", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.id, "id", "", "node ID; default: the ID kept in the data directory, or a new random one on first start")
	fs.StringVar(&o.data, "data", "./data", "data directory (Raft log, snapshots, node ID)")
	fs.StringVar(&o.clientAddr, "client-addr", broker.DefaultClientAddr, "bind address of the client protocol")
	fs.StringVar(&o.raftAddr, "raft-addr", "127.0.0.1:6571", "bind address of Raft")
	fs.StringVar(&o.gossipAddr, "gossip-addr", "127.0.0.1:6572", "bind address of gossip (TCP and UDP)")
	fs.StringVar(&o.httpAddr, "http-addr", broker.DefaultHTTPAddr, "bind address of HTTP (/healthz, /readyz, /metrics); empty disables it")
	fs.StringVar(&o.advClient, "advertise-client", "", "client address other nodes and clients use to reach this node (default: -client-addr)")
	fs.StringVar(&o.advRaft, "advertise-raft", "", "Raft address other nodes use (default: -raft-addr; required when binding 0.0.0.0)")
	fs.StringVar(&o.advGossip, "advertise-gossip", "", "gossip address other nodes use (default: -gossip-addr)")
	fs.StringVar(&o.advHTTP, "advertise-http", "", "HTTP address reported in cluster status (default: -http-addr)")
	fs.StringVar(&o.join, "join", "", "comma-separated gossip addresses (host:port) of nodes to join")
	fs.IntVar(&o.bootstrapExpect, "bootstrap-expect", 1, "bootstrap a new cluster once this many servers see each other; 1 without -join: bootstrap alone at once; 1 with -join: never bootstrap, wait to be added by the cluster joined")
	fs.BoolVar(&o.bodiesInMemory, "bodies-in-memory", false, "keep queued message bodies in memory instead of reading them back from the Raft log (more memory; for comparison)")
	fs.BoolVar(&o.serialLeaderWrite, "serial-leader-write", false, "the leader writes new Raft entries to its log before replicating them instead of while replicating them (slower; for comparison)")
	fs.StringVar(&o.logStore, "log-store", "", "Raft log store: wal (raft-wal) or bolt (raft-boltdb); default: the kind the data directory holds, wal for a new one; fixed for the life of a data directory")
	fs.IntVar(&o.walSegmentSize, "wal-segment-size", 0, "bytes per preallocated segment file of the wal log store (0: 64 MiB)")
	fs.DurationVar(&o.heartbeat, "heartbeat-timeout", 0, "Raft heartbeat timeout (0: the LAN default)")
	fs.DurationVar(&o.election, "election-timeout", 0, "Raft election timeout (0: the LAN default)")
	fs.DurationVar(&o.leaderLease, "leader-lease-timeout", 0, "Raft leader lease timeout (0: the LAN default)")
	fs.DurationVar(&o.commit, "commit-timeout", 0, "Raft commit timeout (0: the default)")
	fs.Uint64Var(&o.snapshotThreshold, "snapshot-threshold", 0, "log entries between snapshots (0: the default)")
	fs.Uint64Var(&o.trailingLogs, "trailing-logs", 0, "log entries kept after a snapshot (0: the default)")
	fs.DurationVar(&o.snapshotInterval, "snapshot-interval", 0, "how often to check whether a snapshot is due (0: the default)")
	fs.DurationVar(&o.tick, "tick-interval", broker.DefaultTickInterval, "how often the leader expires messages and prunes de-duplication entries")
	fs.Int64Var(&o.memoryWatermark, "memory-high-watermark", broker.DefaultMemoryHighWatermark, "bytes of queued messages above which publishes are refused (0: no limit)")
	fs.BoolVar(&o.pprof, "pprof", false, "serve Go's profiling endpoints under /debug/pprof/ on the HTTP address (unauthenticated; for diagnosis)")
	fs.BoolVar(&o.hugePages, "huge-pages", true, "ask Linux for transparent huge pages for the node's memory where the system leaves it to each program (THP \"madvise\"): far fewer page faults as the heap grows")
	fs.DurationVar(&o.monitorSlack, "monitor-slack", defaultMonitorSlack, "Linux timer slack for the Go runtime's monitor thread (sysmon), which otherwise wakes every 20 µs while the node is in a system call such as an fsync; needs CAP_SYS_NICE (in a container: cap_add SYS_NICE), without it the node logs so and goes on; 0 leaves the runtime's default")
	fs.IntVar(&o.gcPercent, "gc-percent", defaultGCPercent, fmt.Sprintf("Go's garbage collection target once the node's live heap passes %d MiB, as GOGC: how far (percent) the heap may grow past live data before a collection; below that the runtime's own (GOGC, else 100); 0 leaves it to the runtime throughout", largeHeap>>20))
	fs.BoolVar(&o.raftMetrics, "raft-metrics", false, "keep Raft's internal timings (commit, log store, replication) for the last minute and print them to stderr on SIGUSR1")
	fs.IntVar(&o.maxFrame, "max-frame-size", 0, "largest client frame in bytes (0: 16 MiB)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long a graceful stop may take")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: node [flags]\n       node healthcheck [-http-addr host:port]\n\n")
		fmt.Fprintf(out, "Runs one raftmq broker node. Every flag may be set by the environment variable\nRAFTMQ_<FLAG> (upper case, dashes as underscores); the command line wins.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// envName returns the environment variable that sets a flag.
func envName(flagName string) string {
	return "RAFTMQ_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse reads the environment, then the command line.
func parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, e)
			}
		}
	})
	if err != nil {
		return err
	}
	return fs.Parse(args)
}

func newLogger(o *options, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", o.logLevel, err)
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch o.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", o.logFormat)
}

// config turns the options into the broker's configuration.
func (o *options) config(log *slog.Logger) broker.Config {
	var join []string
	for _, s := range strings.Split(o.join, ",") {
		if s = strings.TrimSpace(s); s != "" {
			join = append(join, s)
		}
	}
	return broker.Config{
		ClientAddr:          o.clientAddr,
		HTTPAddr:            o.httpAddr,
		Profiling:           o.pprof,
		MaxFrameSize:        o.maxFrame,
		MemoryHighWatermark: o.memoryWatermark,
		TickInterval:        o.tick,
		Logger:              log,
		Cluster: cluster.Config{
			DataDir:            o.data,
			NodeID:             o.id,
			RaftAddr:           o.raftAddr,
			RaftAdvertise:      o.advRaft,
			GossipAddr:         o.gossipAddr,
			GossipAdvertise:    o.advGossip,
			ClientAddr:         o.advClient,
			HTTPAddr:           o.advHTTP,
			Join:               join,
			BootstrapExpect:    o.bootstrapExpect,
			LogStore:           o.logStore,
			SerialLeaderWrite:  o.serialLeaderWrite,
			NoLogReadBack:      o.bodiesInMemory,
			WALSegmentSize:     o.walSegmentSize,
			HeartbeatTimeout:   o.heartbeat,
			ElectionTimeout:    o.election,
			LeaderLeaseTimeout: o.leaderLease,
			CommitTimeout:      o.commit,
			SnapshotThreshold:  o.snapshotThreshold,
			SnapshotInterval:   o.snapshotInterval,
			TrailingLogs:       o.trailingLogs,
			Logger:             log,
		},
	}
}

func run(args []string, stderr io.Writer) int {
	var o options
	fs := newFlagSet(&o, stderr)
	if err := parse(fs, args, os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "node:", err)
		return 2
	}
	log, err := newLogger(&o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "node:", err)
		return 2
	}
	if o.gcPercent < 0 {
		fmt.Fprintf(stderr, "node: -gc-percent %d: want 0 (Go's own) or more\n", o.gcPercent)
		return 2
	}
	if o.monitorSlack < 0 || o.monitorSlack > maxMonitorSlack {
		fmt.Fprintf(stderr, "node: -monitor-slack %v: want 0 (the runtime's default) up to %v\n", o.monitorSlack, maxMonitorSlack)
		return 2
	}
	if err := os.MkdirAll(o.data, 0o750); err != nil {
		log.Error("cannot create the data directory", "dir", o.data, "err", err)
		return 1
	}

	if o.raftMetrics {
		sig, err := startRaftMetrics(stderr)
		if err != nil {
			log.Error("cannot start", "err", err)
			return 1
		}
		defer sig.Stop()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if o.hugePages {
		done := adviseHugePages(ctx, log)
		defer func() { stop(); <-done }()
	}
	if o.monitorSlack > 0 {
		done := slowMonitor(ctx, log, o.monitorSlack)
		defer func() { stop(); <-done }()
	}
	gcDone := tuneGC(ctx, o.gcPercent)
	defer func() { stop(); <-gcDone }()
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	b, err := broker.Open(startCtx, o.config(log))
	cancel()
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	code := 0
	select {
	case <-ctx.Done():
		log.Info("stopping: handing over leadership if leading, then closing")
	case <-b.Failed():
		log.Error("stopping: Raft stopped on its own; exiting with status 1 so that the node is restarted")
		code = 1
	}
	sctx, scancel := context.WithTimeout(context.Background(), o.shutdownTimeout)
	defer scancel()
	if err := b.Close(sctx); err != nil {
		log.Error("unclean stop", "err", err)
		return 1
	}
	return code
}

// adviseHugePages runs hugepages.Advise until ctx ends, after saying in the
// log whether it can work here; the returned channel closes when it has
// returned.
func adviseHugePages(ctx context.Context, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if mode, err := hugepages.Supported(); err == nil {
			log.Info("asking Linux for huge pages for the node's memory", "thp", mode)
		}
		err := hugepages.Advise(ctx, hugepages.DefaultPremap)
		switch {
		case errors.Is(err, hugepages.ErrUnsupported):
			log.Info("huge pages not available on request; memory uses the system's page size", "reason", err)
		case err != nil:
			log.Warn("huge pages: stopped advising", "err", err)
		}
	}()
	return done
}

// healthcheck asks a node's /healthz.
func healthcheck(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("http-addr", broker.DefaultHTTPAddr, "HTTP address of the node")
	ready := fs.Bool("ready", false, "ask /readyz (in a cluster with a leader) instead of /healthz")
	if err := parse(fs, args, os.Getenv); err != nil {
		return 2
	}
	host := *addr
	if strings.HasPrefix(host, "0.0.0.0:") {
		host = "127.0.0.1:" + strings.TrimPrefix(host, "0.0.0.0:")
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	cl := &http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get("http://" + host + path)
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, "unhealthy:", resp.Status)
		return 1
	}
	return 0
}
