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
	slowMonitor(context.Background(), log, 2*time.Millisecond)
	t.Cleanup(func() { _, _ = sysmonslack.Set(context.Background(), 0) })
	out := buf.String()
	switch {
	case runtime.GOOS != "linux":
		if !strings.Contains(out, "keeps its default timer slack") {
			t.Fatalf("off Linux the log should say the slack is unchanged: %s", out)
		}
	case strings.Contains(out, "CAP_SYS_NICE"):
		if os.Geteuid() == 0 {
			t.Fatalf("root was refused: %s", out)
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
	}
}
