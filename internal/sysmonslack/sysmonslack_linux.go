//go:build linux

package sysmonslack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// monitorSleep is the function sysmon sleeps in between its checks. No
// other runtime thread sleeps there in normal running but for a moment: a
// thread stealing work naps there for 3 µs (plus its timer slack), and the
// other callers run only on a crash or a failed thread creation.
const monitorSleep = "runtime.usleep"

const (
	// maxLooks bounds Find: each look reads every thread's
	// /proc/self/task/<tid>/syscall once, some tens of microseconds.
	maxLooks = 400
	// enoughVotes is how often a thread must be seen in monitorSleep, and
	// more than twice as often as any other, before Find settles on it; a
	// thread seen fewer times is not taken for sysmon.
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
	return 0, ErrNotFound
}

// winner returns the thread with at least least votes and more than twice
// the votes of any other.
func winner(votes map[int]int, least int) (int, bool) {
	best, bestVotes, second := 0, 0, 0
	for tid, v := range votes {
		switch {
		case v > bestVotes:
			best, bestVotes, second = tid, v, bestVotes
		case v > second:
			second = v
		}
	}
	return best, bestVotes >= least && bestVotes > 2*second
}

// Set finds sysmon's thread, sets its timer slack to slack and returns the
// thread's ID, also with an error once the thread is found. Setting
// another thread's slack needs CAP_SYS_NICE: without it the error satisfies
// errors.Is(err, os.ErrPermission). Threads that sysmon starts from then on
// (it starts one when it hands a P over and no thread is idle) inherit the
// slack: run Confine to give them back the process's own.
func Set(ctx context.Context, slack time.Duration) (int, error) {
	if slack <= 0 {
		return 0, fmt.Errorf("set the system monitor's timer slack to %v: want a positive slack", slack)
	}
	tid, err := Find(ctx)
	if err != nil {
		return 0, err
	}
	if err := SetThread(tid, slack); err != nil {
		return tid, fmt.Errorf("system monitor thread: %w", err)
	}
	return tid, nil
}

// SetThread sets one thread's timer slack to slack (which must be positive:
// writing 0 would give the thread the slack it inherited from the thread
// that started it, not the process's) and checks that it took.
func SetThread(tid int, slack time.Duration) error {
	if slack <= 0 {
		return fmt.Errorf("set the timer slack of thread %d to %v: want a positive slack", tid, slack)
	}
	if err := os.WriteFile(slackFile(tid), []byte(strconv.FormatInt(slack.Nanoseconds(), 10)), 0); err != nil {
		return fmt.Errorf("set the timer slack of thread %d: %w", tid, err)
	}
	got, err := Slack(tid)
	if err != nil {
		return err
	}
	if got != slack {
		return fmt.Errorf("set the timer slack of thread %d: wrote %v, reads back %v", tid, slack, got)
	}
	return nil
}

// Default returns the process's own timer slack: its main thread's, which
// the process inherited when it started and which nothing here changes.
func Default() (time.Duration, error) { return Slack(os.Getpid()) }

// Confine keeps a raised slack on sysmon's thread alone until ctx ends:
// every interval it gives each other thread whose slack differs from the
// process's own (Default) that slack back. Linux gives a new thread the
// slack of the thread that starts it, and sysmon starts threads when it
// hands a P over to run goroutines; their timers (the network poller's
// waits for the next Go timer among them) would otherwise be late by up to
// the raised slack. A thread it cannot reset ends Confine with the error.
func Confine(ctx context.Context, monitor int, interval time.Duration) error {
	def, err := Default()
	if err != nil {
		return err
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := confineOnce(monitor, def); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// confineOnce is one round of Confine; it returns how many threads it reset.
func confineOnce(monitor int, def time.Duration) (int, error) {
	tids, err := threads()
	if err != nil {
		return 0, err
	}
	reset := 0
	for _, tid := range tids {
		if tid == monitor {
			continue
		}
		s, err := Slack(tid)
		if err != nil {
			continue // the thread has exited
		}
		if s == def {
			continue
		}
		if err := SetThread(tid, def); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return reset, err
		}
		reset++
	}
	return reset, nil
}

// Slack returns a thread's current timer slack. Reading another thread's
// needs CAP_SYS_NICE too.
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
