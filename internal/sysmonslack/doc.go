// Package sysmonslack lengthens the naps of the Go runtime's system monitor
// thread (sysmon) on Linux by raising that one thread's timer slack.
//
// sysmon runs on its own thread and sleeps 20 µs between checks while the
// process is busy. Every time a goroutine enters a system call after all of
// the process's Ps were idle, sysmon is woken from its deep sleep and goes
// back to polling every 20 µs (golang/go#18236: the tick is hard-coded). A
// broker that handles one request at a time (read, fsync, write, then idle
// again) pays that poll several times per request: in raftmq's W2
// benchmark sysmon made about 4 of every 10 context switches of a node.
// With a timer slack of 1 ms the kernel may let each of those 20 µs naps
// run up to 1 ms, so sysmon wakes a few times per request instead of
// dozens, and does its real work (taking a P back from a long system call,
// preempting a goroutine that runs for over 10 ms, polling the network when
// nobody has for 10 ms) at most about a millisecond later.
//
// The timer slack is per thread (prctl(PR_SET_TIMERSLACK)), and a Go
// program cannot run code on sysmon's thread; Set writes
// /proc/<tid>/timerslack_ns instead, which for a thread other than the
// caller's needs CAP_SYS_NICE (root on a host has it; a container needs
// `cap_add: [SYS_NICE]`). Find tells sysmon's thread from the others by where
// it is blocked: the only thread that sleeps in runtime.usleep for long. A
// new thread inherits the slack of the thread that starts it, and sysmon
// starts threads; Confine gives those back the process's own slack.
package sysmonslack

import "errors"

// ErrUnsupported is returned where a thread's timer slack cannot be set from
// another thread: any system but Linux.
var ErrUnsupported = errors.New("sysmonslack: setting another thread's timer slack is not supported on this system")

// ErrNotFound is returned by Find when no thread of the process was seen
// sleeping where sysmon sleeps (the runtime has no sysmon, or /proc does not
// show where threads are blocked).
var ErrNotFound = errors.New("sysmonslack: the runtime's system monitor thread was not found")
