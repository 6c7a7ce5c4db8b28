package nemesis

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raftmq/raftmq/jepsen-lite/backend"
	"github.com/raftmq/raftmq/jepsen-lite/history"
)

func TestParseKinds(t *testing.T) {
	ks, err := ParseKinds("kill,pause-one")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{KillAll, KillLeader, KillOne, PauseOne}; !reflect.DeepEqual(ks, want) {
		t.Errorf("got %v, want %v", ks, want)
	}
	if ks, _ := ParseKinds("none"); len(ks) != 0 {
		t.Errorf("none gave %v", ks)
	}
	if ks, _ := ParseKinds("mixed"); len(ks) != len(AllKinds) {
		t.Errorf("mixed gave %v", ks)
	}
	if _, err := ParseKinds("kill,meteor"); err == nil {
		t.Error("unknown kind accepted")
	}
	if !NeedsPartitions([]string{KillOne, Bridge}) || NeedsPartitions([]string{KillOne, PauseLeader}) {
		t.Error("NeedsPartitions")
	}
}

func TestScheduleDeterministicAndBounded(t *testing.T) {
	cfg := ScheduleConfig{Kinds: AllKinds, Duration: 5 * time.Minute}
	a, b := Schedule(11, cfg), Schedule(11, cfg)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two schedules")
	}
	if c := Schedule(12, cfg); reflect.DeepEqual(a, c) {
		t.Fatal("two seeds gave the same schedule")
	}
	if len(a) < 5 {
		t.Fatalf("only %d faults in 5 minutes", len(a))
	}
	if a[0].At != 10*time.Second {
		t.Errorf("quiet start %s, want 10s", a[0].At)
	}
	seen := map[string]bool{}
	for i, f := range a {
		seen[f.Kind] = true
		if f.At+f.Hold > cfg.Duration-time.Second {
			t.Errorf("fault %d ends after the run: %+v", i, f)
		}
		lo, hi := 5*time.Second, 15*time.Second
		if f.Kind == PauseOne || f.Kind == PauseLeader {
			lo, hi = 3*time.Second, 10*time.Second
		}
		if i < len(a)-1 && (f.Hold < lo || f.Hold > hi) {
			t.Errorf("fault %d held %s, want %s-%s", i, f.Hold, lo, hi)
		}
		if i > 0 {
			gap := f.At - (a[i-1].At + a[i-1].Hold)
			if gap < 3*time.Second || gap > 8*time.Second {
				t.Errorf("gap before fault %d is %s", i, gap)
			}
		}
		if f.Kind == Flapping && len(f.Flips) == 0 {
			t.Errorf("flapping fault %d never flips", i)
		}
	}
	if len(seen) < 5 {
		t.Errorf("only kinds %v drawn", seen)
	}
	if s := Schedule(1, ScheduleConfig{Duration: time.Minute}); s != nil {
		t.Errorf("no kinds gave %v", s)
	}
}

// fake records the backend calls.
type fake struct {
	mu    sync.Mutex
	calls []string
}

func (f *fake) rec(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return nil
}
func (f *fake) Name() string                              { return "fake" }
func (f *fake) Nodes() []string                           { return []string{"n1", "n2", "n3"} }
func (f *fake) ClientAddrs() []string                     { return nil }
func (f *fake) Start(context.Context) error               { return nil }
func (f *fake) Stop(context.Context) error                { return nil }
func (f *fake) Kill(_ context.Context, n string) error    { return f.rec("kill " + n) }
func (f *fake) Restart(_ context.Context, n string) error { return f.rec("restart " + n) }
func (f *fake) Pause(_ context.Context, n string) error   { return f.rec("pause " + n) }
func (f *fake) Resume(_ context.Context, n string) error  { return f.rec("resume " + n) }
func (f *fake) Heal(context.Context) error                { return f.rec("heal") }
func (f *fake) HealAll(context.Context) error             { return f.rec("heal-all") }
func (f *fake) SaveLogs(context.Context, string) error    { return nil }
func (f *fake) Partition(_ context.Context, cuts []backend.Link) error {
	var s []string
	for _, c := range cuts {
		s = append(s, c.String())
	}
	slices.Sort(s)
	return f.rec("cut " + strings.Join(s, " "))
}

func TestNemesisShapes(t *testing.T) {
	cases := []struct {
		kind string
		want []string
	}{
		// Pick 0 orders the nodes n1, n2, n3; the leader is n2.
		{IsolateOne, []string{"cut n1->n2 n1->n3 n2->n1 n3->n1", "heal"}},
		{IsolateLeader, []string{"cut n1->n2 n2->n1 n2->n3 n3->n2", "heal"}},
		{Bridge, []string{"cut n2->n3 n3->n2", "heal"}},
		{OneWay, []string{"cut n1->n2 n3->n2", "heal"}},
		{KillOne, []string{"kill n1", "restart n1"}},
		{KillLeader, []string{"kill n2", "restart n2"}},
		{KillAll, []string{"kill n1", "kill n2", "kill n3", "restart n1", "restart n2", "restart n3"}},
		{PauseLeader, []string{"pause n2", "resume n2"}},
		{Flapping, []string{"cut n1->n2 n1->n3 n2->n1 n3->n1", "heal", "cut n1->n2 n1->n3 n2->n1 n3->n1", "heal"}},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			f := &fake{}
			rec := history.NewRecorder(time.Now(), nil)
			n := &Nemesis{B: f, Rec: rec, Leader: func(context.Context) string { return "n2" }}
			fault := Fault{Kind: c.kind, Hold: 30 * time.Millisecond}
			if c.kind == Flapping {
				fault.Flips = []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}
			}
			ivs := n.Run(context.Background(), []Fault{fault})
			want := append(append([]string(nil), c.want...), "heal-all")
			if !reflect.DeepEqual(f.calls, want) {
				t.Errorf("calls %q, want %q", f.calls, want)
			}
			if len(ivs) != 1 || ivs[0].End < ivs[0].Start {
				t.Errorf("intervals %+v", ivs)
			}
			ops := rec.Ops()
			if _, err := history.Pairs(ops); err != nil || len(ops) != 6 {
				t.Errorf("history %d entries, %v", len(ops), err)
			}
			if ops[1].Value.Fault != c.kind || len(ops[1].Value.Nodes) == 0 {
				t.Errorf("start entry %+v", ops[1])
			}
		})
	}
}

func TestNemesisStopsWithContext(t *testing.T) {
	f := &fake{}
	rec := history.NewRecorder(time.Now(), nil)
	n := &Nemesis{B: f, Rec: rec, Leader: func(context.Context) string { return "" }}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	n.Run(ctx, []Fault{{Kind: KillOne, Hold: time.Hour}, {Kind: KillOne, At: 2 * time.Hour, Hold: time.Hour}})
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Run took %s after its context ended", d)
	}
	if got := fmt.Sprint(f.calls); !strings.Contains(got, "restart") || !strings.HasSuffix(got, "heal-all]") {
		t.Errorf("calls %v: the fault was not ended and healed", f.calls)
	}
}

func TestScheduleCoversKindsFirst(t *testing.T) {
	kinds := []string{KillOne, PauseOne, Bridge}
	for seed := uint64(1); seed <= 20; seed++ {
		s := Schedule(seed, ScheduleConfig{Kinds: kinds, Duration: 90 * time.Second})
		if len(s) < 3 {
			t.Fatalf("seed %d: %d faults in 90 s", seed, len(s))
		}
		got := []string{s[0].Kind, s[1].Kind, s[2].Kind}
		slices.Sort(got)
		if want := []string{Bridge, KillOne, PauseOne}; !reflect.DeepEqual(got, want) {
			t.Errorf("seed %d: first three faults %v, want one of each kind", seed, got)
		}
	}
}
