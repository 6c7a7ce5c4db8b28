package queue

// logRefs counts a queue's live messages per Raft log entry that holds
// their bodies (messages whose Ref.Len is not zero), so that the lowest
// entry the queue still reads is known without walking its messages. A
// group commit puts hundreds of messages in one entry, so the distinct
// entries are far fewer than the messages.
type logRefs struct {
	count map[uint64]int // entry index -> live messages referring to it
	// low is the lowest key of count when lowOK; removing the last
	// reference to low clears lowOK, and the next lowest is found by
	// walking the keys when it is asked for.
	low   uint64
	lowOK bool
}

// add counts m's reference, if it has one.
func (r *logRefs) add(m *Message) {
	if m.Ref.Len == 0 {
		return
	}
	idx := m.Ref.Index
	if r.count == nil {
		r.count = make(map[uint64]int)
	}
	if len(r.count) == 0 {
		r.low, r.lowOK = idx, true
	} else if r.lowOK && idx < r.low {
		r.low = idx
	}
	r.count[idx]++
}

// remove uncounts m's reference, if it has one.
func (r *logRefs) remove(m *Message) {
	if m.Ref.Len == 0 {
		return
	}
	idx := m.Ref.Index
	switch c := r.count[idx]; {
	case c > 1:
		r.count[idx] = c - 1
	case c == 1:
		delete(r.count, idx)
		if idx == r.low {
			r.lowOK = false
		}
	}
}

// reset forgets every reference.
func (r *logRefs) reset() {
	r.count, r.low, r.lowOK = nil, 0, false
}

// lowest returns the lowest entry referred to, if any. It may walk the
// entries once after the lowest one lost its last reference.
func (r *logRefs) lowest() (uint64, bool) {
	if len(r.count) == 0 {
		return 0, false
	}
	if !r.lowOK {
		first := true
		for idx := range r.count {
			if first || idx < r.low {
				r.low, first = idx, false
			}
		}
		r.lowOK = true
	}
	return r.low, true
}

// atOrBelow returns how many messages refer to entries at or below index.
func (r *logRefs) atOrBelow(index uint64) int {
	if r.lowOK && (len(r.count) == 0 || index < r.low) {
		return 0
	}
	n := 0
	for idx, c := range r.count {
		if idx <= index {
			n += c
		}
	}
	return n
}

// LowestLogRef returns the lowest Raft log entry index that holds the body
// of one of the queue's messages (see Message.Ref), and false if no
// message's body is in the log. It costs O(1), or one walk over the
// distinct entries referred to after the lowest one's last message left.
// It updates a cache: like a mutation, it must not run concurrently with
// other methods.
func (q *Queue) LowestLogRef() (uint64, bool) { return q.refs.lowest() }

// LogRefsAtOrBelow returns how many of the queue's messages have their
// bodies in Raft log entries at or below index. It walks the distinct
// entries referred to (not the messages), unless the lowest one is known to
// be above index. It is read-only.
func (q *Queue) LogRefsAtOrBelow(index uint64) int { return q.refs.atOrBelow(index) }
