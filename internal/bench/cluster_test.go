package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/testcluster"
)

// benchRun runs the bench in-process against servers and decodes the JSON
// record of its last stdout line.
func benchRun(t *testing.T, servers []string, adjust func(*config), args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	full := append([]string{"--servers", strings.Join(servers, ","), "--json", "--progress", "off", "--pid-dir", t.TempDir()}, args...)
	if err := runWith(ctx, full, &out, &errOut, noEnv, adjust); err != nil {
		t.Fatalf("bench %q: %v\nstderr:\n%s", args, err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var r Result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		t.Fatalf("last stdout line %q: %v", lines[len(lines)-1], err)
	}
	if r.Kind != "broker" || r.Broker != "raftmq" || r.GoVersion == "" {
		t.Errorf("record header %+v", r)
	}
	return r
}

// checkLatencyLog checks W2's --latency-log against its record: one line per
// measured publish, in order, each starting within the run and lasting as
// long as the histogram says the slowest did at most.
func checkLatencyLog(t *testing.T, path string, r Result, from, to time.Time) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var prev, maxD int64
	n := 0
	for line := range strings.Lines(string(data)) {
		var start, d int64
		if _, err := fmt.Sscanf(line, "%d %d\n", &start, &d); err != nil {
			t.Fatalf("latency log line %d %q: %v", n+1, line, err)
		}
		if start < from.UnixNano() || start > to.UnixNano() || start < prev || d <= 0 {
			t.Fatalf("latency log line %d %q: start outside the run (%d-%d), out of order or latency not positive", n+1, line, from.UnixNano(), to.UnixNano())
		}
		prev, maxD = start, max(maxD, d)
		n++
	}
	if n != int(r.Metrics["confirmed"]) || math.Abs(float64(maxD)-r.Metrics["max_us"]*1e3) > 1 {
		t.Fatalf("latency log: %d lines, slowest %d ns; record: %v confirmed, max %v µs", n, maxD, r.Metrics["confirmed"], r.Metrics["max_us"])
	}
}

// wantMetrics checks that every key is present and satisfies ok.
func wantMetrics(t *testing.T, r Result, ok func(k string, v float64) bool, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v, present := r.Metrics[k]
		if !present || !ok(k, v) {
			t.Errorf("%s: metric %s = %v (present %v)", r.Workload, k, v, present)
		}
	}
}

func TestWorkloadsAgainstCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster")
	}
	c := testcluster.Start(t, 3)
	servers := c.ClientAddrs()

	r := benchRun(t, servers, nil, "--workload", "w1", "--messages", "2000")
	wantMetrics(t, r, func(k string, v float64) bool {
		switch k {
		case "confirmed":
			return v == 2000
		case "failed":
			return v == 0
		}
		return v > 0
	}, "msgs_per_s", "mb_per_s", "confirmed", "failed", "seconds")
	if mb, n := r.Metrics["mb_per_s"], r.Metrics["msgs_per_s"]; mb < n*1024/1e6*0.999 || mb > n*1024/1e6*1.001 {
		t.Errorf("mb_per_s %v does not match msgs_per_s %v", mb, n)
	}
	if r.Info["cpu_note"] == nil || r.Metrics["broker_cpu_s"] != 0 {
		t.Errorf("in-process nodes have no PID files: CPU figures must be absent with a note, got info %v", r.Info)
	}
	leader := c.LeaderIndex()
	if r.Info["leader_at_setup"] != c.Node(leader).ID() {
		t.Errorf("leader_at_setup %v, want %s", r.Info["leader_at_setup"], c.Node(leader).ID())
	}
	q1, _ := r.Info["queue"].(string)

	latFile := filepath.Join(t.TempDir(), "w2.lat")
	before := time.Now()
	r = benchRun(t, servers, nil, "--workload", "w2", "--messages", "300", "--latency-log", latFile)
	checkLatencyLog(t, latFile, r, before, time.Now())
	// A latency log that cannot be written fails the run, with its path.
	bad := filepath.Join(t.TempDir(), "missing-dir", "w2.lat")
	err := runWith(context.Background(), []string{"--servers", strings.Join(servers, ","), "--json", "--progress", "off",
		"--pid-dir", t.TempDir(), "--workload", "w2", "--messages", "5", "--latency-log", bad}, io.Discard, io.Discard, noEnv, nil)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("w2 with an unwritable latency log: %v", err)
	}
	wantMetrics(t, r, func(k string, v float64) bool {
		switch k {
		case "confirmed":
			return v == 300
		case "failed":
			return v == 0
		}
		return v > 0
	}, "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us", "confirmed", "failed", "seconds")
	if !(r.Metrics["p50_us"] <= r.Metrics["p90_us"] && r.Metrics["p90_us"] <= r.Metrics["p99_us"] && r.Metrics["p99_us"] <= r.Metrics["max_us"]) {
		t.Errorf("percentiles out of order: %v", r.Metrics)
	}
	// The run replaced the older bench queue with a fresh one.
	if del, _ := r.Info["deleted_queues"].([]any); len(del) != 1 || del[0] != q1 || r.Info["queue"] == q1 {
		t.Errorf("deleted %v, queue %v; want %s deleted and a new queue", r.Info["deleted_queues"], r.Info["queue"], q1)
	}

	for _, w := range []string{"w3", "w3-paced"} {
		r = benchRun(t, servers, nil, "--workload", w, "--messages", "2000")
		wantMetrics(t, r, func(k string, v float64) bool {
			switch k {
			case "confirmed", "consumed_unique":
				return v == 2000
			case "failed", "timed_out", "redelivered_dups":
				return v == 0
			}
			return v > 0
		}, "consume_msgs_per_s", "consume_mb_per_s", "publish_msgs_per_s", "e2e_p50_us", "e2e_p99_us", "e2e_max_us",
			"consumed_unique", "redelivered_dups", "timed_out", "confirmed", "failed")
	}
	// Paced at 5,000/s, 2,000 messages take at least 0.4 s to publish.
	if r.Metrics["publish_msgs_per_s"] > 5000*1.05 {
		t.Errorf("w3-paced published at %v/s, above the 5,000/s pace", r.Metrics["publish_msgs_per_s"])
	}
}

func TestFailoverAgainstCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-node cluster and kills its leader")
	}
	c := testcluster.Start(t, 3)
	index := func(id string) (int, error) {
		for i := range c.Size() {
			if b := c.Node(i); b != nil && b.ID() == id {
				return i, nil
			}
		}
		return -1, fmt.Errorf("no running node %s", id)
	}
	var killed = -1
	adjust := func(cfg *config) {
		cfg.kill = func(_ context.Context, id string) error {
			i, err := index(id)
			if err != nil {
				return err
			}
			killed = i
			c.Kill(i)
			return nil
		}
		cfg.restart = func(_ context.Context, id string) error {
			if killed < 0 {
				return fmt.Errorf("restart %s before a kill", id)
			}
			c.Restart(killed)
			return nil
		}
	}
	leaderID := c.WaitLeader().ID()
	r := benchRun(t, c.ClientAddrs(), adjust, "--workload", "w4", "--duration", "6s", "--kill-cmd", "unused", "--restart-cmd", "unused")
	if r.Info["killed_node"] != leaderID || killed < 0 {
		t.Fatalf("killed %v (index %d), want the leader %s", r.Info["killed_node"], killed, leaderID)
	}
	m := r.Metrics
	t.Logf("w4 metrics %v info %v", m, r.Info)
	if m["missing_confirmed"] != 0 || m["duplicates"] != 0 || m["drain_incomplete"] != 0 {
		t.Errorf("missing %v duplicates %v drain incomplete %v; info %v", m["missing_confirmed"], m["duplicates"], m["drain_incomplete"], r.Info)
	}
	if m["confirmed"] < 100 || m["attempted"] < m["confirmed"] || m["attempted"] != m["confirmed"]+m["failed_attempts"] {
		t.Errorf("attempted %v confirmed %v failed %v", m["attempted"], m["confirmed"], m["failed_attempts"])
	}
	if m["stored_after_recovery"] < m["confirmed"] || m["stored_after_recovery"] > m["confirmed"]+m["unconfirmed_but_stored"] {
		t.Errorf("stored %v, confirmed %v, unconfirmed but stored %v", m["stored_after_recovery"], m["confirmed"], m["unconfirmed_but_stored"])
	}
	if m["first_ok_after_kill_ms"] <= 0 || m["max_gap_ms"] < 10 || m["max_gap_ms"] > 6000 {
		t.Errorf("first ok after kill %v ms, max gap %v ms", m["first_ok_after_kill_ms"], m["max_gap_ms"])
	}
	if m["recovered_s_after_restart"] < 0 {
		t.Errorf("never recovered after the restart: %v", r.Info["health_after"])
	}
	if p := m["publish_seconds"]; p < 6 || p > 7 {
		t.Errorf("publish_seconds %v, want about 6", p)
	}
}
