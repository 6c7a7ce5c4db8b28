package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/raftmq/raftmq/internal/sysmonslack"
)

// defaultMonitorSlack is -monitor-slack's default. Go's sysmon polls every
// 20 µs while a P is in a system call, and a node spends much of a lightly
// loaded second in fsyncs of a few hundred microseconds: in W2 (one publish
// at a time) sysmon made about 4 context switches per publish on each node.
// With 1 ms it makes under 2, and the nodes used about a fifth less CPU per
// publish (docs/performance.md, "Tenth pass"). The cost: sysmon takes a P
// back from a goroutine blocked in a system call, and preempts one that ran
// for over 10 ms, up to a millisecond later; the rest of the node's threads
// keep the default slack, so its timers are as precise as before.
const defaultMonitorSlack = time.Millisecond

// maxMonitorSlack bounds -monitor-slack: sysmon sleeps at most 10 ms between
// checks when all is quiet, and a slack beyond that would stretch its
// duties (preempting a goroutine after 10 ms, polling a network nobody
// polls) for no gain.
const maxMonitorSlack = 10 * time.Millisecond

// slowMonitor sets the timer slack of the runtime's monitor thread and logs
// what came of it. Without the capability, or off Linux, the node goes on
// with the runtime's default.
func slowMonitor(ctx context.Context, log *slog.Logger, slack time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tid, err := sysmonslack.Set(ctx, slack)
	switch {
	case err == nil:
		log.Info("raised the timer slack of the Go runtime's monitor thread", "thread", tid, "slack", slack)
	case errors.Is(err, os.ErrPermission):
		log.Info("the Go runtime's monitor thread keeps its default timer slack: setting it needs CAP_SYS_NICE (-monitor-slack 0 silences this)", "err", err)
	case errors.Is(err, sysmonslack.ErrUnsupported):
		log.Debug("the Go runtime's monitor thread keeps its default timer slack", "reason", err)
	default:
		log.Warn("the Go runtime's monitor thread keeps its default timer slack", "err", err)
	}
}
