//go:build linux

package sysmonslack

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// monitorSleep is the function sysmon sleeps in between its checks; no
// other runtime thread sleeps there for long (a thread stealing work naps
// there for 3 µs at most).
const monitorSleep = "runtime.usleep"

const (
	// maxLooks bounds Find: each look reads every thread's
	// /proc/self/task/<tid>/syscall once, some tens of microseconds.
	maxLooks = 400
	// enoughVotes is how often a thread must be seen in monitorSleep, and
	// more than twice as often as any other, before Find settles on it.
	enoughVotes = 8
)

// Find returns the thread ID of the Go runtime's system monitor (sysmon):
// the thread seen blocked in runtime.usleep most often over a series of
// looks at every thread's /proc/self/task/<tid>/syscall, while the caller's
// own system calls keep sysmon polling. It takes some milliseconds and
// returns ErrNotFound if no thread was seen there.
func Find(ctx context.Context) (int, error) {
	votes := make(map[int]int)
	for look := 0; look < maxLooks; look++ {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("find the system monitor thread: %w", err)
		}
		tids, err := threads()
		if err != nil {
			return 0, err
		}
		for _, tid := range tids {
			if name, ok := blockedIn(tid); ok && name == monitorSleep {
				votes[tid]++
			}
		}
		if tid, ok := winner(votes, enoughVotes); ok {
			return tid, nil
		}
	}
	if tid, ok := winner(votes, 1); ok {
		return tid, nil
	}
	return 0, ErrNotFound
}

// winner returns the thread with at least min votes and more than twice the
// votes of any other.
func winner(votes map[int]int, min int) (int, bool) {
	best, bestVotes, second := 0, 0, 0
	for tid, v := range votes {
		switch {
		case v > bestVotes:
			best, bestVotes, second = tid, v, bestVotes
		case v > second:
			second = v
		}
	}
	return best, bestVotes >= min && bestVotes > 2*second
}

// Set finds sysmon's thread and sets its timer slack to slack (0: the
// process's default again), and returns the thread's ID. Raising another
// thread's slack needs CAP_SYS_NICE: without it the error satisfies
// errors.Is(err, os.ErrPermission).
func Set(ctx context.Context, slack time.Duration) (int, error) {
	if slack < 0 {
		return 0, fmt.Errorf("sysmonslack: negative timer slack %v", slack)
	}
	tid, err := Find(ctx)
	if err != nil {
		return 0, err
	}
	path := slackFile(tid)
	if err := os.WriteFile(path, []byte(strconv.FormatInt(slack.Nanoseconds(), 10)), 0); err != nil {
		return tid, fmt.Errorf("set the timer slack of the system monitor thread %d: %w", tid, err)
	}
	if slack == 0 {
		return tid, nil
	}
	got, err := Slack(tid)
	if err != nil {
		return tid, err
	}
	if got != slack {
		return tid, fmt.Errorf("set the timer slack of the system monitor thread %d: wrote %v, reads back %v", tid, slack, got)
	}
	return tid, nil
}

// Slack returns a thread's current timer slack.
func Slack(tid int) (time.Duration, error) {
	b, err := os.ReadFile(slackFile(tid))
	if err != nil {
		return 0, fmt.Errorf("read the timer slack of thread %d: %w", tid, err)
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read the timer slack of thread %d: %w", tid, err)
	}
	return time.Duration(ns), nil
}

// slackFile is where Linux (4.6 and later) shows a thread's timer slack:
// /proc/<pid>/timerslack_ns, which for a thread's own ID is that thread's.
func slackFile(tid int) string { return "/proc/" + strconv.Itoa(tid) + "/timerslack_ns" }

// threads lists the IDs of the process's threads.
func threads() ([]int, error) {
	entries, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("list the process's threads: %w", err)
	}
	tids := make([]int, 0, len(entries))
	for _, e := range entries {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}

// blockedIn returns the Go function a thread is blocked in a system call
// from, read from /proc/self/task/<tid>/syscall ("<nr> <6 args> <sp> <pc>"
// while blocked in a system call; "running" or "-1 <sp> <pc>" otherwise).
// ok is false when the thread is not in a system call, has exited, or its
// pc is not Go code.
func blockedIn(tid int) (name string, ok bool) {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/syscall")
	if err != nil {
		return "", false
	}
	return parseSyscall(string(b))
}

// parseSyscall is blockedIn's reading of one syscall file's contents.
func parseSyscall(s string) (string, bool) {
	fields := strings.Fields(s)
	if len(fields) != 9 {
		return "", false
	}
	if _, err := strconv.Atoi(fields[0]); err != nil {
		return "", false
	}
	pc, err := strconv.ParseUint(strings.TrimPrefix(fields[8], "0x"), 16, 64)
	if err != nil || pc == 0 {
		return "", false
	}
	f := runtime.FuncForPC(uintptr(pc))
	if f == nil {
		return "", false
	}
	return f.Name(), true
}
