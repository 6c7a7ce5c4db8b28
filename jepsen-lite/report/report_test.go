package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/jepsen-lite/checker"
	"github.com/raftmq/raftmq/jepsen-lite/history"
	"github.com/raftmq/raftmq/jepsen-lite/nemesis"
)

func sec(s float64) int64 { return int64(s * float64(time.Second)) }

func sampleHistory() ([]history.Op, []nemesis.Interval) {
	var ops []history.Op
	add := func(op history.Op) {
		op.Index = len(ops)
		ops = append(ops, op)
	}
	pub := func(p int, id string, t0, t1 float64, typ history.Type) {
		add(history.Op{Type: history.Invoke, Process: p, F: history.FPublish, Time: sec(t0), Value: history.Value{ID: id, Key: "q"}})
		add(history.Op{Type: typ, Process: p, F: history.FPublish, Time: sec(t1), Value: history.Value{ID: id, Key: "q", Status: "routed", Queues: 1}})
	}
	pub(0, "a", 0.1, 0.2, history.Ok)
	pub(0, "b", 0.3, 0.4, history.Ok)
	pub(1, "c", 0.5, 5.5, history.Info) // spans the fault
	pub(0, "d", 0.6, 4.6, history.Ok)   // 4.2 s after b: the longest gap
	pub(0, "e", 4.7, 4.8, history.Ok)
	for i, id := range []string{"a", "b", "d", "e"} {
		add(history.Op{Type: history.Ok, Process: 900, F: history.FDeliver, Time: sec(5 + float64(i)/10), Value: history.Value{ID: id, Queue: "q", Seq: uint64(i + 1)}})
	}
	add(history.Op{Type: history.Invoke, Process: 90, F: history.FDrain, Time: sec(6)})
	add(history.Op{Type: history.Ok, Process: 90, F: history.FDrain, Time: sec(6.5), Value: history.Value{Empty: true}})
	ivs := []nemesis.Interval{{Kind: nemesis.KillLeader, Nodes: []string{"n2"}, Start: sec(0.5), End: sec(4)}}
	return ops, ivs
}

func TestStats(t *testing.T) {
	ops, ivs := sampleHistory()
	res := checker.Check(ops, checker.Topology{Queues: []string{"q"}}, checker.MetadataOptions{})
	if res.Valid != checker.Valid {
		t.Fatalf("sample history: %s %+v", res.Valid, res.Messages)
	}
	st := ComputeStats(ops, ivs, res)
	if st.Operations != 5 || st.Confirmed != 4 || st.Indeterminate != 1 || st.Faults != 1 {
		t.Errorf("stats %+v", st)
	}
	if st.LongestUnavailable != 4200*time.Millisecond || st.UnavailableFault != nemesis.KillLeader {
		t.Errorf("longest unavailability %s from %s during %q", st.LongestUnavailable, st.UnavailableAt, st.UnavailableFault)
	}
}

func TestWrite(t *testing.T) {
	ops, ivs := sampleHistory()
	ops = append(ops, history.Op{Index: len(ops), Type: history.Ok, Process: 901, F: history.FDeliver, Time: sec(6.2),
		Value: history.Value{ID: "ghost", Queue: "q", Seq: 99}})
	res := checker.Check(ops, checker.Topology{Queues: []string{"q"}}, checker.MetadataOptions{})
	st := ComputeStats(ops, ivs, res)
	dir := t.TempDir()
	m := Meta{Name: "t", Seed: 3, Git: "abc", Backend: "local", Workloads: []string{"queue"}, TimeLimit: 5 * time.Second, Started: time.Now()}
	if err := Write(dir, m, ops, ivs, res, st); err != nil {
		t.Fatal(err)
	}
	summary, err := os.ReadFile(filepath.Join(dir, "summary.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"verdict      INVALID", "unexpected   1", "anomaly      unexpected id=ghost"} {
		if !strings.Contains(string(summary), want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "kill-leader", "ghost", "INVALID"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if strings.Contains(string(html), "http://") && !strings.Contains(string(html), "http://www.w3.org/2000/svg") {
		t.Error("report.html refers to the network")
	}
	if _, err := os.Stat(filepath.Join(dir, "results.json")); err != nil {
		t.Error(err)
	}
}
