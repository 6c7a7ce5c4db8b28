package queue

import (
	"cmp"
	"slices"
)

// logRefs counts a queue's live messages per Raft log entry that holds
// their bodies (messages whose Ref.Len is not zero), so that the lowest
// entry the queue still reads is known without walking its messages.
//
// The counts are runs sorted by entry index. A group commit puts hundreds of
// messages in one entry and entries are applied in order, so a push almost
// always adds to the last run and a settle, in a queue consumed in order,
// takes from the first: both O(1), with no map. A run whose count drops to
// zero stays until it reaches an end or zero runs outnumber live ones.
type logRefs struct {
	runs  []refRun // runs[head:] sorted by idx, distinct; the first and the last have n > 0
	head  int
	zeros int // runs with n == 0 in runs[head:]
}

type refRun struct {
	idx uint64
	n   int
}

// add counts m's reference, if it has one.
func (r *logRefs) add(m *Message) {
	if m.Ref.Len == 0 {
		return
	}
	idx := m.Ref.Index
	if last := len(r.runs) - 1; last >= r.head {
		switch {
		case r.runs[last].idx == idx:
			r.runs[last].n++
			return
		case r.runs[last].idx > idx:
			// An older entry: a dead letter keeps its body's entry.
			i, found := r.search(idx)
			if found {
				if r.runs[i].n == 0 {
					r.zeros--
				}
				r.runs[i].n++
				return
			}
			if i == r.head && r.head > 0 {
				r.head--
				r.runs[r.head] = refRun{idx, 1}
				return
			}
			r.runs = slices.Insert(r.runs, i, refRun{idx, 1})
			return
		}
	}
	r.runs = append(r.runs, refRun{idx, 1})
}

// remove uncounts m's reference, if it has one.
func (r *logRefs) remove(m *Message) {
	if m.Ref.Len == 0 {
		return
	}
	i, found := r.search(m.Ref.Index)
	if !found || r.runs[i].n == 0 {
		return // not counted: nothing to take back
	}
	r.runs[i].n--
	if r.runs[i].n > 0 {
		return
	}
	r.zeros++
	for r.head < len(r.runs) && r.runs[r.head].n == 0 {
		r.head++
		r.zeros--
	}
	for n := len(r.runs); n > r.head && r.runs[n-1].n == 0; n-- {
		r.runs = r.runs[:n-1]
		r.zeros--
	}
	if r.head == len(r.runs) {
		r.runs, r.head = r.runs[:0], 0
		return
	}
	if r.zeros > 32 && r.zeros > len(r.runs)-r.head-r.zeros {
		live := r.runs[:0]
		for _, run := range r.runs[r.head:] {
			if run.n > 0 {
				live = append(live, run)
			}
		}
		clear(r.runs[len(live):])
		r.runs, r.head, r.zeros = live, 0, 0
	}
}

// search returns the position of the run of idx in runs, or where it would
// be inserted. It tries both ends first.
func (r *logRefs) search(idx uint64) (int, bool) {
	w := r.runs[r.head:]
	switch {
	case len(w) == 0:
		return r.head, false
	case w[0].idx == idx:
		return r.head, true
	case w[len(w)-1].idx == idx:
		return len(r.runs) - 1, true
	}
	i, found := slices.BinarySearchFunc(w, idx, func(run refRun, idx uint64) int { return cmp.Compare(run.idx, idx) })
	return r.head + i, found
}

// reset forgets every reference.
func (r *logRefs) reset() {
	r.runs, r.head, r.zeros = nil, 0, 0
}

// lowest returns the lowest entry referred to, if any.
func (r *logRefs) lowest() (uint64, bool) {
	if r.head == len(r.runs) {
		return 0, false
	}
	return r.runs[r.head].idx, true
}

// atOrBelow returns how many messages refer to entries at or below index.
func (r *logRefs) atOrBelow(index uint64) int {
	n := 0
	for _, run := range r.runs[r.head:] {
		if run.idx > index {
			break
		}
		n += run.n
	}
	return n
}

// LowestLogRef returns the lowest Raft log entry index that holds the body
// of one of the queue's messages (see Message.Ref), and false if no
// message's body is in the log. It costs O(1) and is read-only.
func (q *Queue) LowestLogRef() (uint64, bool) { return q.refs.lowest() }

// LogRefsAtOrBelow returns how many of the queue's messages have their
// bodies in Raft log entries at or below index. It walks the entries
// referred to up to index (not the messages). It is read-only.
func (q *Queue) LogRefsAtOrBelow(index uint64) int { return q.refs.atOrBelow(index) }
