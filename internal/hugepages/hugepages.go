// Package hugepages lets a process opt its anonymous memory into transparent
// huge pages (THP) on Linux when the system leaves that to each program.
//
// Most distributions set /sys/kernel/mm/transparent_hugepage/enabled to
// "madvise": only memory a program marks with madvise(MADV_HUGEPAGE) gets
// 2 MiB pages. The Go runtime does not mark its heap, so a broker whose heap
// grows by hundreds of megabytes under load takes one page fault per 4 KiB
// of it, each costing several microseconds of kernel time in a virtual
// machine. Advise marks every private anonymous writable mapping of the
// process (the Go heap, goroutine stacks and the runtime's own metadata) and
// marks new ones as the runtime maps them, which makes the process behave as
// if the system's setting were "always", and only this process.
package hugepages

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

// ErrUnsupported is returned where the system cannot give a process huge
// pages on request: not Linux, THP compiled out, or THP set to "never".
var ErrUnsupported = errors.New("transparent huge pages on request not supported")

const (
	modeFile        = "/sys/kernel/mm/transparent_hugepage/enabled"
	mappedMetric    = "/memory/classes/total:bytes"
	minPollInterval = 5 * time.Millisecond
	maxPollInterval = 500 * time.Millisecond
)

// SystemMode returns the system's THP setting: "always", "madvise" or
// "never" (the bracketed word of modeFile).
func SystemMode() (string, error) {
	b, err := os.ReadFile(modeFile)
	if err != nil {
		return "", fmt.Errorf("read THP mode: %w", err)
	}
	return parseMode(b)
}

// Supported returns the system's THP setting when it honours a program's
// request for huge pages ("madvise" or "always"), and an error wrapping
// ErrUnsupported otherwise.
func Supported() (string, error) {
	mode, err := SystemMode()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if mode != "madvise" && mode != "always" {
		return "", fmt.Errorf("%w: system setting %q", ErrUnsupported, mode)
	}
	return mode, nil
}

func parseMode(b []byte) (string, error) {
	for _, f := range strings.Fields(string(b)) {
		if len(f) > 2 && f[0] == '[' && f[len(f)-1] == ']' {
			return f[1 : len(f)-1], nil
		}
	}
	return "", fmt.Errorf("THP mode %q: no bracketed word", bytes.TrimSpace(b))
}

// premapHeap allocates n bytes from the Go heap and returns a function that
// drops them and collects them. The runtime maps fresh address space for so
// large an object and does not touch it (memory fresh from the kernel needs
// no zeroing), so this costs no resident memory; once collected, the space
// stays mapped and is where the heap grows next (the runtime's page
// allocator takes the lowest free addresses first).
func premapHeap(n int64) (release func()) {
	if n <= 0 || n > int64(math.MaxInt) {
		return func() {}
	}
	b := make([]byte, n)
	return func() {
		runtime.KeepAlive(b)
		b = nil
		runtime.GC()
	}
}

// premapSize caps want at a quarter of the machine's memory and at half the
// Go memory limit (GOMEMLIMIT), and returns 0 where the kernel refuses to
// overcommit (vm.overcommit_memory = 2): there mapping address space ahead of
// use would count against the commit limit, and a refused mapping ends a Go
// program.
func premapSize(want int64) int64 {
	if want <= 0 {
		return 0
	}
	if limit := debug.SetMemoryLimit(-1); limit < math.MaxInt64 {
		want = min(want, limit/2)
	}
	if b, err := os.ReadFile("/proc/sys/vm/overcommit_memory"); err != nil || strings.TrimSpace(string(b)) == "2" {
		return 0
	}
	total, err := memTotal()
	if err != nil {
		return 0
	}
	return min(want, total/4)
}

// memTotal reads MemTotal from /proc/meminfo, in bytes.
func memTotal() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read meminfo: %w", err)
	}
	return parseMemTotal(b)
}

func parseMemTotal(b []byte) (int64, error) {
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("meminfo MemTotal %q: want \"N kB\"", strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("meminfo MemTotal %q: not a size", f[0])
		}
		return kb << 10, nil
	}
	return 0, errors.New("meminfo: no MemTotal line")
}

// mapping is one range of a process's address space, as listed in
// /proc/<pid>/maps.
type mapping struct {
	Start, End uintptr
	Perms      string
	Path       string
}

// anonymousPrivateWritable reports whether m is memory only this process
// writes and no file backs: what THP "always" would apply to.
func (m mapping) anonymousPrivateWritable() bool {
	return m.Perms == "rw-p" && (m.Path == "" || m.Path == "[heap]")
}

// parseMaps reads the format of /proc/<pid>/maps.
func parseMaps(r io.Reader) ([]mapping, error) {
	var out []mapping
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 5 {
			return nil, fmt.Errorf("maps line %q: %d fields, want at least 5", line, len(f))
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			return nil, fmt.Errorf("maps line %q: no address range", line)
		}
		start, err := strconv.ParseUint(lo, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("maps line %q: start: %w", line, err)
		}
		end, err := strconv.ParseUint(hi, 16, 64)
		if err != nil {
			return nil, fmt.Errorf("maps line %q: end: %w", line, err)
		}
		if end < start {
			return nil, fmt.Errorf("maps line %q: end below start", line)
		}
		m := mapping{Start: uintptr(start), End: uintptr(end), Perms: f[1]}
		if len(f) > 5 {
			m.Path = strings.Join(f[5:], " ")
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read maps: %w", err)
	}
	return out, nil
}

// adviseOnce marks every private anonymous writable mapping of the process
// for huge pages.
func adviseOnce() error {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return fmt.Errorf("huge pages: %w", err)
	}
	maps, err := parseMaps(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("huge pages: %w", err)
	}
	for _, m := range maps {
		if !m.anonymousPrivateWritable() {
			continue
		}
		// A mapping can go between reading the list and advising it
		// (ENOMEM); that is not an error, the next round sees the change.
		if err := adviseHuge(m.Start, m.End-m.Start); err != nil && !errors.Is(err, errGone) {
			return fmt.Errorf("huge pages: madvise %#x-%#x: %w", m.Start, m.End, err)
		}
	}
	return nil
}

// DefaultPremap is how much heap address space Advise has the Go runtime map
// ahead of use: 1 GiB, capped at a quarter of the machine's memory.
const DefaultPremap = 1 << 30

// Advise checks that the system honours the advice, has the Go runtime map
// premap bytes of heap address space ahead of use (see premapHeap), marks the
// process's anonymous memory for huge pages, and then keeps marking what the
// runtime maps later, until ctx ends: it polls the runtime's count of mapped
// bytes (cheap, no stop of the world) every 5 ms while memory grows, backing
// off to every 500 ms while it does not, and re-reads the mappings only after
// a growth. It returns ErrUnsupported at once where the advice would do
// nothing, and nil when ctx ends.
//
// The runtime grows its heap 4 MiB at a time and allocates from a new piece
// at once, so advice given after the growth comes too late for the piece's
// first 2 MiB (the kernel makes a huge page only where none of its 4 KiB
// pages is present yet): without the premapped space about half of the heap
// would get huge pages.
func Advise(ctx context.Context, premap int64) error {
	if _, err := Supported(); err != nil {
		return err
	}
	release := premapHeap(premapSize(premap))
	err := adviseOnce()
	release()
	if err != nil {
		return err
	}
	sample := []metrics.Sample{{Name: mappedMetric}}
	mapped := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	last := mapped()
	interval := minPollInterval
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if now := mapped(); now != last {
			last = now
			interval = minPollInterval
			if err := adviseOnce(); err != nil {
				return err
			}
		} else if interval = 2 * interval; interval > maxPollInterval {
			interval = maxPollInterval
		}
		t.Reset(interval)
	}
}
