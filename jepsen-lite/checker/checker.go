package checker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/raftmq/raftmq/jepsen-lite/history"
)

// Validity is a checker's verdict.
type Validity string

// Verdicts, from best to worst for Merge: an anomaly outranks an unknown.
const (
	// Valid: no anomaly, and the evidence was complete.
	Valid Validity = "valid"
	// Unknown: no anomaly found, but the evidence was incomplete (a drain
	// timed out, a linearizability search timed out).
	Unknown Validity = "unknown"
	// Invalid: at least one anomaly.
	Invalid Validity = "invalid"
)

// Merge returns the worse of two verdicts.
func Merge(a, b Validity) Validity {
	rank := map[Validity]int{Valid: 0, Unknown: 1, Invalid: 2, "": 0}
	if rank[b] > rank[a] {
		return b
	}
	if a == "" {
		return Valid
	}
	return a
}

// ExitCode maps a verdict to the process exit code: 0 valid, 1 anomaly,
// 2 unknown.
func ExitCode(v Validity) int {
	switch v {
	case Valid:
		return 0
	case Invalid:
		return 1
	}
	return 2
}

// Anomaly kinds.
const (
	// KindLost: a confirmed publish never delivered.
	KindLost = "lost"
	// KindUnexpected: delivered but never published.
	KindUnexpected = "unexpected"
	// KindAborted: delivered although its publish definitely failed.
	KindAborted = "aborted-delivery"
	// KindDuplicate: one message ID delivered as two different entries
	// (sequence numbers) of the same queue.
	KindDuplicate = "duplicate-enqueue"
	// KindReorder: in the fifo queue, a producer's message a was confirmed
	// before b was sent, yet b came first, neither being a redelivery.
	KindReorder = "reorder"
	// KindMisrouted: delivered to a queue its bindings do not name, or
	// confirmed with a queue count that differs from the bindings.
	KindMisrouted = "misrouted"
	// KindMissingRoute: delivered to some but not all of the queues its
	// bindings name, although it was confirmed or delivered somewhere.
	KindMissingRoute = "missing-route"
	// KindNonlinearizable: Porcupine found no linearization of the metadata
	// operations on one key.
	KindNonlinearizable = "nonlinearizable"
	// KindMalformed: the history itself is not well formed.
	KindMalformed = "malformed-history"
)

// Anomaly is one violation, with the history entries that prove it.
type Anomaly struct {
	Kind   string `json:"kind"`
	ID     string `json:"id,omitempty"`
	Queue  string `json:"queue,omitempty"`
	Detail string `json:"detail"`
	// Ops are indices of the history entries involved.
	Ops []int `json:"ops,omitempty"`
}

// String describes the anomaly on one line.
func (a Anomaly) String() string {
	var b strings.Builder
	b.WriteString(a.Kind)
	if a.ID != "" {
		fmt.Fprintf(&b, " id=%s", a.ID)
	}
	if a.Queue != "" {
		fmt.Fprintf(&b, " queue=%s", a.Queue)
	}
	fmt.Fprintf(&b, ": %s", a.Detail)
	if len(a.Ops) > 0 {
		fmt.Fprintf(&b, " (entries %v)", a.Ops)
	}
	return b.String()
}

// maxListed bounds the anomalies of one kind listed in a result; the counts
// are always complete.
const maxListed = 50

// anomalies collects anomalies, counting all and keeping the first
// maxListed of each kind.
type anomalies struct {
	counts map[string]int
	list   []Anomaly
}

func (a *anomalies) add(x Anomaly) {
	if a.counts == nil {
		a.counts = make(map[string]int)
	}
	a.counts[x.Kind]++
	if a.counts[x.Kind] <= maxListed {
		a.list = append(a.list, x)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Result is the verdict of every checker over one history.
type Result struct {
	Valid    Validity        `json:"valid"`
	Messages *MessageResult  `json:"messages,omitempty"`
	Metadata *MetadataResult `json:"metadata,omitempty"`
	// Errors are problems that made a checker's verdict unknown.
	Errors []string `json:"errors,omitempty"`
}

// Check runs the message checker (when the history has publishes or
// deliveries) and the metadata checker (when it has metadata operations).
func Check(ops []history.Op, topo Topology, opts MetadataOptions) Result {
	var r Result
	hasMsg, hasMeta := false, false
	for _, op := range ops {
		switch op.F {
		case history.FPublish, history.FDeliver, history.FDrain:
			hasMsg = true
		case history.FDeclareQueue, history.FDeleteQueue, history.FInspectQueue,
			history.FBind, history.FUnbind, history.FHasBinding:
			hasMeta = true
		}
	}
	r.Valid = Valid
	if hasMsg {
		m := CheckMessages(ops, topo)
		r.Messages = &m
		r.Valid = Merge(r.Valid, m.Valid)
	}
	if hasMeta {
		m := CheckMetadata(ops, opts)
		r.Metadata = &m
		r.Valid = Merge(r.Valid, m.Valid)
	}
	if !hasMsg && !hasMeta {
		r.Valid = Unknown
		r.Errors = append(r.Errors, "the history has no operation to check")
	}
	return r
}
