package queue

// Tally is a running sum of the messages and body bytes of the queues that
// share it (see Queue.SetTally), so that a caller holding many queues knows
// their totals without visiting each one.
type Tally struct {
	Messages int64
	Bytes    int64
}

// SetTally makes the queue keep t up to date with its messages and bytes:
// its current counts are added to t, and every later change too. SetTally
// again, or with nil, first takes the counts back out of the previous
// tally, as when the queue is deleted.
func (q *Queue) SetTally(t *Tally) {
	if q.tally != nil {
		q.tally.Messages -= int64(q.live)
		q.tally.Bytes -= q.bytes
	}
	q.tally = t
	if t != nil {
		t.Messages += int64(q.live)
		t.Bytes += q.bytes
	}
}

// count changes the queue's message and byte counts, and its tally's.
func (q *Queue) count(messages int, bytes int64) {
	q.live += messages
	q.bytes += bytes
	if q.tally != nil {
		q.tally.Messages += int64(messages)
		q.tally.Bytes += bytes
	}
}
