package main

import (
	"strings"
	"testing"

	"github.com/raftmq/raftmq/internal/testcluster"
)

func TestBenchCommand(t *testing.T) {
	c := testcluster.Start(t, 3)
	servers := strings.Join(c.ClientAddrs(), ",")

	// Global --servers and --json carry over to the bench.
	r := cli(t, servers, nil, "--json", "bench", "--workload", "w2", "--messages", "20", "--progress", "off")
	if r.code != 0 {
		t.Fatalf("bench: exit %d, stderr %q", r.code, r.stderr)
	}
	out := lines(r.stdout)
	type rec struct {
		Workload string             `json:"workload"`
		Metrics  map[string]float64 `json:"metrics"`
	}
	got := decode[rec](t, out[len(out)-1])
	if got.Workload != "w2" || got.Metrics["confirmed"] != 20 || got.Metrics["p50_us"] <= 0 {
		t.Errorf("bench record %+v", got)
	}

	r = cli(t, servers, nil, "bench", "--workload", "w9")
	if r.code != 2 {
		t.Errorf("unknown workload: exit %d, want 2", r.code)
	}
	wantOneLineError(t, r, "bench", "unknown workload")
}
