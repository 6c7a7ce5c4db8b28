package checker

import (
	"fmt"
	"sort"

	"github.com/raftmq/raftmq/jepsen-lite/history"
)

// MessageResult is the verdict over publishes and deliveries (the queue and
// routing workloads). All counts are of message IDs unless said otherwise.
type MessageResult struct {
	Valid Validity `json:"valid"`
	// Attempted is the number of publish operations; Confirmed, Failed and
	// Indeterminate split them by outcome (ok, fail, info).
	Attempted     int `json:"attempted"`
	Confirmed     int `json:"confirmed"`
	Failed        int `json:"failed"`
	Indeterminate int `json:"indeterminate"`
	// Delivered is the number of distinct IDs delivered; Deliveries counts
	// every delivery.
	Delivered  int `json:"delivered"`
	Deliveries int `json:"deliveries"`
	// Recovered is the number of indeterminate publishes that were
	// delivered (they did take effect).
	Recovered int `json:"recovered"`
	// Redeliveries counts deliveries of a queue entry after its first.
	Redeliveries int `json:"redeliveries"`
	// Anomaly counts.
	Lost         int `json:"lost"`
	Unexpected   int `json:"unexpected"`
	Aborted      int `json:"aborted"`
	Duplicates   int `json:"duplicates"`
	Reorders     int `json:"reorders"`
	Misrouted    int `json:"misrouted"`
	MissingRoute int `json:"missing_route"`
	// DrainComplete reports that the final drain saw every queue empty;
	// without it a lost message may only be late, and lost becomes unknown.
	DrainComplete bool `json:"drain_complete"`
	// Anomalies lists the anomalies (at most 50 of each kind).
	Anomalies []Anomaly `json:"anomalies,omitempty"`
	// Notes explain an unknown verdict.
	Notes []string `json:"notes,omitempty"`
}

type publishRec struct {
	inv, comp history.Op
	expected  []string
}

// CheckMessages checks publishes against deliveries, as issue 5 defines:
// lost, unexpected, aborted delivery, duplicate enqueue, reorder in the
// topology's fifo queue, and routing (each message must reach exactly the
// queues its bindings name, computed by Topology.Route). Lost and missing
// routes are definite only when the final drain saw every queue empty;
// otherwise they make the verdict unknown.
func CheckMessages(ops []history.Op, topo Topology) MessageResult {
	var r MessageResult
	var an anomalies
	pairs, err := history.Pairs(ops)
	if err != nil {
		r.Valid = Invalid
		r.Anomalies = []Anomaly{{Kind: KindMalformed, Detail: err.Error()}}
		return r
	}
	pubs := make(map[string]*publishRec)
	var pubOrder []string
	delivs := make(map[string][]history.Op)
	drainSeen, drainEmpty := false, false
	for _, p := range pairs {
		switch p.Invoke.F {
		case history.FPublish:
			id := p.Invoke.Value.ID
			if id == "" {
				an.add(Anomaly{Kind: KindMalformed, Detail: "publish without a message ID", Ops: []int{p.Invoke.Index}})
				continue
			}
			if prev, ok := pubs[id]; ok {
				an.add(Anomaly{Kind: KindMalformed, ID: id, Detail: "message ID published twice by the workload", Ops: []int{prev.inv.Index, p.Invoke.Index}})
				continue
			}
			exp, err := topo.Route(p.Invoke.Value.Exchange, p.Invoke.Value.Key, p.Invoke.Value.Headers)
			if err != nil {
				an.add(Anomaly{Kind: KindMalformed, ID: id, Detail: err.Error(), Ops: []int{p.Invoke.Index}})
				continue
			}
			pubs[id] = &publishRec{inv: p.Invoke, comp: p.Completion, expected: exp}
			pubOrder = append(pubOrder, id)
			r.Attempted++
			switch p.Completion.Type {
			case history.Ok:
				r.Confirmed++
			case history.Fail:
				r.Failed++
			default:
				r.Indeterminate++
			}
		case history.FDeliver:
			id := p.Completion.Value.ID
			delivs[id] = append(delivs[id], p.Completion)
			r.Deliveries++
		case history.FDrain:
			drainSeen = true
			if p.Completion.Type == history.Ok || p.Completion.Value.Empty {
				drainEmpty = p.Completion.Value.Empty || p.Completion.Type == history.Ok
			}
		}
	}
	r.DrainComplete = drainSeen && drainEmpty
	r.Delivered = len(delivs)

	// Redeliveries: deliveries of one (queue, seq) after the first.
	type entry struct {
		queue string
		seq   uint64
	}
	seen := make(map[entry]int)
	for _, id := range sortedKeys(delivs) {
		for _, d := range delivs[id] {
			e := entry{d.Value.Queue, d.Value.Seq}
			seen[e]++
			if seen[e] > 1 {
				r.Redeliveries++
			}
		}
	}

	// Unexpected, aborted, duplicate enqueue, misrouted deliveries.
	for _, id := range sortedKeys(delivs) {
		ds := delivs[id]
		idx := make([]int, 0, len(ds))
		for _, d := range ds {
			idx = append(idx, d.Index)
		}
		pub, ok := pubs[id]
		if !ok {
			an.add(Anomaly{Kind: KindUnexpected, ID: id, Queue: ds[0].Value.Queue, Detail: "delivered but never published", Ops: idx})
			continue
		}
		if pub.comp.Type == history.Fail {
			an.add(Anomaly{Kind: KindAborted, ID: id, Queue: ds[0].Value.Queue,
				Detail: fmt.Sprintf("delivered although its publish failed: %s", pub.comp.Error), Ops: append([]int{pub.inv.Index, pub.comp.Index}, idx...)})
		}
		if pub.comp.Type != history.Ok {
			r.Recovered++
		}
		seqs := make(map[string]map[uint64]int) // queue -> seq -> first delivery index
		for _, d := range ds {
			if seqs[d.Value.Queue] == nil {
				seqs[d.Value.Queue] = make(map[uint64]int)
			}
			if _, ok := seqs[d.Value.Queue][d.Value.Seq]; !ok {
				seqs[d.Value.Queue][d.Value.Seq] = d.Index
			}
		}
		for _, q := range sortedKeys(seqs) {
			if len(seqs[q]) > 1 {
				var list []uint64
				var at []int
				for s, i := range seqs[q] {
					list = append(list, s)
					at = append(at, i)
				}
				sort.Slice(list, func(a, b int) bool { return list[a] < list[b] })
				sort.Ints(at)
				an.add(Anomaly{Kind: KindDuplicate, ID: id, Queue: q,
					Detail: fmt.Sprintf("enqueued %d times, as sequence numbers %v", len(list), list), Ops: append([]int{pub.inv.Index}, at...)})
			}
			if !contains(pub.expected, q) {
				an.add(Anomaly{Kind: KindMisrouted, ID: id, Queue: q,
					Detail: fmt.Sprintf("delivered from %s, but its bindings route exchange %q key %q headers %v to %v",
						q, pub.inv.Value.Exchange, pub.inv.Value.Key, pub.inv.Value.Headers, pub.expected),
					Ops: []int{pub.inv.Index, seqs[q][firstSeq(seqs[q])]}})
			}
		}
	}

	// Lost, missing routes, confirms that disagree with the bindings.
	var lost, missing []Anomaly
	for _, id := range pubOrder {
		pub := pubs[id]
		ds := delivs[id]
		got := make(map[string]bool)
		for _, d := range ds {
			got[d.Value.Queue] = true
		}
		if pub.comp.Type == history.Ok && pub.comp.Value.Status == "routed" && pub.comp.Value.Queues != len(pub.expected) {
			an.add(Anomaly{Kind: KindMisrouted, ID: id,
				Detail: fmt.Sprintf("confirmed as routed to %d queues, but its bindings name %v", pub.comp.Value.Queues, pub.expected),
				Ops:    []int{pub.inv.Index, pub.comp.Index}})
		}
		if pub.comp.Type == history.Ok && pub.comp.Value.Status == "dropped" && len(pub.expected) > 0 {
			an.add(Anomaly{Kind: KindMisrouted, ID: id,
				Detail: fmt.Sprintf("confirmed as dropped (routed nowhere), but its bindings name %v", pub.expected),
				Ops:    []int{pub.inv.Index, pub.comp.Index}})
		}
		if len(pub.expected) == 0 {
			continue
		}
		if len(ds) == 0 {
			if pub.comp.Type == history.Ok {
				lost = append(lost, Anomaly{Kind: KindLost, ID: id, Queue: pub.expected[0],
					Detail: fmt.Sprintf("confirmed (term %d, index %d, %d attempts) and never delivered", pub.comp.Value.Term, pub.comp.Value.Index, pub.comp.Attempts),
					Ops:    []int{pub.inv.Index, pub.comp.Index}})
			}
			continue
		}
		// Confirmed, or indeterminate but evidently enqueued: every named
		// queue must have it.
		if pub.comp.Type == history.Fail {
			continue // already aborted
		}
		for _, q := range pub.expected {
			if !got[q] {
				missing = append(missing, Anomaly{Kind: KindMissingRoute, ID: id, Queue: q,
					Detail: fmt.Sprintf("its bindings name %v, but it was never delivered from %s", pub.expected, q),
					Ops:    []int{pub.inv.Index, ds[0].Index}})
			}
		}
	}
	r.Lost, r.MissingRoute = len(lost), len(missing)
	if r.DrainComplete {
		for _, a := range append(lost, missing...) {
			an.add(a)
		}
	} else if len(lost)+len(missing) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d confirmed messages not seen and %d missing routes, but the drain did not see every queue empty: they may only be late", len(lost), len(missing)))
	}

	if topo.FIFO != "" {
		checkReorder(&an, pubs, pubOrder, delivs, topo.FIFO)
	}

	r.Unexpected = an.counts[KindUnexpected]
	r.Aborted = an.counts[KindAborted]
	r.Duplicates = an.counts[KindDuplicate]
	r.Reorders = an.counts[KindReorder]
	r.Misrouted = an.counts[KindMisrouted]
	r.Anomalies = an.list
	switch {
	case len(an.list) > 0:
		r.Valid = Invalid
	case !drainSeen:
		r.Valid = Unknown
		r.Notes = append(r.Notes, "the history has no drain: lost messages cannot be told from late ones")
	case !r.DrainComplete:
		r.Valid = Unknown
		if len(lost)+len(missing) == 0 {
			r.Notes = append(r.Notes, "the drain timed out before every queue was seen empty")
		}
	default:
		r.Valid = Valid
	}
	return r
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func firstSeq(m map[uint64]int) uint64 {
	var best uint64
	bi := -1
	for s, i := range m {
		if bi < 0 || i < bi {
			best, bi = s, i
		}
	}
	return best
}

// checkReorder finds, per producer, a message b delivered (first, not as a
// redelivery) before a message a of the same producer that was confirmed
// before b was invoked, in the fifo queue; and the same for the sequence
// numbers the queue assigned, which must follow the confirm order too.
func checkReorder(an *anomalies, pubs map[string]*publishRec, order []string, delivs map[string][]history.Op, fifo string) {
	type msg struct {
		id        string
		inv, comp int64 // times
		pos       int   // history index of its first fresh delivery; -1 if none
		seq       uint64
		hasSeq    bool
	}
	byProc := make(map[int][]*msg)
	for _, id := range order {
		p := pubs[id]
		if p.comp.Type != history.Ok || !contains(p.expected, fifo) {
			continue
		}
		m := &msg{id: id, inv: p.inv.Time, comp: p.comp.Time, pos: -1}
		for _, d := range delivs[id] {
			if d.Value.Queue != fifo {
				continue
			}
			if !m.hasSeq {
				m.seq, m.hasSeq = d.Value.Seq, true
			}
			if !d.Value.Redelivered && d.Value.DeliveryCount == 0 && m.pos < 0 {
				m.pos = d.Index
			}
		}
		byProc[p.inv.Process] = append(byProc[p.inv.Process], m)
	}
	procs := make([]int, 0, len(byProc))
	for p := range byProc {
		procs = append(procs, p)
	}
	sort.Ints(procs)
	for _, proc := range procs {
		ms := byProc[proc]
		byComp := append([]*msg(nil), ms...)
		sort.Slice(byComp, func(i, j int) bool { return byComp[i].comp < byComp[j].comp })
		sort.Slice(ms, func(i, j int) bool { return ms[i].inv < ms[j].inv })
		var maxPos, maxSeq *msg
		k := 0
		for _, b := range ms {
			for k < len(byComp) && byComp[k].comp < b.inv {
				a := byComp[k]
				if a.pos >= 0 && (maxPos == nil || a.pos > maxPos.pos) {
					maxPos = a
				}
				if a.hasSeq && (maxSeq == nil || a.seq > maxSeq.seq) {
					maxSeq = a
				}
				k++
			}
			if b.pos >= 0 && maxPos != nil && maxPos.pos > b.pos {
				an.add(Anomaly{Kind: KindReorder, ID: b.id, Queue: fifo,
					Detail: fmt.Sprintf("delivered before %s, which process %d had confirmed before publishing it (neither redelivered)", maxPos.id, proc),
					Ops:    []int{b.pos, maxPos.pos}})
			} else if b.hasSeq && maxSeq != nil && maxSeq.seq > b.seq {
				an.add(Anomaly{Kind: KindReorder, ID: b.id, Queue: fifo,
					Detail: fmt.Sprintf("enqueued as seq %d, before %s (seq %d), which process %d had confirmed before publishing it", b.seq, maxSeq.id, maxSeq.seq, proc)})
			}
		}
	}
}
