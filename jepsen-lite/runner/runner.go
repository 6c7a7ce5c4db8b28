package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/jepsen-lite/backend"
	"github.com/raftmq/raftmq/jepsen-lite/checker"
	"github.com/raftmq/raftmq/jepsen-lite/history"
	"github.com/raftmq/raftmq/jepsen-lite/internal/wait"
	"github.com/raftmq/raftmq/jepsen-lite/nemesis"
	"github.com/raftmq/raftmq/jepsen-lite/report"
	"github.com/raftmq/raftmq/jepsen-lite/workload"
)

// Config describes one run.
type Config struct {
	// Backend is "docker" or "local" (for the parameters file); NewBackend
	// builds it with the run's data directory.
	Backend    string
	NewBackend func(dataDir string) (backend.Backend, error)
	// Workloads are names: queue, routing, metadata.
	Workloads []string
	// Nemesis are fault kinds (nemesis.ParseKinds).
	Nemesis []string
	// TimeLimit is how long the workload runs before the final heal.
	TimeLimit time.Duration
	// Rate is the target operations per second of each workload.
	Rate float64
	// Concurrency is the number of request workers of each workload.
	Concurrency int
	// Seed drives every random choice.
	Seed uint64
	// Store is the root of the run directories: Store/<name>/<time>/.
	Store string
	// Name names the run (default: the workloads and nemeses).
	Name string
	// OpTimeout bounds one operation (default 10 s); DrainTimeout the
	// final drain (default 60 s); LeaderTimeout the waits for a leader
	// (default 60 s).
	OpTimeout, DrainTimeout, LeaderTimeout time.Duration
	// LinTimeout bounds Porcupine (default 60 s).
	LinTimeout time.Duration
	// Log receives progress; nil means slog.Default().
	Log *slog.Logger
}

// Params is what params.json records about a run.
type Params struct {
	Name        string           `json:"name"`
	Backend     string           `json:"backend"`
	Workloads   []string         `json:"workloads"`
	Nemesis     []string         `json:"nemesis"`
	TimeLimit   string           `json:"time_limit"`
	Rate        float64          `json:"rate"`
	Concurrency int              `json:"concurrency"`
	Seed        uint64           `json:"seed"`
	Git         string           `json:"git_revision"`
	Started     time.Time        `json:"started"`
	OpTimeout   string           `json:"op_timeout"`
	Drain       string           `json:"drain_timeout"`
	Topology    checker.Topology `json:"topology"`
	Schedule    []nemesis.Fault  `json:"schedule"`
}

// Outcome is what a run produced.
type Outcome struct {
	// Dir is the run's directory.
	Dir string
	// Result is the checkers' verdict.
	Result checker.Result
	// Stats are the figures of the summary.
	Stats report.Stats
}

func (c *Config) defaults() {
	if c.OpTimeout <= 0 {
		c.OpTimeout = 10 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 60 * time.Second
	}
	if c.LeaderTimeout <= 0 {
		c.LeaderTimeout = 60 * time.Second
	}
	if c.LinTimeout <= 0 {
		c.LinTimeout = 60 * time.Second
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 6
	}
	if c.Rate <= 0 {
		c.Rate = 100
	}
	if c.Store == "" {
		c.Store = "store"
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Name == "" {
		n := strings.Join(c.Workloads, "+")
		if len(c.Nemesis) == 0 {
			n += "-none"
		} else if len(c.Nemesis) <= 2 {
			n += "-" + strings.Join(c.Nemesis, "+")
		} else {
			n += fmt.Sprintf("-%dfaults", len(c.Nemesis))
		}
		c.Name = n
	}
}

// GitRevision returns the working tree's commit, with "+dirty" when it has
// changes, or "unknown".
func GitRevision() string {
	out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		rev += "+dirty"
	}
	return rev
}

// Run performs one run: start the cluster, set the workloads up, run them
// with the nemesis for the time limit, heal, wait for a leader, drain,
// check, write the report, save node logs when the verdict is not valid,
// and stop the cluster. The error is for a run that could not be carried
// out (the cluster never came up); anomalies are in Outcome.
func Run(ctx context.Context, cfg Config) (*Outcome, error) {
	cfg.defaults()
	log := cfg.Log
	started := time.Now()
	dir := filepath.Join(cfg.Store, cfg.Name, started.Format("20060102T150405"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the run directory: %w", err)
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	out := &Outcome{Dir: dir}
	b, err := cfg.NewBackend(filepath.Join(dir, "data"))
	if err != nil {
		return out, err
	}
	if nemesis.NeedsPartitions(cfg.Nemesis) {
		if err := b.Partition(ctx, nil); errors.Is(err, backend.ErrUnsupported) {
			return out, fmt.Errorf("nemesis %v: %w", cfg.Nemesis, err)
		}
	}

	clientLogFile, err := os.Create(filepath.Join(dir, "client.log"))
	if err != nil {
		return out, fmt.Errorf("create the client log: %w", err)
	}
	defer clientLogFile.Close()
	clog := slog.New(slog.NewTextHandler(clientLogFile, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Workloads and their combined topology.
	tag := fmt.Sprintf("s%d", cfg.Seed)
	var wls []workload.Workload
	topo := checker.Topology{}
	for i, name := range cfg.Workloads {
		w, err := workload.New(name, workload.Env{
			Addrs: nil, Seed: cfg.Seed, Rate: cfg.Rate, Concurrency: cfg.Concurrency,
			OpTimeout: cfg.OpTimeout, Tag: tag, Log: log, ClientLog: clog, ProcessBase: i * 10_000_000,
		})
		if err != nil {
			return out, err
		}
		wls = append(wls, w)
		t := w.Topology()
		topo.Exchanges = append(topo.Exchanges, t.Exchanges...)
		topo.Queues = append(topo.Queues, t.Queues...)
		topo.Bindings = append(topo.Bindings, t.Bindings...)
		if t.FIFO != "" {
			topo.FIFO = t.FIFO
		}
	}
	sched := nemesis.Schedule(cfg.Seed, nemesis.ScheduleConfig{Kinds: cfg.Nemesis, Duration: cfg.TimeLimit})
	params := Params{
		Name: cfg.Name, Backend: cfg.Backend, Workloads: cfg.Workloads, Nemesis: cfg.Nemesis,
		TimeLimit: cfg.TimeLimit.String(), Rate: cfg.Rate, Concurrency: cfg.Concurrency, Seed: cfg.Seed,
		Git: GitRevision(), Started: started.UTC(), OpTimeout: cfg.OpTimeout.String(), Drain: cfg.DrainTimeout.String(),
		Topology: topo, Schedule: sched,
	}
	if err := writeJSON(filepath.Join(dir, "params.json"), params); err != nil {
		return out, err
	}

	log.Info("starting the cluster", "backend", b.Name(), "dir", dir)
	stopped := false
	stopCluster := func() {
		if stopped {
			return
		}
		stopped = true
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := b.Stop(sctx); err != nil {
			log.Error("stopping the cluster failed", "err", err)
		}
	}
	defer stopCluster()
	if err := b.Start(ctx); err != nil {
		saveLogs(b, dir, log)
		return out, fmt.Errorf("start the cluster: %w", err)
	}
	addrs := b.ClientAddrs()
	if _, err := WaitLeader(ctx, addrs, cfg.LeaderTimeout, true, clog); err != nil {
		saveLogs(b, dir, log)
		return out, fmt.Errorf("the cluster never elected a leader: %w", err)
	}
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	sc, err := client.Dial(setupCtx, addrs, client.WithName("setup"), client.WithLogger(clog))
	if err != nil {
		cancel()
		return out, fmt.Errorf("setup: connect: %w", err)
	}
	for _, w := range wls {
		if err := w.Setup(setupCtx, sc); err != nil {
			sc.Close()
			cancel()
			saveLogs(b, dir, log)
			return out, fmt.Errorf("set up workload %s: %w", w.Name(), err)
		}
	}
	sc.Close()
	cancel()

	// The run proper.
	hf, err := os.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return out, fmt.Errorf("create the history: %w", err)
	}
	defer hf.Close()
	rec := history.NewRecorder(time.Now(), hf)
	for i, name := range cfg.Workloads {
		w, err := workload.New(name, workload.Env{
			Addrs: addrs, Rec: rec, Seed: cfg.Seed, Rate: cfg.Rate, Concurrency: cfg.Concurrency,
			OpTimeout: cfg.OpTimeout, Tag: tag, Log: log, ClientLog: clog, ProcessBase: i * 10_000_000,
		})
		if err != nil {
			return out, err
		}
		wls[i] = w
	}
	log.Info("running", "workloads", cfg.Workloads, "nemesis", cfg.Nemesis, "faults", len(sched), "time_limit", cfg.TimeLimit, "seed", cfg.Seed)
	runCtx, stopRun := context.WithTimeout(ctx, cfg.TimeLimit)
	defer stopRun()
	wlDone := make(chan error, len(wls))
	for _, w := range wls {
		go func() { wlDone <- w.Run(runCtx) }()
	}
	nem := &nemesis.Nemesis{B: b, Rec: rec, Log: log, Leader: func(ctx context.Context) string {
		st, err := leaderStatus(ctx, addrs, clog)
		if err != nil {
			return ""
		}
		return st.LeaderID
	}}
	intervals := nem.Run(runCtx, sched) // heals everything before returning
	<-runCtx.Done()

	// Recovery: a leader, then the workers stop, then the drain.
	healed := rec.Now()
	lt, lerr := WaitLeader(ctx, addrs, cfg.LeaderTimeout, false, clog)
	if lerr != nil {
		log.Error("no leader after the final heal", "err", lerr)
	} else {
		log.Info("leader after the final heal", "after", time.Duration(rec.Now()-healed).Round(time.Millisecond), "leader", lt.LeaderID)
	}
	var wlErrs []error
	for range wls {
		if err := <-wlDone; err != nil {
			wlErrs = append(wlErrs, err)
		}
	}
	if len(wlErrs) > 0 {
		log.Warn("workload errors", "err", errors.Join(wlErrs...))
	}
	if len(topo.Queues) > 0 {
		drain(ctx, addrs, rec, topo, cfg.DrainTimeout, log, clog)
	}
	if err := rec.Flush(); err != nil {
		log.Error("writing the history failed", "err", err)
	}

	// Check and report.
	ops := rec.Ops()
	linPath := ""
	if slices.Contains(cfg.Workloads, "metadata") {
		linPath = filepath.Join(dir, "linearizability.html")
	}
	log.Info("checking", "ops", len(ops))
	res := checker.Check(ops, topo, checker.MetadataOptions{Timeout: cfg.LinTimeout, VisualizePath: linPath})
	if lerr != nil {
		res.Errors = append(res.Errors, fmt.Sprintf("no leader after the final heal: %v", lerr))
		res.Valid = checker.Merge(res.Valid, checker.Unknown)
	}
	out.Result = res
	out.Stats = report.ComputeStats(ops, intervals, res)
	meta := report.Meta{Name: cfg.Name, Seed: cfg.Seed, Git: params.Git, Backend: cfg.Backend, Workloads: cfg.Workloads,
		Nemesis: cfg.Nemesis, TimeLimit: cfg.TimeLimit, Started: started, Dir: dir, Linearizability: filepath.Base(linPath)}
	if err := report.Write(dir, meta, ops, intervals, res, out.Stats); err != nil {
		log.Error("writing the report failed", "err", err)
	}
	if res.Valid != checker.Valid {
		saveLogs(b, dir, log)
	}
	stopCluster()
	return out, nil
}

func saveLogs(b backend.Backend, dir string, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := b.SaveLogs(ctx, filepath.Join(dir, "logs")); err != nil {
		log.Error("saving node logs failed", "err", err)
	}
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// leaderStatus asks the cluster for its status through a short-lived
// client connected to any node.
func leaderStatus(ctx context.Context, addrs []string, clog *slog.Logger) (client.Status, error) {
	c, err := client.Dial(ctx, addrs, client.WithLogger(clog), client.WithName("status"), client.WithDialTimeout(time.Second))
	if err != nil {
		return client.Status{}, err
	}
	defer c.Close()
	return c.Status(ctx)
}

// WaitLeader polls the cluster's status until a leader is known and, with
// allVoters, until three voters are members; it fails after timeout.
func WaitLeader(ctx context.Context, addrs []string, timeout time.Duration, allVoters bool, clog *slog.Logger) (client.Status, error) {
	if clog == nil {
		clog = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for i := 0; i < 100000; i++ {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := leaderStatus(sctx, addrs, clog)
		scancel()
		if err == nil && st.LeaderID != "" {
			voters := 0
			for _, m := range st.Members {
				if m.Voter {
					voters++
				}
			}
			if !allVoters || voters >= 3 {
				return st, nil
			}
			err = fmt.Errorf("%d voters", voters)
		} else if err == nil {
			err = errors.New("no leader known")
		}
		last = err
		if !wait.Sleep(ctx, 200*time.Millisecond) {
			break
		}
	}
	return client.Status{}, fmt.Errorf("wait for a leader: %w", errors.Join(last, ctx.Err()))
}
