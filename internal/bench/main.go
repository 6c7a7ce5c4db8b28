package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/raftmq/raftmq/client"
)

// Defaults of the command line.
const (
	// DefaultServers is the seed list without --servers and $RAFTMQ_SERVERS.
	DefaultServers = "127.0.0.1:6570"
	// DefaultPIDDir is where scripts/local-cluster.sh keeps its PID files
	// unless $RAFTMQ_LOCAL_DIR says otherwise.
	DefaultPIDDir = "/tmp/raftmq-local"
)

// Setup bounds.
const (
	setupTimeout   = 2 * time.Minute
	dialTimeout    = 10 * time.Second
	currentPoll    = 50 * time.Millisecond
	queuePrefix    = "bench"
	resultKind     = "broker"
	resultBroker   = "raftmq"
	defaultSetting = "raftmq"
)

// ErrUsage marks a mistake on the command line; Main exits with 2 for it.
var ErrUsage = errors.New("usage")

// Result is one run's record. Its JSON has the field names of the anchors'
// load generator (WORKLOADS.md, "The JSON a run reports"), so the anchors'
// compare.sh and summarize read it as they read their own.
type Result struct {
	Kind      string             `json:"kind"`
	Broker    string             `json:"broker"`
	Setting   string             `json:"setting"`
	Workload  string             `json:"workload"`
	Run       int                `json:"run"`
	StartedAt time.Time          `json:"started_at"`
	Params    Workload           `json:"params"`
	Placement string             `json:"placement"`
	Metrics   map[string]float64 `json:"metrics"`
	Info      map[string]any     `json:"info,omitempty"`
	GoVersion string             `json:"go_version"`
}

// config is one invocation.
type config struct {
	servers    []string
	w          Workload
	json       bool
	killCmd    string
	restartCmd string
	pids       string
	pidDir     string
	setting    string
	run        int
	progress   string
	verbose    bool
	latencyLog string // W2: where to write each publish's start and latency
	stdout     io.Writer
	stderr     io.Writer

	// kill and restart replace the shell commands (tests use in-process
	// nodes).
	kill, restart func(ctx context.Context, nodeID string) error
}

const usageText = `Usage: raftmq bench --servers host:port,... --workload w1|w2|w3|w3-paced|w4 [flags]

Runs one of the anchors' workloads (W1-W4, see docs/performance.md) against a
running three-node cluster: a fresh queue bench-<unix nanos>, 1 KiB messages,
clients placed relative to the Raft leader, and prints a summary; with --json
the last stdout line is one JSON object with the anchors' field names.

Flags:
`

const usageExample = `
Examples:
  raftmq bench --servers 127.0.0.1:7570,127.0.0.1:7670,127.0.0.1:7770 --workload w1
  raftmq bench --servers ... --workload w4 --json \
      --kill-cmd 'scripts/local-cluster.sh kill {node}' \
      --restart-cmd 'scripts/local-cluster.sh restart {node}'
`

// parseArgs reads the command line.
func parseArgs(args []string, stdout, stderr io.Writer, getenv func(string) string) (*config, error) {
	cfg := &config{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	servers := getenv("RAFTMQ_SERVERS")
	if servers == "" {
		servers = DefaultServers
	}
	pidDir := getenv("RAFTMQ_LOCAL_DIR")
	if pidDir == "" {
		pidDir = DefaultPIDDir
	}
	fs.StringVar(&servers, "servers", servers, "comma-separated client addresses of every node, in a fixed order (env RAFTMQ_SERVERS)")
	wname := fs.String("workload", "", "w1 | w2 | w3 | w3-paced | w4 (required)")
	messages := fs.Int("messages", 0, "override the workload's message count (W1-W3)")
	duration := fs.Duration("duration", 0, "W4: publishing time, the kill and restart times scaled with it (default 40s)")
	connect := fs.String("connect", "", "W4: where the publisher dials, follower (default) or leader")
	fs.BoolVar(&cfg.json, "json", false, "print the result as one JSON object, the last stdout line")
	fs.StringVar(&cfg.killCmd, "kill-cmd", "", "W4: shell command that kills a node with SIGKILL; {node} is the node ID")
	fs.StringVar(&cfg.restartCmd, "restart-cmd", "", "W4: shell command that starts a killed node again; {node} is the node ID")
	fs.StringVar(&cfg.pids, "pids", "", "node process IDs for the CPU figures: PID,PID,PID in --servers order, or ID=PID,...")
	fs.StringVar(&cfg.pidDir, "pid-dir", pidDir, "directory of <node ID>.pid files, used without --pids (env RAFTMQ_LOCAL_DIR)")
	fs.StringVar(&cfg.setting, "setting", defaultSetting, "label of the broker configuration, for the JSON record")
	fs.IntVar(&cfg.run, "run", 1, "run number, for the JSON record")
	fs.StringVar(&cfg.progress, "progress", "auto", "progress on stderr: auto (a bar on a terminal, a line every 5 s otherwise), on, off")
	fs.BoolVar(&cfg.verbose, "verbose", false, "log the clients' connection events to stderr")
	fs.StringVar(&cfg.latencyLog, "latency-log", "", "W2: write every measured publish to this file as a line \"<start, unix ns> <latency, ns>\", confirmed or not (failed: latency -1), to see when the slow ones happened")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			fmt.Fprint(stdout, usageExample)
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v (see raftmq bench -h)", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %q (see raftmq bench -h)", ErrUsage, fs.Args())
	}
	for _, s := range strings.Split(servers, ",") {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(cfg.servers, s) {
			cfg.servers = append(cfg.servers, s)
		}
	}
	if len(cfg.servers) == 0 {
		return nil, fmt.Errorf("%w: --servers is empty", ErrUsage)
	}
	if *wname == "" {
		return nil, fmt.Errorf("%w: --workload is required: w1, w2, w3, w3-paced or w4", ErrUsage)
	}
	w, ok := workloads()[*wname]
	if !ok {
		return nil, fmt.Errorf("%w: unknown workload %q: w1, w2, w3, w3-paced or w4", ErrUsage, *wname)
	}
	switch {
	case *messages < 0:
		return nil, fmt.Errorf("%w: --messages %d is negative", ErrUsage, *messages)
	case *messages > 0 && w.Name == "w4":
		return nil, fmt.Errorf("%w: --messages does not apply to w4 (use --duration)", ErrUsage)
	case *messages > 0:
		if *messages < w.Publishers {
			return nil, fmt.Errorf("%w: --messages %d is below the %d publishers", ErrUsage, *messages, w.Publishers)
		}
		w.Messages = *messages
	}
	if cfg.latencyLog != "" && w.Name != "w2" {
		return nil, fmt.Errorf("%w: --latency-log applies to w2 only", ErrUsage)
	}
	if *duration != 0 || *connect != "" {
		if w.Name != "w4" {
			return nil, fmt.Errorf("%w: --duration and --connect apply to w4 only", ErrUsage)
		}
	}
	if *duration < 0 || (*duration > 0 && *duration < time.Second) {
		return nil, fmt.Errorf("%w: --duration %v: at least 1s", ErrUsage, *duration)
	}
	if *duration > 0 {
		f := float64(*duration) / float64(w.Duration)
		w.KillAfter = time.Duration(float64(w.KillAfter) * f)
		w.RestartAfter = time.Duration(float64(w.RestartAfter) * f)
		w.Duration = *duration
	}
	switch *connect {
	case "", "follower":
	case "leader":
		w.Connect = "leader"
		w.Name = "w4-leaderconn"
	default:
		return nil, fmt.Errorf("%w: --connect %q: follower or leader", ErrUsage, *connect)
	}
	if strings.HasPrefix(w.Name, "w4") {
		if cfg.killCmd == "" || cfg.restartCmd == "" {
			return nil, fmt.Errorf("%w: w4 needs --kill-cmd and --restart-cmd", ErrUsage)
		}
		if len(cfg.servers) < 3 {
			return nil, fmt.Errorf("%w: w4 needs the addresses of 3 nodes in --servers", ErrUsage)
		}
	}
	switch cfg.progress {
	case "auto", "on", "off":
	default:
		return nil, fmt.Errorf("%w: --progress %q: auto, on or off", ErrUsage, cfg.progress)
	}
	cfg.w = w
	return cfg, nil
}

// Main runs "raftmq bench" with args (the arguments after "bench") and
// returns the exit code: 0 success, 1 failure, 2 bad usage. The summary goes
// to stdout, or with --json to stderr with one JSON object as the last
// stdout line; progress and errors go to stderr. ctx ends the run early
// (interrupt).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := Run(ctx, args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		fmt.Fprintf(stderr, "raftmq bench: %v\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "raftmq bench: %v\n", err)
	return 1
}

// Run is Main for a caller that prints errors itself: it returns nil on
// success, flag.ErrHelp after printing the help for -h, an error wrapping
// ErrUsage for a mistake on the command line, and any other error for a
// failed run.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, stdout, stderr, os.Getenv, nil)
}

// runWith is Run with the environment and a last adjustment of the
// configuration (tests set the kill and restart hooks there).
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, adjust func(*config)) error {
	cfg, err := parseArgs(args, stdout, stderr, getenv)
	if err != nil {
		return err
	}
	if adjust != nil {
		adjust(cfg)
	}
	res, err := run(ctx, cfg)
	if err != nil {
		return err
	}
	return report(cfg, res)
}

// report prints the summary and, with --json, the JSON line.
func report(cfg *config, res *Result) error {
	sw := cfg.stdout
	if cfg.json {
		sw = cfg.stderr
	}
	writeSummary(sw, res)
	if !cfg.json {
		return nil
	}
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if _, err := fmt.Fprintf(cfg.stdout, "%s\n", b); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}

// headline returns the figures printed first for a workload.
func headline(workload string) []string {
	switch {
	case workload == "w1":
		return []string{"msgs_per_s", "mb_per_s", "confirmed", "failed", "seconds"}
	case workload == "w2":
		return []string{"p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us", "confirmed", "failed"}
	case strings.HasPrefix(workload, "w3"):
		return []string{"consume_msgs_per_s", "publish_msgs_per_s", "e2e_p50_us", "e2e_p99_us", "e2e_max_us", "consumed_unique", "redelivered_dups", "timed_out"}
	default:
		return []string{"max_gap_ms", "first_ok_after_kill_ms", "missing_confirmed", "duplicates", "confirmed", "failed_attempts", "recovered_s_after_restart"}
	}
}

// writeSummary prints a human summary: the headline figures, then every
// other metric, then the placement.
func writeSummary(w io.Writer, r *Result) {
	fmt.Fprintf(w, "raftmq bench %s (%s): %s\n", r.Workload, r.Setting, r.Params.Description)
	fmt.Fprintf(w, "  %s\n", r.Placement)
	keys := headline(r.Workload)
	var rest []string
	for k := range r.Metrics {
		if !slices.Contains(keys, k) {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range append(keys, rest...) {
		v, ok := r.Metrics[k]
		if !ok {
			continue
		}
		fmt.Fprintf(w, "  %-26s %s\n", k, fmtNum(v))
	}
}

// fmtNum prints v with thousands separators above 1000 and a sensible
// number of decimals below.
func fmtNum(v float64) string {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1000:
		s := fmt.Sprintf("%.0f", a)
		var b strings.Builder
		if v < 0 {
			b.WriteByte('-')
		}
		for i, c := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteByte(',')
			}
			b.WriteRune(c)
		}
		return b.String()
	case v == float64(int64(v)):
		return fmt.Sprintf("%d", int64(v))
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

// session is the state of one run shared by the workloads.
type session struct {
	cfg     *config
	servers []string // client addresses; node i is servers[i]
	ids     []string // node IDs, aligned with servers
	leader  int      // L: the index of the leader after setup
	queue   string
	idm     idMaker
	admin   *client.Client
	logger  *slog.Logger
}

// dial connects a client through node i only: the placement of WORKLOADS.md.
// The client then follows the leader (raftmq serves clients on the leader),
// so every client of a run ends up connected to node L.
func (s *session) dial(ctx context.Context, i int, name string) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := client.Dial(ctx, []string{s.servers[i%len(s.servers)]}, client.WithName(name), client.WithLogger(s.logger))
	if err != nil {
		return nil, fmt.Errorf("connect %s through %s: %w", name, s.servers[i%len(s.servers)], err)
	}
	return c, nil
}

// run sets up a fresh queue, runs the workload and returns its record.
func run(ctx context.Context, cfg *config) (*Result, error) {
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelDebug
	}
	s := &session{
		cfg:    cfg,
		logger: slog.New(slog.NewTextHandler(cfg.stderr, &slog.HandlerOptions{Level: level})),
	}
	s.servers = append(s.servers, cfg.servers...)
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	admin, err := client.Dial(dctx, s.servers, client.WithName("raftmq-bench-admin"), client.WithLogger(s.logger))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", strings.Join(s.servers, ","), err)
	}
	defer admin.Close()
	s.admin = admin
	info := map[string]any{}
	if err := s.setup(ctx, info); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	w := cfg.w
	res := &Result{
		Kind: resultKind, Broker: resultBroker, Setting: cfg.setting, Workload: w.Name, Run: cfg.run,
		StartedAt: time.Now().UTC(), Params: w, Info: info, GoVersion: runtime.Version(),
		Placement: fmt.Sprintf("leader at setup %s; client i dials node (leader+i) mod %d only and follows the Raft leader, so all clients end up on %s",
			s.ids[s.leader], len(s.servers), s.ids[s.leader]),
	}
	pids, pidErr := nodePIDs(cfg.pids, cfg.pidDir, s.ids)
	if pidErr != nil {
		info["cpu_note"] = pidErr.Error()
	}
	cpuB0, cpuErr := cpuSum(pids)
	cpuS0, wall0 := selfCPU(), time.Now()
	switch {
	case w.Name == "w1":
		res.Metrics, err = s.runW1(ctx, w)
	case w.Name == "w2":
		res.Metrics, err = s.runW2(ctx, w)
	case strings.HasPrefix(w.Name, "w3"):
		res.Metrics, err = s.runW3(ctx, w)
	default:
		res.Metrics, err = s.runW4(ctx, w, info)
		if w.Connect == "leader" {
			res.Placement = fmt.Sprintf("leader at setup %s; publisher dials the leader (its connection dies with it)", s.ids[s.leader])
		} else {
			res.Placement = fmt.Sprintf("leader at setup %s; publisher dials follower %s only and follows the Raft leader, so it is connected to %s when it is killed",
				s.ids[s.leader], s.ids[(s.leader+1)%len(s.ids)], s.ids[s.leader])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", w.Name, err)
	}
	if pidErr == nil {
		// Resident memory after the run: with W1's 200,000 messages still
		// queued it shows the state machine's memory per message.
		rss := map[string]int64{}
		for i, p := range pids {
			if b, err := procRSS(p); err == nil {
				rss[s.ids[i]] = b
			}
		}
		info["node_rss_bytes_after"] = rss
	}
	if pidErr == nil && cpuErr == nil && !strings.HasPrefix(w.Name, "w4") {
		if cpuB1, err := cpuSum(pids); err == nil {
			wall := time.Since(wall0).Seconds()
			res.Metrics["broker_cpu_s"] = cpuB1 - cpuB0
			res.Metrics["bench_cpu_s"] = selfCPU() - cpuS0
			res.Metrics["broker_cores_used"] = (cpuB1 - cpuB0) / wall
			if c := res.Metrics["confirmed"]; c > 0 {
				res.Metrics["broker_cpu_us_per_msg"] = (cpuB1 - cpuB0) / c * 1e6
			}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if st, err := admin.Status(sctx); err == nil {
		info["leader_at_end"] = st.LeaderID
		info["term_at_end"] = st.Term
		info["commit_index_at_end"] = st.CommitIndex
	}
	return res, nil
}

// setup completes the server list from the cluster's members, replaces
// older bench queues with a fresh empty one, and waits until every node has
// applied the leader's commit index. It records the leader as s.leader.
func (s *session) setup(ctx context.Context, info map[string]any) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	st, err := s.admin.Status(ctx)
	if err != nil {
		return err
	}
	members := append([]client.Member(nil), st.Members...)
	sort.Slice(members, func(i, j int) bool { return members[i].ID < members[j].ID })
	for _, m := range members {
		if m.Voter && m.ClientAddr != "" && !slices.Contains(s.servers, m.ClientAddr) {
			s.servers = append(s.servers, m.ClientAddr)
			info["servers_added_from_members"] = append(asStrings(info["servers_added_from_members"]), m.ClientAddr)
		}
	}
	qs, err := s.admin.ListQueues(ctx)
	if err != nil {
		return err
	}
	var deleted []string
	for _, q := range qs {
		if !strings.HasPrefix(q.Name, queuePrefix) {
			continue
		}
		if _, err := s.admin.DeleteQueue(ctx, q.Name); err != nil && !errors.Is(err, client.ErrNotFound) {
			return fmt.Errorf("delete old queue %s: %w", q.Name, err)
		}
		deleted = append(deleted, q.Name)
	}
	if len(deleted) > 0 {
		info["deleted_queues"] = deleted
	}
	runNanos := time.Now().UnixNano()
	s.queue = fmt.Sprintf("%s-%d", queuePrefix, runNanos)
	s.idm = newIDMaker(runNanos)
	if err := s.admin.DeclareQueue(ctx, s.queue, client.QueueArgs{}); err != nil {
		return err
	}
	info["queue"] = s.queue
	v, err := waitCurrent(ctx, s.servers, setupTimeout, currentPoll)
	if err != nil {
		return err
	}
	s.leader = v.leader()
	s.ids = make([]string, len(v.st))
	for i, si := range v.st {
		s.ids[i] = si.NodeID
	}
	info["nodes"] = s.ids
	info["servers"] = s.servers
	info["leader_at_setup"] = s.ids[s.leader]
	info["term_at_setup"] = v.st[s.leader].Term
	info["commit_index_at_setup"] = v.st[s.leader].CommitIndex
	return nil
}

func asStrings(v any) []string {
	s, _ := v.([]string)
	return s
}

// nodeCommand runs a --kill-cmd or --restart-cmd for node id through sh,
// with its output on stderr.
func (s *session) nodeCommand(ctx context.Context, tmpl, id string) error {
	cmdline := strings.ReplaceAll(tmpl, "{node}", shellQuote(id))
	c := exec.CommandContext(ctx, "/bin/sh", "-c", cmdline)
	c.Stdout, c.Stderr = s.cfg.stderr, s.cfg.stderr
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s: %w", cmdline, err)
	}
	return nil
}

// shellQuote quotes v for sh.
func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// killNode kills node id (the test hook or --kill-cmd).
func (s *session) killNode(ctx context.Context, id string) error {
	if s.cfg.kill != nil {
		return s.cfg.kill(ctx, id)
	}
	return s.nodeCommand(ctx, s.cfg.killCmd, id)
}

// restartNode starts node id again (the test hook or --restart-cmd).
func (s *session) restartNode(ctx context.Context, id string) error {
	if s.cfg.restart != nil {
		return s.cfg.restart(ctx, id)
	}
	return s.nodeCommand(ctx, s.cfg.restartCmd, id)
}
