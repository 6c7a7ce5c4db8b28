// Command jepsen-lite runs a workload against a three-node raftmq cluster
// while a nemesis injects faults, checks the history and writes a report.
// See doc.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/raftmq/raftmq/jepsen-lite/backend"
	"github.com/raftmq/raftmq/jepsen-lite/checker"
	"github.com/raftmq/raftmq/jepsen-lite/nemesis"
	"github.com/raftmq/raftmq/jepsen-lite/report"
	"github.com/raftmq/raftmq/jepsen-lite/runner"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: jepsen-lite [flags]

Runs workloads against a three-node raftmq cluster while a nemesis kills,
pauses and partitions nodes, then checks that no confirmed message was lost.
Writes store/<name>/<time>/ (summary.txt, report.html, history.jsonl, ...).
Exit status: 0 valid, 1 anomaly found, 2 unknown (or the run failed).

Nemeses: none, partition, kill, pause, all (or mixed), or single kinds:
  ` + "isolate-one isolate-leader bridge one-way flapping kill-one kill-leader kill-all pause-one pause-leader" + `

Examples:
  go run ./jepsen-lite --backend docker --workload queue --nemesis partition --time-limit 60s
  go run ./jepsen-lite --backend local --nemesis kill,pause --seed 7

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("jepsen-lite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	var (
		backendName = fs.String("backend", "docker", "cluster backend: docker or local")
		workloads   = fs.String("workload", "queue", "comma-separated workloads: queue, routing, metadata")
		nem         = fs.String("nemesis", "none", "comma-separated fault kinds or groups")
		timeLimit   = fs.Duration("time-limit", 60*time.Second, "how long the workload runs before the final heal")
		rate        = fs.Float64("rate", 100, "target operations per second, per workload")
		concurrency = fs.Int("concurrency", 6, "request workers per workload")
		seed        = fs.Uint64("seed", 0, "seed of every random choice (0: from the clock)")
		store       = fs.String("store", "store", "directory of run results")
		name        = fs.String("name", "", "run name (default: from the workloads and nemeses)")
		opTimeout   = fs.Duration("op-timeout", 10*time.Second, "timeout of one operation, retries included")
		drain       = fs.Duration("drain-timeout", 60*time.Second, "how long the final drain may take")
		compose     = fs.String("compose-file", "", "compose file of the docker backend (default: jepsen-lite/docker-compose.yml, run from the repository root)")
		nodeBin     = fs.String("node-binary", "bin/node", "node binary of the local backend")
		verbose     = fs.Bool("v", false, "log debug messages")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %v\n", fs.Args())
		return 2
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	kinds, err := nemesis.ParseKinds(*nem)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	var wls []string
	for _, w := range strings.Split(*workloads, ",") {
		switch w = strings.TrimSpace(w); w {
		case "queue", "routing", "metadata":
			wls = append(wls, w)
		case "":
		default:
			fmt.Fprintf(stderr, "unknown workload %q (queue, routing, metadata)\n", w)
			return 2
		}
	}
	if len(wls) == 0 {
		fmt.Fprintln(stderr, "no workload")
		return 2
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano()) & (1<<53 - 1)
	}
	if *timeLimit < 5*time.Second || *rate <= 0 || *concurrency <= 0 {
		fmt.Fprintln(stderr, "time limit must be at least 5s; rate and concurrency positive")
		return 2
	}

	var newBackend func(dataDir string) (backend.Backend, error)
	switch *backendName {
	case "docker":
		cf := *compose
		if cf == "" {
			cf = filepath.Join("jepsen-lite", "docker-compose.yml")
		}
		abs, err := filepath.Abs(cf)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		newBackend = func(dataDir string) (backend.Backend, error) {
			return backend.NewDocker(backend.DockerConfig{ComposeFile: abs, DataDir: dataDir, Logger: log})
		}
	case "local":
		bin, err := filepath.Abs(*nodeBin)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		newBackend = func(dataDir string) (backend.Backend, error) {
			return backend.NewLocal(backend.LocalConfig{Binary: bin, DataDir: dataDir, Logger: log})
		}
	default:
		fmt.Fprintf(stderr, "unknown backend %q (docker, local)\n", *backendName)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, err := runner.Run(ctx, runner.Config{
		Backend: *backendName, NewBackend: newBackend, Workloads: wls, Nemesis: kinds,
		TimeLimit: *timeLimit, Rate: *rate, Concurrency: *concurrency, Seed: *seed,
		Store: *store, Name: *name, OpTimeout: *opTimeout, DrainTimeout: *drain, Log: log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "run failed: %v\n", err)
		if out != nil {
			fmt.Fprintf(stderr, "run directory: %s\n", out.Dir)
		}
		return 2
	}
	fmt.Fprint(stdout, report.Summary(report.Meta{Name: filepath.Base(filepath.Dir(out.Dir)), Seed: *seed, Git: runner.GitRevision(),
		Backend: *backendName, Workloads: wls, Nemesis: kinds, TimeLimit: *timeLimit}, out.Result, out.Stats))
	fmt.Fprintf(stdout, "report       %s\n", filepath.Join(out.Dir, "report.html"))
	return checker.ExitCode(out.Result.Valid)
}
