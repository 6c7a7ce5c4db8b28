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
// back from a goroutine blocked in a system call up to about 2 ms later
// (another idle P steals the goroutines queued behind it meanwhile), and
// preempts one that ran for over 10 ms about 1 ms later. The node's other
// threads keep the process's slack (confineInterval), so its timers are as
// precise as before.
const defaultMonitorSlack = time.Millisecond

// maxMonitorSlack bounds -monitor-slack: sysmon sleeps at most 10 ms between
// checks when all is quiet, and a slack beyond that would stretch its
// duties (preempting a goroutine after 10 ms, polling a network nobody
// polls) for no gain.
const maxMonitorSlack = 10 * time.Millisecond

// confineInterval is how often the node gives threads that inherited the
// monitor's slack (sysmon starts threads when it hands a P over) the
// process's own back: such a thread's timers are late by up to the slack
// until then.
const confineInterval = time.Second

// slowMonitor sets the timer slack of the runtime's monitor thread, logs what
// came of it, and then keeps the slack on that thread alone until ctx ends;
// the returned channel closes when it has stopped. Without the capability,
// or off Linux, the node goes on with the runtime's default.
func slowMonitor(ctx context.Context, log *slog.Logger, slack time.Duration) <-chan struct{} {
	done := make(chan struct{})
	setCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	tid, err := sysmonslack.Set(setCtx, slack)
	cancel()
	switch {
	case err == nil:
		log.Info("raised the timer slack of the Go runtime's monitor thread", "thread", tid, "slack", slack)
		go func() {
			defer close(done)
			if err := sysmonslack.Confine(ctx, tid, confineInterval); err != nil {
				log.Warn("stopped giving threads started by the Go runtime's monitor the process's timer slack", "err", err)
			}
		}()
		return done
	case errors.Is(err, os.ErrPermission):
		log.Info("the Go runtime's monitor thread keeps its default timer slack: setting it needs CAP_SYS_NICE (-monitor-slack 0 silences this)", "err", err)
	case errors.Is(err, sysmonslack.ErrUnsupported):
		log.Debug("the Go runtime's monitor thread keeps its default timer slack", "reason", err)
	default:
		log.Warn("the Go runtime's monitor thread keeps its default timer slack", "err", err)
	}
	close(done)
	return done
}
