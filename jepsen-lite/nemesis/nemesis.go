package nemesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/raftmq/raftmq/jepsen-lite/backend"
	"github.com/raftmq/raftmq/jepsen-lite/history"
	"github.com/raftmq/raftmq/jepsen-lite/internal/wait"
)

// Fault kinds.
const (
	IsolateOne    = "isolate-one"
	IsolateLeader = "isolate-leader"
	Bridge        = "bridge"
	OneWay        = "one-way"
	Flapping      = "flapping"
	KillOne       = "kill-one"
	KillLeader    = "kill-leader"
	KillAll       = "kill-all"
	PauseOne      = "pause-one"
	PauseLeader   = "pause-leader"
)

// Groups name sets of fault kinds for the command line.
var Groups = map[string][]string{
	"partition": {IsolateOne, IsolateLeader, Bridge, OneWay, Flapping},
	"kill":      {KillOne, KillLeader, KillAll},
	"pause":     {PauseOne, PauseLeader},
	"all":       {IsolateOne, IsolateLeader, Bridge, OneWay, Flapping, KillOne, KillLeader, KillAll, PauseOne, PauseLeader},
}

// AllKinds lists every fault kind.
var AllKinds = Groups["all"]

// ErrUnknownKind: a name that is neither a fault kind nor a group.
var ErrUnknownKind = errors.New("unknown nemesis")

// ParseKinds expands a comma-separated list of kinds and groups ("none" or
// "" for no faults) into sorted distinct kinds.
func ParseKinds(s string) ([]string, error) {
	set := make(map[string]bool)
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "" || name == "none":
		case name == "mixed":
			for _, k := range AllKinds {
				set[k] = true
			}
		case Groups[name] != nil:
			for _, k := range Groups[name] {
				set[k] = true
			}
		case slices.Contains(AllKinds, name):
			set[name] = true
		default:
			return nil, fmt.Errorf("%w %q (kinds: %s; groups: partition, kill, pause, all, mixed, none)", ErrUnknownKind, name, strings.Join(AllKinds, ", "))
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// NeedsPartitions reports whether any of kinds cuts links.
func NeedsPartitions(kinds []string) bool {
	for _, k := range kinds {
		if slices.Contains(Groups["partition"], k) {
			return true
		}
	}
	return false
}

// Fault is one scheduled fault.
type Fault struct {
	// Kind is the fault kind.
	Kind string `json:"kind"`
	// At is when it starts, from the start of the run.
	At time.Duration `json:"at"`
	// Hold is how long it lasts.
	Hold time.Duration `json:"hold"`
	// Pick chooses the nodes of faults that do not follow the leader (an
	// index into a permutation of the nodes).
	Pick int `json:"pick"`
	// Flips are the moments, from At, when a flapping partition toggles.
	Flips []time.Duration `json:"flips,omitempty"`
}

// ScheduleConfig shapes a fault schedule.
type ScheduleConfig struct {
	// Kinds are the fault kinds to draw from; none gives an empty schedule.
	Kinds []string
	// Duration is the length of the run; every fault ends before it.
	Duration time.Duration
	// Quiet is the fault-free time at the start (0: a sixth of the run,
	// at most 10 s).
	Quiet time.Duration
}

// Schedule draws the faults of a run from seed: after the quiet start,
// faults held 5-15 s (pauses 3-10 s) separated by quiet gaps of 3-8 s,
// every one over before the end. Every kind comes once, in a random order,
// before any comes again. The same seed and config give the same
// schedule.
func Schedule(seed uint64, cfg ScheduleConfig) []Fault {
	if len(cfg.Kinds) == 0 {
		return nil
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e656d65736973)) // "nemesis"
	quiet := cfg.Quiet
	if quiet <= 0 {
		quiet = min(cfg.Duration/6, 10*time.Second)
	}
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	var out []Fault
	var bag []string
	at := quiet
	for i := 0; i < 10000; i++ {
		// Draw kinds from a shuffled bag, refilled when empty, so that a
		// short run still sees as many different kinds as it has room for.
		if len(bag) == 0 {
			bag = append(bag, cfg.Kinds...)
			rng.Shuffle(len(bag), func(i, j int) { bag[i], bag[j] = bag[j], bag[i] })
		}
		kind := bag[0]
		bag = bag[1:]
		hold := between(5*time.Second, 15*time.Second)
		if kind == PauseOne || kind == PauseLeader {
			hold = between(3*time.Second, 10*time.Second)
		}
		f := Fault{Kind: kind, At: at, Hold: hold, Pick: rng.IntN(6)}
		if kind == Flapping {
			for t := between(time.Second, 2*time.Second); t < hold; t += between(time.Second, 2*time.Second) {
				f.Flips = append(f.Flips, t)
			}
		}
		if at+hold > cfg.Duration-time.Second {
			// Shorten the last fault to fit, if enough is left of it.
			left := cfg.Duration - time.Second - at
			if left < 3*time.Second {
				break
			}
			f.Hold = left
			var flips []time.Duration
			for _, t := range f.Flips {
				if t < left {
					flips = append(flips, t)
				}
			}
			f.Flips = flips
			out = append(out, f)
			break
		}
		out = append(out, f)
		at += hold + between(3*time.Second, 8*time.Second)
	}
	return out
}

// perms are the orders of three nodes a Pick indexes.
var perms = [6][3]int{{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}}

// LeaderFunc returns the current leader's node name, or "" if none is known.
type LeaderFunc func(ctx context.Context) string

// Nemesis executes a schedule against a backend and records each fault in
// the history.
type Nemesis struct {
	B      backend.Backend
	Rec    *history.Recorder
	Leader LeaderFunc
	Log    *slog.Logger
}

// Interval is one executed fault, for the report.
type Interval struct {
	Kind  string   `json:"kind"`
	Nodes []string `json:"nodes"`
	Start int64    `json:"start"` // history time, ns
	End   int64    `json:"end"`
	Error string   `json:"error,omitempty"`
}

// Run executes the schedule, whose times count from the recorder's start,
// until it is over or ctx ends; then it heals everything (HealAll) under a
// fresh two-minute context and returns the executed faults.
func (n *Nemesis) Run(ctx context.Context, sched []Fault) []Interval {
	log := n.Log
	if log == nil {
		log = slog.Default()
	}
	var out []Interval
	for _, f := range sched {
		if !wait.Sleep(ctx, time.Until(n.Rec.Start().Add(f.At))) {
			break
		}
		iv := n.apply(ctx, f, log)
		out = append(out, iv)
		if ctx.Err() != nil {
			break
		}
	}
	hctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inv := n.Rec.Invoke(history.NemesisProcess, history.FStopFault, history.Value{Fault: "heal-all"})
	err := n.B.HealAll(hctx)
	n.complete(inv, history.Value{Fault: "heal-all", Nodes: n.B.Nodes()}, err)
	if err != nil {
		log.Error("final heal failed", "err", err)
	}
	return out
}

func (n *Nemesis) complete(inv history.Op, v history.Value, err error) {
	t := history.Ok
	if err != nil {
		t = history.Info
	}
	n.Rec.Complete(inv, t, v, 0, err)
}

// target returns the node a fault acts on: the leader for *-leader kinds
// (falling back to the pick when none is known), else the pick.
func (n *Nemesis) target(ctx context.Context, f Fault, leader bool) (string, []string) {
	nodes := n.B.Nodes()
	p := perms[f.Pick%len(perms)]
	order := []string{nodes[p[0]], nodes[p[1]], nodes[p[2]]}
	if leader {
		lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		l := n.Leader(lctx)
		cancel()
		if l != "" {
			rest := make([]string, 0, 2)
			for _, x := range order {
				if x != l {
					rest = append(rest, x)
				}
			}
			return l, rest
		}
	}
	return order[0], order[1:]
}

// isolate returns the links that cut node off from others, both ways.
func isolate(node string, others []string) []backend.Link {
	var cuts []backend.Link
	for _, o := range others {
		cuts = append(cuts, backend.Link{From: node, To: o}, backend.Link{From: o, To: node})
	}
	return cuts
}

// apply starts a fault, holds it and stops it, recording both in the
// history.
func (n *Nemesis) apply(ctx context.Context, f Fault, log *slog.Logger) Interval {
	b := n.B
	leader := f.Kind == IsolateLeader || f.Kind == KillLeader || f.Kind == PauseLeader || f.Kind == OneWay
	inv := n.Rec.Invoke(history.NemesisProcess, history.FStartFault, history.Value{Fault: f.Kind})
	node, others := n.target(ctx, f, leader)
	var nodes []string
	var cuts []backend.Link
	var err error
	// Fault commands get their own context so that a fault started just
	// before the end is still stopped cleanly; HealAll follows anyway.
	fctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch f.Kind {
	case IsolateOne, IsolateLeader, Flapping:
		nodes = []string{node}
		cuts = isolate(node, others)
		err = b.Partition(fctx, cuts)
	case Bridge:
		// node is the bridge: the two others cannot reach each other.
		nodes = []string{others[0], node, others[1]}
		cuts = []backend.Link{{From: others[0], To: others[1]}, {From: others[1], To: others[0]}}
		err = b.Partition(fctx, cuts)
	case OneWay:
		// The leader still sends, but hears nothing back.
		nodes = []string{node}
		cuts = []backend.Link{{From: others[0], To: node}, {From: others[1], To: node}}
		err = b.Partition(fctx, cuts)
	case KillOne, KillLeader:
		nodes = []string{node}
		err = b.Kill(fctx, node)
	case KillAll:
		nodes = b.Nodes()
		var errs []error
		for _, x := range nodes {
			errs = append(errs, b.Kill(fctx, x))
		}
		err = errors.Join(errs...)
	case PauseOne, PauseLeader:
		nodes = []string{node}
		err = b.Pause(fctx, node)
	default:
		err = fmt.Errorf("%w %q", ErrUnknownKind, f.Kind)
	}
	v := history.Value{Fault: f.Kind, Nodes: nodes}
	n.complete(inv, v, err)
	iv := Interval{Kind: f.Kind, Nodes: nodes, Start: n.Rec.Now()}
	if err != nil {
		iv.Error = err.Error()
		log.Error("fault failed", "kind", f.Kind, "nodes", nodes, "err", err)
	} else {
		log.Info("fault", "kind", f.Kind, "nodes", nodes, "hold", f.Hold)
	}

	// Hold; a flapping partition heals and cuts again at each flip.
	start := time.Now()
	cut := true
	for _, flip := range f.Flips {
		if !wait.Sleep(ctx, time.Until(start.Add(flip))) {
			break
		}
		var ferr error
		if cut {
			ferr = b.Heal(fctx)
		} else {
			ferr = b.Partition(fctx, cuts)
		}
		cut = !cut
		if ferr != nil {
			log.Warn("flapping partition: flip failed", "err", ferr)
		}
	}
	wait.Sleep(ctx, time.Until(start.Add(f.Hold)))

	inv = n.Rec.Invoke(history.NemesisProcess, history.FStopFault, history.Value{Fault: f.Kind})
	var serr error
	switch f.Kind {
	case IsolateOne, IsolateLeader, Flapping, Bridge, OneWay:
		serr = b.Heal(fctx)
	case KillOne, KillLeader, KillAll:
		var errs []error
		for _, x := range nodes {
			errs = append(errs, b.Restart(fctx, x))
		}
		serr = errors.Join(errs...)
	case PauseOne, PauseLeader:
		serr = b.Resume(fctx, node)
	}
	n.complete(inv, v, serr)
	iv.End = n.Rec.Now()
	if serr != nil {
		log.Error("ending the fault failed", "kind", f.Kind, "err", serr)
		if iv.Error == "" {
			iv.Error = serr.Error()
		}
	}
	return iv
}
