package sysmonslack

import (
	"context"
	"errors"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseSyscall(t *testing.T) {
	pc := reflect.ValueOf(TestParseSyscall).Pointer()
	self := runtime.FuncForPC(pc).Name()
	for _, tc := range []struct {
		name, in, want string
		ok             bool
	}{
		{"blocked in a Go function", "202 0x1 0x80 0x0 0x0 0x0 0x0 0x7ffc 0x" + strconv.FormatUint(uint64(pc), 16) + "\n", self, true},
		{"running", "running\n", "", false},
		{"not in a system call", "-1 0x7ffc4ac0 0x45a2b3\n", "", false},
		{"pc outside Go code", "35 0x1 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x10\n", "", false},
		{"pc zero", "35 0x1 0x0 0x0 0x0 0x0 0x0 0x7ffc 0x0\n", "", false},
		{"pc not hex", "35 0x1 0x0 0x0 0x0 0x0 0x0 0x7ffc 0xzz\n", "", false},
		{"too few fields", "35 0x1 0x0\n", "", false},
		{"empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseSyscall(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Errorf("parseSyscall(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestWinner(t *testing.T) {
	for _, tc := range []struct {
		name  string
		votes map[int]int
		min   int
		tid   int
		ok    bool
	}{
		{"none", map[int]int{}, 1, 0, false},
		{"one thread, enough", map[int]int{7: 8}, 8, 7, true},
		{"one thread, too few", map[int]int{7: 7}, 8, 7, false},
		{"clear lead", map[int]int{7: 9, 9: 4, 11: 1}, 8, 7, true},
		{"no clear lead", map[int]int{7: 9, 9: 5}, 8, 7, false},
		{"lead found later in the map", map[int]int{3: 1, 9: 2, 7: 20}, 8, 7, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tid, ok := winner(tc.votes, tc.min)
			if ok != tc.ok || (ok && tid != tc.tid) {
				t.Errorf("winner(%v, %d) = %d, %v; want %d, %v", tc.votes, tc.min, tid, ok, tc.tid, tc.ok)
			}
		})
	}
}

// firstThreadAfterMain is the thread the runtime created first: runtime.main
// starts sysmon before anything else can start a thread, and Linux hands out
// thread IDs in increasing order, wrapping at pid_max (at most 1<<22).
func firstThreadAfterMain(t testing.TB) int {
	t.Helper()
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	after := func(tid int) int { return (tid - pid + 1<<22) % (1 << 22) }
	first := 0
	for _, tid := range tids {
		if tid != pid && (first == 0 || after(tid) < after(first)) {
			first = tid
		}
	}
	if first == 0 {
		t.Fatalf("only the main thread in %v", tids)
	}
	return first
}

func TestFindReturnsTheRuntimesFirstThread(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tid, err := Find(ctx)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if want := firstThreadAfterMain(t); tid != want {
		t.Errorf("Find = thread %d; the runtime's first thread after main (sysmon) is %d", tid, want)
	}
}

func TestFindStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Find(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Find with a cancelled context: %v, want context.Canceled", err)
	}
}

// slacks reads the timer slack of every thread of the process.
func slacks(t *testing.T) map[int]time.Duration {
	t.Helper()
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[int]time.Duration, len(tids))
	for _, tid := range tids {
		s, err := Slack(tid)
		if errors.Is(err, os.ErrPermission) {
			t.Skipf("reading another thread's timer slack needs CAP_SYS_NICE, which this process lacks: %v", err)
		}
		if err != nil {
			continue // exited meanwhile
		}
		m[tid] = s
	}
	return m
}

// setOrSkip calls Set, skipping the test where the process may not change
// another thread's timer slack, and puts back the thread's slack and that of
// every other thread when the test ends.
func setOrSkip(t testing.TB, slack time.Duration) int {
	t.Helper()
	def, err := Default()
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("reading another thread's timer slack needs CAP_SYS_NICE, which this process lacks: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	tid, err := Set(context.Background(), slack)
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("setting another thread's timer slack needs CAP_SYS_NICE, which this process lacks: %v", err)
	}
	if err != nil {
		t.Fatalf("Set(%v): %v", slack, err)
	}
	t.Cleanup(func() {
		if err := SetThread(tid, def); err != nil {
			t.Error(err)
		}
		if _, err := confineOnce(0, def); err != nil {
			t.Error(err)
		}
	})
	return tid
}

func TestSetChangesOnlyTheMonitorsSlack(t *testing.T) {
	before := slacks(t)
	tid := setOrSkip(t, time.Millisecond)
	after := slacks(t)
	if after[tid] != time.Millisecond {
		t.Errorf("sysmon's thread %d has a slack of %v after Set(1ms)", tid, after[tid])
	}
	for other, s := range after {
		if b, ok := before[other]; ok && other != tid && s != b {
			t.Errorf("thread %d's slack went from %v to %v; only sysmon's (%d) should change", other, b, s, tid)
		}
	}
}

func TestSetRejectsASlackBelowOne(t *testing.T) {
	for _, slack := range []time.Duration{-time.Millisecond, 0} {
		if _, err := Set(context.Background(), slack); err == nil {
			t.Errorf("Set(%v) succeeded", slack)
		}
	}
}

// lockedThread starts a goroutine locked to a thread of its own and returns
// that thread's ID; the thread ends with the test.
func lockedThread(t *testing.T) int {
	t.Helper()
	tidc, stop := make(chan int), make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		tidc <- syscall.Gettid()
		<-stop
	}()
	t.Cleanup(func() { close(stop) })
	return <-tidc
}

func TestConfineGivesOtherThreadsTheProcessSlackBack(t *testing.T) {
	monitor := setOrSkip(t, time.Millisecond)
	def, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	// A thread that inherited sysmon's slack, as one sysmon starts does. Not
	// the main thread, whose slack is the process's own (Default).
	other := lockedThread(t)
	for other == os.Getpid() {
		other = lockedThread(t)
	}
	if err := SetThread(other, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Confine(ctx, monitor, 10*time.Millisecond) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := Slack(other)
		if err != nil {
			t.Fatal(err)
		}
		if s == def {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d still has a slack of %v, not the process's %v", other, s, def)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Confine: %v", err)
	}
	if s, err := Slack(monitor); err != nil || s != time.Millisecond {
		t.Fatalf("Confine changed sysmon's slack to %v (%v)", s, err)
	}
	if n, err := confineOnce(monitor, def); err != nil || n != 0 {
		t.Fatalf("a second round reset %d threads (%v); want none", n, err)
	}
}

// BenchmarkBlockingSyscall measures what sysmon costs a process that spends
// its time in short blocking system calls with idle gaps between them, as a
// node does in raftmq's W2 (one publish at a time, an fsync of about 300 µs
// each): each op is a 300 µs nanosleep system call, during which sysmon
// polls because a P is in a system call, and then a time.Sleep(200 µs) with
// every P idle (about 1 ms: an idle Go process waits for its next timer in
// whole milliseconds).
// It reports sysmon's context switches and the process's CPU time per op,
// with the runtime's default slack and with 1 ms.
//
//	go test -run XXX -bench BlockingSyscall ./internal/sysmonslack/
func BenchmarkBlockingSyscall(b *testing.B) {
	for _, slack := range []time.Duration{0, time.Millisecond} {
		b.Run("slack="+slack.String(), func(b *testing.B) {
			tid := firstThreadAfterMain(b)
			if slack > 0 {
				tid = setOrSkip(b, slack)
			}
			switches0, cpu0 := monitorSwitches(b, tid), processCPU(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				nanosleep(b, 300*time.Microsecond)
				time.Sleep(200 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(monitorSwitches(b, tid)-switches0)/float64(b.N), "sysmon-switches/op")
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// nanosleep blocks in one nanosleep system call for d, resumed where a
// signal (the runtime's preemption) interrupts it.
func nanosleep(b *testing.B, d time.Duration) {
	left := syscall.NsecToTimespec(d.Nanoseconds())
	for {
		var rem syscall.Timespec
		err := syscall.Nanosleep(&left, &rem)
		if err == nil {
			return
		}
		if !errors.Is(err, syscall.EINTR) {
			b.Fatal(err)
		}
		left = rem
	}
}

// monitorSwitches is the number of context switches of thread tid so far.
func monitorSwitches(b *testing.B, tid int) int {
	data, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
			c, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				b.Fatal(err)
			}
			n += c
		}
	}
	return n
}

// processCPU is the CPU time the process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
