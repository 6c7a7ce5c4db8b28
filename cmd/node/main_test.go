package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestEnvironmentSetsFlagsAndCommandLineWins(t *testing.T) {
	env := map[string]string{
		"RAFTMQ_BOOTSTRAP_EXPECT":      "3",
		"RAFTMQ_JOIN":                  "a:1, b:2,,",
		"RAFTMQ_ELECTION_TIMEOUT":      "750ms",
		"RAFTMQ_DATA":                  "/from/env",
		"RAFTMQ_ADVERTISE_CLIENT":      "10.0.0.1:6570",
		"RAFTMQ_MEMORY_HIGH_WATERMARK": "1024",
	}
	var o options
	fs := newFlagSet(&o, &bytes.Buffer{})
	if err := parse(fs, []string{"-data", "/from/flag"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if o.bootstrapExpect != 3 || o.election != 750*time.Millisecond || o.advClient != "10.0.0.1:6570" || o.memoryWatermark != 1024 {
		t.Fatalf("environment not applied: %+v", o)
	}
	if o.data != "/from/flag" {
		t.Fatalf("data = %q, want the command line's value", o.data)
	}
	cfg := o.config(nil)
	if got := strings.Join(cfg.Cluster.Join, ","); got != "a:1,b:2" {
		t.Fatalf("join = %q", got)
	}
	if cfg.Cluster.ClientAddr != "10.0.0.1:6570" || cfg.Cluster.BootstrapExpect != 3 {
		t.Fatalf("config %+v", cfg.Cluster)
	}
}

func TestBadEnvironmentIsAnError(t *testing.T) {
	var o options
	fs := newFlagSet(&o, &bytes.Buffer{})
	err := parse(fs, nil, func(k string) string {
		if k == "RAFTMQ_BOOTSTRAP_EXPECT" {
			return "three"
		}
		return ""
	})
	if err == nil || !strings.Contains(err.Error(), "RAFTMQ_BOOTSTRAP_EXPECT") {
		t.Fatalf("err = %v, want one naming the variable", err)
	}
}

func TestUsageAndExitCodes(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"-h"}, &out); code != 0 {
		t.Fatalf("-h exited %d", code)
	}
	for _, want := range []string{"-bootstrap-expect", "-advertise-raft", "RAFTMQ_", "healthcheck"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage does not mention %s", want)
		}
	}
	out.Reset()
	if code := run([]string{"-log-level", "loud"}, &out); code != 2 {
		t.Fatalf("bad log level exited %d", code)
	}
	if code := run([]string{"-no-such-flag"}, &out); code != 2 {
		t.Fatalf("unknown flag exited %d", code)
	}
	out.Reset()
	if code := run([]string{"-gc-percent", "-1", "-data", t.TempDir()}, &out); code != 2 || !strings.Contains(out.String(), "-gc-percent") {
		t.Fatalf("negative -gc-percent exited %d: %s", code, out.String())
	}
	for _, bad := range []string{"-1ms", "11ms"} {
		out.Reset()
		if code := run([]string{"-monitor-slack", bad, "-data", t.TempDir()}, &out); code != 2 || !strings.Contains(out.String(), "-monitor-slack") {
			t.Fatalf("-monitor-slack %s exited %d: %s", bad, code, out.String())
		}
	}
}

func TestGCTargetFollowsTheLiveHeap(t *testing.T) {
	for _, c := range []struct {
		live    uint64
		current int
		want    int
	}{
		{0, 100, 100},
		{largeHeap - 1, 100, 100},
		{largeHeap, 100, 50},
		{largeHeap * 4, 100, 50},
		{largeHeap - 1, 50, 50}, // between half and the line: no flip
		{largeHeap / 2, 50, 50},
		{largeHeap/2 - 1, 50, 100},
	} {
		if got := gcTarget(c.live, c.current, 100, 50); got != c.want {
			t.Errorf("gcTarget(%d, %d) = %d, want %d", c.live, c.current, got, c.want)
		}
	}
}

func TestGCTunerSetsTheTargetAsTheHeapGrowsAndShrinks(t *testing.T) {
	heap := []uint64{1 << 20, largeHeap + 1, largeHeap * 2, largeHeap / 4, largeHeap / 4}
	var set []int
	ctx, cancel := context.WithCancel(t.Context())
	i := 0
	live := func() uint64 {
		if i == len(heap) {
			cancel()
			return heap[len(heap)-1]
		}
		i++
		return heap[i-1]
	}
	runGCTuner(ctx, live, func(p int) { set = append(set, p) }, 100, 50, time.Millisecond)
	if fmt.Sprint(set) != "[50 100]" {
		t.Fatalf("targets set: %v, want [50 100] (once up, once down)", set)
	}
}

func TestTuneGCLeavesTheRuntimeAloneAtZero(t *testing.T) {
	old := debug.SetGCPercent(73)
	defer debug.SetGCPercent(old)
	<-tuneGC(t.Context(), 0)
	if got := debug.SetGCPercent(73); got != 73 {
		t.Fatalf("GC target after -gc-percent 0: %d, want the runtime's 73", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := tuneGC(ctx, 50)
	cancel()
	<-done
	if got := debug.SetGCPercent(73); got != 73 {
		t.Fatalf("GC target with a small heap: %d, want the runtime's 73", got)
	}
	if defaultGCPercent != 50 {
		t.Fatalf("default -gc-percent %d, want 50", defaultGCPercent)
	}
}

func TestHealthcheckFailsWithoutANode(t *testing.T) {
	var out bytes.Buffer
	if code := healthcheck([]string{"-http-addr", "127.0.0.1:1"}, &out); code != 1 {
		t.Fatalf("healthcheck against nothing exited %d", code)
	}
}
