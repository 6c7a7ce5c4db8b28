package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/internal/sysmonslack"
)

func TestSlowMonitorSetsTheSlackOrSaysWhyNot(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	def, defErr := sysmonslack.Default()
	ctx, cancel := context.WithCancel(context.Background())
	done := slowMonitor(ctx, log, 2*time.Millisecond)
	cancel()
	<-done
	out := buf.String()
	switch {
	case runtime.GOOS != "linux":
		if !strings.Contains(out, "keeps its default timer slack") {
			t.Fatalf("off Linux the log should say the slack is unchanged: %s", out)
		}
	case strings.Contains(out, "CAP_SYS_NICE"):
		if hasSysNice(t) {
			t.Fatalf("refused with CAP_SYS_NICE: %s", out)
		}
		t.Skipf("this process lacks CAP_SYS_NICE: %s", out)
	default:
		m := regexp.MustCompile(`raised the timer slack of the Go runtime's monitor thread" thread=(\d+) slack=2ms`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("log does not report the new slack: %s", out)
		}
		tid, _ := strconv.Atoi(m[1])
		if got, err := sysmonslack.Slack(tid); err != nil || got != 2*time.Millisecond {
			t.Fatalf("thread %d's slack is %v (%v), want 2ms", tid, got, err)
		}
		if defErr != nil {
			t.Fatal(defErr)
		}
		if err := sysmonslack.SetThread(tid, def); err != nil {
			t.Fatal(err)
		}
	}
}

// hasSysNice tells whether the process has CAP_SYS_NICE (bit 23 of CapEff).
func hasSysNice(t *testing.T) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<23) != 0
		}
	}
	t.Fatal("no CapEff in /proc/self/status")
	return false
}
