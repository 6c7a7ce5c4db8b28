package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/raftmq/raftmq/jepsen-lite/backend"
	"github.com/raftmq/raftmq/jepsen-lite/checker"
	"github.com/raftmq/raftmq/jepsen-lite/history"
	"github.com/raftmq/raftmq/jepsen-lite/nemesis"
	"github.com/raftmq/raftmq/jepsen-lite/runner"
)

// buildNode builds cmd/node with the given build tags into a temporary
// directory and returns the binary's path.
func buildNode(t *testing.T, tags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "node")
	args := []string{"build", "-o", bin}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "./cmd/node")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("build the node: no go command on PATH: %v", err)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the node (tags %q): %v\n%s", tags, err, out)
	}
	return bin
}

// localRun runs one jepsen-lite run on the local backend with bin.
func localRun(t *testing.T, bin string, kinds string, limit time.Duration, seed uint64) *runner.Outcome {
	t.Helper()
	ks, err := nemesis.ParseKinds(kinds)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := runner.Run(ctx, runner.Config{
		Backend: "local",
		NewBackend: func(dataDir string) (backend.Backend, error) {
			return backend.NewLocal(backend.LocalConfig{Binary: bin, DataDir: dataDir, Logger: log})
		},
		Workloads: []string{"queue"}, Nemesis: ks, TimeLimit: limit, Rate: 150, Concurrency: 5, Seed: seed,
		Store: t.TempDir(), OpTimeout: 5 * time.Second, DrainTimeout: 30 * time.Second, Log: log,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	summary, _ := os.ReadFile(filepath.Join(out.Dir, "summary.txt"))
	t.Logf("run directory %s\n%s", out.Dir, summary)
	for _, f := range []string{"params.json", "history.jsonl", "results.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(out.Dir, f)); err != nil {
			t.Errorf("run directory lacks %s: %v", f, err)
		}
	}
	return out
}

func TestLocalQueueWithKills(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	out := localRun(t, buildNode(t, ""), "kill", 15*time.Second, 42)
	if out.Result.Valid != checker.Valid {
		t.Fatalf("verdict %s, want valid", out.Result.Valid)
	}
	if out.Stats.Confirmed < 100 || out.Stats.Faults == 0 {
		t.Fatalf("too little happened: %d confirmed, %d faults", out.Stats.Confirmed, out.Stats.Faults)
	}
}

// The queue workload stays valid under each partition nemesis on the local
// backend, and each partition really cuts: a fault that isolates the leader
// from its followers' messages forces an election.
func TestLocalQueueWithPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	if err := backend.CheckLocalPartitions(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must run the partition nemeses: %v", err)
		}
		t.Skipf("no partitions on this host: %v", err)
	}
	bin := buildNode(t, "")
	for i, kind := range []string{nemesis.IsolateLeader, nemesis.Bridge, nemesis.OneWay} {
		t.Run(kind, func(t *testing.T) {
			out := localRun(t, bin, kind, 15*time.Second, uint64(100+i))
			if out.Result.Valid != checker.Valid {
				t.Fatalf("verdict %s, want valid", out.Result.Valid)
			}
			if out.Stats.Confirmed < 100 || out.Stats.Faults == 0 {
				t.Fatalf("too little happened: %d confirmed, %d faults", out.Stats.Confirmed, out.Stats.Faults)
			}
			f, err := os.Open(filepath.Join(out.Dir, "history.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ops, err := history.Read(f)
			if err != nil {
				t.Fatal(err)
			}
			// Every fault was applied and healed, and confirms before the
			// first fault and after it tell whether the term moved.
			var faultAt int64 = -1
			var termBefore, termAfter uint64
			for _, op := range ops {
				if op.Process == history.NemesisProcess && op.Type != history.Invoke && op.Type != history.Ok {
					t.Errorf("nemesis %s %s failed: %s", op.F, op.Value.Fault, op.Error)
				}
				if op.F == history.FStartFault && op.Type == history.Ok && faultAt < 0 {
					faultAt = op.Time
				}
				if op.F == history.FPublish && op.Type == history.Ok {
					if faultAt < 0 {
						termBefore = max(termBefore, op.Value.Term)
					} else {
						termAfter = max(termAfter, op.Value.Term)
					}
				}
			}
			if faultAt < 0 {
				t.Fatal("no fault started")
			}
			if termBefore == 0 || termAfter == 0 {
				t.Fatalf("confirms carry no terms (before the fault %d, after %d)", termBefore, termAfter)
			}
			if kind != nemesis.Bridge && termAfter <= termBefore {
				t.Errorf("%s kept the leader: term %d before the fault, %d after", kind, termBefore, termAfter)
			}
		})
	}
}

// The suite must be able to fail: a broker that drops a confirmed message
// after each leader change is caught.
func TestPlantedBugLoseIsCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	out := localRun(t, buildNode(t, "raftmq_bug_lose"), "kill-leader", 20*time.Second, 7)
	if out.Result.Valid != checker.Invalid || out.Stats.Lost == 0 {
		t.Fatalf("verdict %s with %d lost; want invalid with lost > 0", out.Result.Valid, out.Stats.Lost)
	}
}

// A broker that enqueues a retried publish twice is caught.
func TestPlantedBugDupIsCaught(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	out := localRun(t, buildNode(t, "raftmq_bug_dup"), "none", 10*time.Second, 9)
	if out.Result.Valid != checker.Invalid || out.Stats.Duplicates == 0 {
		t.Fatalf("verdict %s with %d duplicates; want invalid with duplicates > 0", out.Result.Valid, out.Stats.Duplicates)
	}
}
