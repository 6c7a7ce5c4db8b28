package hugepages

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestParseMode(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never\n": "always",
		"always madvise [never]\n": "never",
	} {
		got, err := parseMode([]byte(in))
		if err != nil || got != want {
			t.Errorf("parseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseMode([]byte("always madvise never\n")); err == nil {
		t.Error("parseMode without a bracketed word: no error")
	}
}

func TestParseMaps(t *testing.T) {
	const maps = `00400000-00a23000 r-xp 00000000 fd:01 1234                               /work/bin/node
010cd000-01136000 rw-p 00cc4000 fd:01 1234                               /work/bin/node
01136000-0317c000 rw-p 00000000 00:00 0
71e65800000-71e66000000 rw-p 00000000 00:00 0
7f5400520000-7f5400700000 ---p 00000000 00:00 0
7f54a0000000-7f54a0021000 rw-p 00000000 00:00 0                          [heap]
7fbbac41e000-7fbbac426000 r--s 00000000 fd:01 99                         /data/wal/wal meta.db
7ffd1c9b1000-7ffd1c9d2000 rw-p 00000000 00:00 0                          [stack]
`
	got, err := parseMaps(strings.NewReader(maps))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 {
		t.Fatalf("%d mappings, want 8", len(got))
	}
	if got[3].Start != 0x71e65800000 || got[3].End != 0x71e66000000 || got[3].Perms != "rw-p" || got[3].Path != "" {
		t.Errorf("mapping 3 = %+v", got[3])
	}
	if got[6].Path != "/data/wal/wal meta.db" {
		t.Errorf("path with a space: %q", got[6].Path)
	}
	var advised []int
	for i, m := range got {
		if m.anonymousPrivateWritable() {
			advised = append(advised, i)
		}
	}
	// The anonymous writable ones, the brk heap included; not the binary's
	// data (a file), not reserved space (---p), not the main stack.
	if want := []int{2, 3, 5}; !slicesEqual(advised, want) {
		t.Errorf("advised mappings %v, want %v", advised, want)
	}

	for _, bad := range []string{
		"00400000 r-xp 00000000 fd:01 1\n",
		"zz-00a23000 r-xp 00000000 fd:01 1\n",
		"00400000-zz r-xp 00000000 fd:01 1\n",
		"00a23000-00400000 r-xp 00000000 fd:01 1\n",
		"00400000-00a23000 r-xp\n",
	} {
		if _, err := parseMaps(strings.NewReader(bad)); err == nil {
			t.Errorf("parseMaps(%q): no error", bad)
		}
	}
}

func slicesEqual(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseMemTotal(t *testing.T) {
	got, err := parseMemTotal([]byte("MemTotal:       24610640 kB\nMemFree:        23000000 kB\n"))
	if err != nil || got != 24610640<<10 {
		t.Errorf("parseMemTotal = %d, %v; want %d", got, err, int64(24610640)<<10)
	}
	for _, bad := range []string{"MemFree: 1 kB\n", "MemTotal: 12\n", "MemTotal: x kB\n", "MemTotal: 12 MB\n"} {
		if _, err := parseMemTotal([]byte(bad)); err == nil {
			t.Errorf("parseMemTotal(%q): no error", bad)
		}
	}
}

func TestPremapSizeIsCapped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	total, err := memTotal()
	if err != nil {
		t.Fatal(err)
	}
	if got := premapSize(1 << 62); got != 0 && got != total/4 {
		t.Errorf("premapSize(huge) = %d, want total/4 = %d (or 0 without overcommit)", got, total/4)
	}
	if got := premapSize(0); got != 0 {
		t.Errorf("premapSize(0) = %d", got)
	}
	old := debug.SetMemoryLimit(100 << 20)
	defer debug.SetMemoryLimit(old)
	if got := premapSize(1 << 30); got > 50<<20 {
		t.Errorf("premapSize(1 GiB) under a 100 MiB memory limit = %d, want at most 50 MiB", got)
	}
}

// anonHugeKB returns the AnonHugePages of the mapping that holds addr, from
// /proc/self/smaps.
func anonHugeKB(t *testing.T, addr uintptr) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	in := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(f[0], "-"); ok && len(f) >= 5 {
			s, err1 := strconv.ParseUint(lo, 16, 64)
			e, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && uintptr(s) <= addr && addr < uintptr(e)
			continue
		}
		if in && f[0] == "AnonHugePages:" {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return 0
}

// TestAdviseGivesTheHeapHugePages: memory the heap grows into after Advise
// starts is backed by huge pages. Without the advice (THP "madvise") it is
// not, which the test checks first so that it cannot pass on a system that
// gives huge pages to everyone.
func TestAdviseGivesTheHeapHugePages(t *testing.T) {
	mode, err := SystemMode()
	if err != nil || mode != "madvise" {
		t.Skipf("needs the system's THP setting \"madvise\" (have %q, %v)", mode, err)
	}
	touch := func(n int) []byte {
		b := make([]byte, n)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		return b
	}
	before := touch(16 << 20)
	if kb := anonHugeKB(t, uintptr(unsafe.Pointer(&before[len(before)/2]))); kb != 0 {
		t.Fatalf("before any advice the heap already has %d kB of huge pages", kb)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Advise(ctx, 256<<20) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Advise: %v", err)
		}
	})

	deadline := time.Now().Add(10 * time.Second)
	for {
		after := touch(16 << 20)
		kb := anonHugeKB(t, uintptr(unsafe.Pointer(&after[len(after)/2])))
		runtime.KeepAlive(before)
		if kb >= 2048 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("16 MiB allocated after Advise: %d kB in huge pages", kb)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdviseUnsupported(t *testing.T) {
	if mode, err := Supported(); err == nil {
		t.Skipf("the system supports huge pages on request (%q)", mode)
	}
	if err := Advise(context.Background(), 0); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Advise = %v, want ErrUnsupported", err)
	}
}
