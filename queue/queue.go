package queue

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// entry is one slot of the queue: a live message or, once settled, a hole
// that keeps its seq so that the slots stay sorted for binary search.
type entry struct {
	seq uint64
	m   *Message // nil: a hole
}

// Queue is one queue's messages in seq order, with its limits, TTL and
// dead-letter decisions. It is not safe for concurrent use; the read-only
// methods (Name, Args, Len, Bytes, NextSeq, NextExpiry, Get, Ascend,
// Messages) may run concurrently with one another but not with a mutation.
type Queue struct {
	name string
	args Args

	// ents[head:] are the slots, sorted by seq; the first and the last of
	// them are live (holes at either end are trimmed at once).
	ents  []entry
	head  int
	holes int   // holes among ents[head:]
	live  int   // live messages
	bytes int64 // sum of live body lengths

	nextSeq uint64

	// Expiry bookkeeping, so that Expire and NextExpiry rarely scan.
	nExp     int   // live messages with ExpiresAt != 0
	minExp   int64 // <= the earliest such ExpiresAt (valid if nExp > 0)
	minExact bool  // minExp is the earliest, not just a bound
	expOrder bool  // non-zero ExpiresAt are non-decreasing in seq order
	lastExp  int64 // the largest non-zero ExpiresAt pushed since expOrder was last known true

	refs  logRefs // live messages per Raft log entry holding their bodies
	tally *Tally  // kept up to date with live and bytes, if set
}

// New returns an empty queue. It does not validate args: the caller calls
// Args.Validate first.
func New(name string, args Args) *Queue {
	return &Queue{name: name, args: args, nextSeq: 1, expOrder: true}
}

// Restore rebuilds a queue from a snapshot: its arguments, the seq of the
// next push and its messages, which it keeps (no copy). It tolerates a
// damaged snapshot instead of failing: nil messages are skipped, messages
// are sorted by seq, a repeated seq keeps the first message, and nextSeq is
// raised above the largest seq if needed.
func Restore(name string, args Args, nextSeq uint64, msgs []*Message) *Queue {
	q := New(name, args)
	ents := make([]entry, 0, len(msgs))
	for _, m := range msgs {
		if m != nil {
			ents = append(ents, entry{m.Seq, m})
		}
	}
	slices.SortStableFunc(ents, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	ents = slices.CompactFunc(ents, func(a, b entry) bool { return a.seq == b.seq })
	q.ents = ents
	for _, e := range ents {
		q.live++
		q.bytes += e.m.Size()
		q.refs.add(e.m)
	}
	q.nextSeq = max(nextSeq, 1)
	if n := len(ents); n > 0 && ents[n-1].seq >= q.nextSeq {
		q.nextSeq = ents[n-1].seq + 1
	}
	q.rescanExpiry()
	return q
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// Args returns the queue's arguments.
func (q *Queue) Args() Args { return q.args }

// Len returns the number of unsettled messages.
func (q *Queue) Len() int { return q.live }

// Bytes returns the sum of the body lengths of the unsettled messages.
func (q *Queue) Bytes() int64 { return q.bytes }

// NextSeq returns the seq the next pushed message gets (1 for a new queue).
func (q *Queue) NextSeq() uint64 { return q.nextSeq }

// Push appends m, assigning it the next seq (it sets m.Seq: Push takes
// ownership of m). If the queue has a MessageTTL, m.ExpiresAt becomes the
// earlier of its own non-zero value and now+TTL.
//
// With a MaxLength or MaxLengthBytes, a message that does not fit is
// handled as the overflow says. DropHead: m is stored, then the oldest
// messages are removed until the queue is within its limits, and returned
// as MaxLen dead letters (m itself, if it alone exceeds MaxLengthBytes, as
// RabbitMQ does). RejectPublish: Push returns ErrRejected and changes
// nothing, neither the queue nor m.
func (q *Queue) Push(m *Message, now int64) ([]DeadLetter, error) {
	if m == nil {
		return nil, fmt.Errorf("push to queue %q: nil message: %w", q.name, ErrInvalidArgument)
	}
	size := m.Size()
	if q.args.Overflow == RejectPublish && !q.fits(1, size) {
		return nil, fmt.Errorf("push to queue %q holding %d messages, %d bytes: %w", q.name, q.live, q.bytes, ErrRejected)
	}
	if ttl := q.args.MessageTTL; ttl > 0 {
		if exp := addMillis(now, ttl); m.ExpiresAt == 0 || exp < m.ExpiresAt {
			m.ExpiresAt = exp
		}
	}
	m.Seq = q.nextSeq
	q.nextSeq++
	q.append(entry{m.Seq, m})
	q.count(1, size)
	q.refs.add(m)
	q.noteExpiry(m.ExpiresAt)

	var dead []DeadLetter
	for q.live > 0 && !q.fits(0, 0) {
		i := q.head
		old := q.ents[i].m
		q.removeAt(i)
		q.tidy()
		dead = append(dead, deadLetter(old, q.name, MaxLen, now))
	}
	return dead, nil
}

// fits reports whether n more messages of size bytes in all stay within
// the limits.
func (q *Queue) fits(n int, size int64) bool {
	if l := q.args.MaxLength; l > 0 && int64(q.live+n) > l {
		return false
	}
	if l := q.args.MaxLengthBytes; l > 0 && q.bytes+size > l {
		return false
	}
	return true
}

// addMillis returns now + ms milliseconds in nanoseconds, saturating.
func addMillis(now, ms int64) int64 {
	if ms > (math.MaxInt64-max(now, 0))/1e6 {
		return math.MaxInt64
	}
	return now + ms*1e6
}

// append adds e at the tail, sliding the slots to the front of the buffer
// instead of growing it when the front is mostly free.
func (q *Queue) append(e entry) {
	if len(q.ents) == cap(q.ents) && q.head > 0 && q.head >= len(q.ents)/2 {
		n := copy(q.ents, q.ents[q.head:])
		clear(q.ents[n:])
		q.ents = q.ents[:n]
		q.head = 0
	}
	q.ents = append(q.ents, e)
}

// find returns the index in q.ents of the live message seq.
func (q *Queue) find(seq uint64) (int, bool) {
	i := q.search(seq)
	if i == len(q.ents) || q.ents[i].seq != seq || q.ents[i].m == nil {
		return 0, false
	}
	return i, true
}

// search returns the index in q.ents of the first slot with a seq >= seq.
// Slots that were never compacted have consecutive seqs, so it first tries
// the slot at offset seq - first seq, then falls back to binary search.
func (q *Queue) search(seq uint64) int {
	w := q.ents[q.head:]
	if len(w) == 0 || seq <= w[0].seq {
		return q.head
	}
	if off := seq - w[0].seq; off < uint64(len(w)) && w[off].seq == seq {
		return q.head + int(off)
	}
	i, _ := slices.BinarySearchFunc(w, seq, func(e entry, s uint64) int { return cmp.Compare(e.seq, s) })
	return q.head + i
}

// removeAt turns the live slot i into a hole. The caller calls tidy after.
func (q *Queue) removeAt(i int) {
	m := q.ents[i].m
	q.ents[i].m = nil
	q.holes++
	q.count(-1, -m.Size())
	q.refs.remove(m)
	if m.ExpiresAt != 0 {
		q.nExp--
		if q.nExp == 0 {
			q.resetExpiry()
		} else if m.ExpiresAt == q.minExp {
			q.minExact = false
		}
	}
}

// tidy trims holes at both ends and compacts the slots when holes
// outnumber live messages, or when the buffer is mostly unused.
func (q *Queue) tidy() {
	for q.head < len(q.ents) && q.ents[q.head].m == nil {
		q.head++
		q.holes--
	}
	for n := len(q.ents); n > q.head && q.ents[n-1].m == nil; n-- {
		q.ents = q.ents[:n-1]
		q.holes--
	}
	if q.live == 0 {
		// Every slot is a hole (m == nil): nothing to clear.
		q.ents, q.head, q.holes = q.ents[:0], 0, 0
		if cap(q.ents) > minShrinkCap {
			q.ents = nil
		}
		return
	}
	switch {
	case cap(q.ents) > minShrinkCap && q.live < cap(q.ents)/4:
		// Mostly unused buffer: move the live slots to a smaller one.
		ents := make([]entry, 0, 2*q.live)
		for _, e := range q.ents[q.head:] {
			if e.m != nil {
				ents = append(ents, e)
			}
		}
		q.ents, q.head, q.holes = ents, 0, 0
	case q.holes > minCompactHoles && q.holes > q.live:
		// Compact in place.
		n := 0
		for _, e := range q.ents[q.head:] {
			if e.m != nil {
				q.ents[n] = e
				n++
			}
		}
		clear(q.ents[n:])
		q.ents, q.head, q.holes = q.ents[:n], 0, 0
	}
}

const (
	// minCompactHoles: fewer holes than this are never compacted away.
	minCompactHoles = 32
	// minShrinkCap: a buffer this small is never shrunk.
	minShrinkCap = 256
)

// Settle removes (acknowledges) message seq. It returns false if there is
// no such message.
func (q *Queue) Settle(seq uint64) bool {
	i, ok := q.find(seq)
	if !ok {
		return false
	}
	q.removeAt(i)
	q.tidy()
	return true
}

// Return handles a nack or reject of message seq; ok is false if there is no
// such message.
//
// With requeue, the message keeps its place (its seq) and is replaced by a
// copy with DeliveryCount+1 and Redelivered set; but if DeliveryLimit > 0
// and the new count exceeds it, the message is removed and returned as a
// DeliveryLimitReached dead letter instead. Without requeue, it is removed
// and returned as a Rejected dead letter.
func (q *Queue) Return(seq uint64, requeue bool, now int64) (dl *DeadLetter, ok bool) {
	i, ok := q.find(seq)
	if !ok {
		return nil, false
	}
	m := q.ents[i].m
	reason := Rejected
	if requeue {
		count := m.DeliveryCount
		if count < math.MaxUint32 {
			count++
		}
		if lim := q.args.DeliveryLimit; lim <= 0 || int64(count) <= lim {
			c := *m
			c.DeliveryCount = count
			c.Redelivered = true
			q.ents[i].m = &c
			return nil, true
		}
		reason = DeliveryLimitReached
	}
	q.removeAt(i)
	q.tidy()
	d := deadLetter(m, q.name, reason, now)
	return &d, true
}

// Requeue returns message seq to the queue after its delivery was lost (the
// consumer's connection died): it is Return(seq, true, now), delivery limit
// included, so a message that kills its consumers is not redelivered for
// ever.
func (q *Queue) Requeue(seq uint64, now int64) (*DeadLetter, bool) {
	return q.Return(seq, true, now)
}

// Expire removes every message with 0 < ExpiresAt <= now, in seq order, and
// returns them as Expired dead letters. It costs O(1) when nothing can have
// expired, and otherwise at most one pass over the queue.
func (q *Queue) Expire(now int64) []DeadLetter {
	if q.nExp == 0 || now < q.minExp {
		return nil
	}
	var dead []DeadLetter
	if q.expOrder {
		// The expiring messages are in expiry order: remove a prefix.
		for i := q.head; i < len(q.ents) && q.nExp > 0; i++ {
			m := q.ents[i].m
			if m == nil || m.ExpiresAt == 0 {
				continue
			}
			if m.ExpiresAt > now {
				q.minExp, q.minExact = m.ExpiresAt, true
				break
			}
			q.removeAt(i)
			dead = append(dead, deadLetter(m, q.name, Expired, now))
		}
		q.tidy()
		return dead
	}
	for i := q.head; i < len(q.ents); i++ {
		if m := q.ents[i].m; m != nil && m.ExpiresAt != 0 && m.ExpiresAt <= now {
			q.removeAt(i)
			dead = append(dead, deadLetter(m, q.name, Expired, now))
		}
	}
	q.tidy()
	q.rescanExpiry()
	return dead
}

// NextExpiry returns the earliest ExpiresAt among the messages, or 0 if
// none expires. It is O(1) unless the message holding the earliest expiry
// has left the queue since the last Expire; then it scans from the head
// (which is usually at once the earliest, as with a queue TTL) or, if
// expiries are out of seq order, the whole queue.
func (q *Queue) NextExpiry() int64 {
	if q.nExp == 0 {
		return 0
	}
	if q.minExact {
		return q.minExp
	}
	earliest := int64(0)
	for _, e := range q.ents[q.head:] {
		if e.m == nil || e.m.ExpiresAt == 0 {
			continue
		}
		if q.expOrder {
			return e.m.ExpiresAt
		}
		if earliest == 0 || e.m.ExpiresAt < earliest {
			earliest = e.m.ExpiresAt
		}
	}
	return earliest
}

// noteExpiry records a pushed message's ExpiresAt.
func (q *Queue) noteExpiry(exp int64) {
	if exp == 0 {
		return
	}
	if q.nExp == 0 {
		q.minExp, q.minExact = exp, true
	} else if exp < q.minExp {
		// Below a lower bound of the others: the earliest for sure.
		q.minExp, q.minExact = exp, true
	}
	q.nExp++
	if exp < q.lastExp {
		q.expOrder = false
	}
	q.lastExp = max(q.lastExp, exp)
}

// resetExpiry is the expiry state of a queue with no expiring message.
func (q *Queue) resetExpiry() {
	q.nExp, q.minExp, q.minExact, q.expOrder, q.lastExp = 0, 0, true, true, 0
}

// rescanExpiry recomputes the expiry state exactly, in one pass.
func (q *Queue) rescanExpiry() {
	q.resetExpiry()
	for _, e := range q.ents[q.head:] {
		if e.m == nil || e.m.ExpiresAt == 0 {
			continue
		}
		exp := e.m.ExpiresAt
		if q.nExp == 0 || exp < q.minExp {
			q.minExp = exp
		}
		q.nExp++
		if exp < q.lastExp {
			q.expOrder = false
		}
		q.lastExp = max(q.lastExp, exp)
	}
}

// Purge removes every message, without dead-lettering, and returns how
// many there were. The seq counter goes on.
func (q *Queue) Purge() int {
	n := q.live
	q.count(-q.live, -q.bytes)
	q.ents, q.head, q.holes = nil, 0, 0
	q.resetExpiry()
	q.refs.reset()
	return n
}

// Get returns message seq.
func (q *Queue) Get(seq uint64) (*Message, bool) {
	i, ok := q.find(seq)
	if !ok {
		return nil, false
	}
	return q.ents[i].m, true
}

// Replace swaps the stored message old for m, a copy of it that differs
// only in where its body is kept (Body or Ref), and reports whether it did.
// It does nothing (false) if old is no longer the stored message of its
// seq (it was removed, or changed into a new copy) or if m's Seq or Size
// differ from old's. Like every change, it leaves old untouched for
// whoever still holds it.
func (q *Queue) Replace(old, m *Message) bool {
	if old == nil || m == nil || m.Seq != old.Seq || m.Size() != old.Size() {
		return false
	}
	i, ok := q.find(old.Seq)
	if !ok || q.ents[i].m != old {
		return false
	}
	q.ents[i].m = m
	q.refs.remove(old)
	q.refs.add(m)
	return true
}

// Ascend calls fn for each message with Seq >= from, in seq order, until fn
// returns false. fn must not modify the queue.
func (q *Queue) Ascend(from uint64, fn func(*Message) bool) {
	for _, e := range q.ents[q.search(from):] {
		if e.m != nil && !fn(e.m) {
			return
		}
	}
}

// Messages returns the messages in seq order. The slice is new; the
// Messages are the stored ones, which are never modified (see Message), so a
// snapshot may encode them while the queue goes on changing.
func (q *Queue) Messages() []*Message {
	out := make([]*Message, 0, q.live)
	for _, e := range q.ents[q.head:] {
		if e.m != nil {
			out = append(out, e.m)
		}
	}
	return out
}
