package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A write goes into the first bucket whose bound is at least its duration;
// one slower than every bound goes into the last count.
func TestLogWriteHistBuckets(t *testing.T) {
	var h logWriteHist
	durations := []time.Duration{
		0,                        // bucket 0
		50 * time.Microsecond,    // bucket 0: on the bound
		51 * time.Microsecond,    // bucket 1
		1500 * time.Microsecond,  // on the 1.5 ms bound
		1501 * time.Microsecond,  // the next one (2 ms)
		time.Hour,                // above every bound
		2500 * time.Millisecond,  // the last bound
		10 * time.Millisecond,    // on a bound
		10*time.Millisecond + 1,  // the next (15 ms)
		999 * time.Microsecond,   // 1 ms
		time.Millisecond,         // 1 ms
		time.Millisecond + 1,     // 1.5 ms
		299999 * time.Nanosecond, // 300 µs
	}
	var sum time.Duration
	for _, d := range durations {
		h.observe(d)
		sum += d
	}
	s := h.stats()
	if len(s.Counts) != len(s.Bounds)+1 {
		t.Fatalf("%d counts for %d bounds", len(s.Counts), len(s.Bounds))
	}
	if s.Count != uint64(len(durations)) || s.Sum != sum {
		t.Fatalf("count %d sum %v, want %d %v", s.Count, s.Sum, len(durations), sum)
	}
	// Recount by the definition, independently of observe's search.
	want := make([]uint64, len(s.Bounds)+1)
	for _, d := range durations {
		i := 0
		for i < len(s.Bounds) && d > s.Bounds[i] {
			i++
		}
		want[i]++
	}
	for i := range want {
		if s.Counts[i] != want[i] {
			t.Fatalf("bucket %d (bound %v): %d writes, want %d (counts %v)", i, boundName(s.Bounds, i), s.Counts[i], want[i], s.Counts)
		}
	}
	if s.Counts[0] != 2 || s.Counts[len(s.Counts)-1] != 1 {
		t.Fatalf("first bucket %d, overflow %d; want 2 and 1", s.Counts[0], s.Counts[len(s.Counts)-1])
	}
	// The stats are a copy: later writes do not change them.
	h.observe(time.Millisecond)
	if s.Count != uint64(len(durations)) {
		t.Fatal("stats changed after a later write")
	}
	s.Bounds[0] = time.Hour // nor does the caller change the bounds
	if h.stats().Bounds[0] != 50*time.Microsecond {
		t.Fatal("the caller's copy of the bounds is shared")
	}
}

func boundName(b []time.Duration, i int) string {
	if i == len(b) {
		return "+Inf"
	}
	return b[i].String()
}

// slowStore is an in-memory log store whose writes take a set time and can
// fail.
type slowStore struct {
	*raft.InmemStore
	delay time.Duration
	err   error
}

func (s *slowStore) StoreLogs(logs []*raft.Log) error {
	time.Sleep(s.delay)
	if s.err != nil {
		return s.err
	}
	return s.InmemStore.StoreLogs(logs)
}

func (s *slowStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

type monotonicStore struct{ *raft.InmemStore }

func (monotonicStore) IsMonotonic() bool { return true }

// The wrapper times both write calls, returns the store's errors unchanged
// and tells Raft what the store would about being monotonic.
func TestTimedLogStore(t *testing.T) {
	var h logWriteHist
	var logged bytes.Buffer
	inner := &slowStore{InmemStore: raft.NewInmemStore(), delay: 3 * time.Millisecond}
	s := timedLogStore{LogStore: inner, hist: &h,
		log: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := s.StoreLog(&raft.Log{Index: 1, Data: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs([]*raft.Log{{Index: 2}, {Index: 3}}); err != nil {
		t.Fatal(err)
	}
	inner.err = errors.New("disk on fire")
	if err := s.StoreLogs([]*raft.Log{{Index: 4}}); !errors.Is(err, inner.err) {
		t.Fatalf("failed write returned %v", err)
	}
	st := h.stats()
	if st.Count != 3 {
		t.Fatalf("%d writes timed, want 3 (one failed)", st.Count)
	}
	// Each took at least 3 ms, so none is in a bucket whose bound is lower.
	var fast uint64
	for i, b := range st.Bounds {
		if b < 3*time.Millisecond {
			fast += st.Counts[i]
		}
	}
	if fast != 0 || st.Sum < 9*time.Millisecond {
		t.Fatalf("writes of 3 ms recorded as faster: %d below 3 ms, sum %v", fast, st.Sum)
	}
	// Every write took over slowLogWrite: each is logged at debug level,
	// with its start and size.
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines logged for 3 slow writes:\n%s", len(lines), logged.String())
	}
	for i, want := range []string{"entries=1", "entries=2", "entries=1"} {
		if !strings.Contains(lines[i], "level=DEBUG") || !strings.Contains(lines[i], `msg="slow log write"`) ||
			!strings.Contains(lines[i], "started=") || !strings.Contains(lines[i], want) {
			t.Fatalf("line %d: %s (want a debug line with started= and %s)", i, lines[i], want)
		}
	}
	// A write over stalledLogWrite is a warning.
	defer func(d time.Duration) { stalledLogWrite = d }(stalledLogWrite)
	stalledLogWrite = 2 * time.Millisecond
	logged.Reset()
	inner.err = nil
	if err := s.StoreLogs([]*raft.Log{{Index: 4}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logged.String(), "level=WARN") || !strings.Contains(logged.String(), "disk is stalling") {
		t.Fatalf("a stalled write logged %q", logged.String())
	}
	var l raft.Log
	if err := s.GetLog(3, &l); err != nil || l.Index != 3 {
		t.Fatalf("read through the wrapper: %v %+v", err, l)
	}
	if s.IsMonotonic() {
		t.Fatal("an in-memory store reported monotonic")
	}
	if !(timedLogStore{LogStore: monotonicStore{raft.NewInmemStore()}}).IsMonotonic() {
		t.Fatal("a monotonic store's wrapper hides it")
	}
}

// A node times every write of its log: a single node stores each entry it
// applies, so it has at least as many writes as entries.
func TestNodeLogWrites(t *testing.T) {
	n := startNode(t, newConfig(t))
	waitFor(t, 10*time.Second, "single node leadership", n.IsLeader)
	before := n.LogWrites().Count
	for i := range 10 {
		mustApply(t, n, fmt.Sprintf("e%d", i))
	}
	s := n.LogWrites()
	if s.Count < before+10 {
		t.Fatalf("%d log writes after 10 applies, %d before", s.Count, before)
	}
	if s.Sum <= 0 {
		t.Fatalf("log writes took %v in all", s.Sum)
	}
}
