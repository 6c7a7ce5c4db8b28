package fsm

import "sync/atomic"

// dedup remembers the message IDs enqueued within the window, in the order
// they were first seen, so that pruning walks from the oldest.
//
// seen maps an ID to the time it was recorded; order lists (id, time) pairs
// oldest first. When an ID is recorded again after its window passed, seen
// gets the new time and the old pair in order becomes stale: prune and
// snapshots skip pairs whose time no longer matches seen.
type dedup struct {
	seen  map[string]int64
	order []dedupEntry
	head  int
	// shared is set while a snapshot may still read order's array (see
	// live): until prune moves the pairs to a new array, no pair already
	// appended is written again. Atomic because live runs under the state
	// machine's read lock.
	shared atomic.Bool
}

type dedupEntry struct {
	id string
	t  int64
}

func newDedup() dedup {
	return dedup{seen: make(map[string]int64)}
}

// isDuplicate reports whether id was recorded at or after now-window.
func (d *dedup) isDuplicate(id string, now, window int64) bool {
	t, ok := d.seen[id]
	return ok && t >= now-window
}

// add records id at time t.
func (d *dedup) add(id string, t int64) {
	d.seen[id] = t
	d.order = append(d.order, dedupEntry{id: id, t: t})
}

// prune forgets every ID recorded before the cutoff.
func (d *dedup) prune(cutoff int64) {
	shared := d.shared.Load()
	for d.head < len(d.order) && d.order[d.head].t < cutoff {
		e := d.order[d.head]
		if t, ok := d.seen[e.id]; ok && t == e.t {
			delete(d.seen, e.id)
		}
		if !shared {
			d.order[d.head] = dedupEntry{} // let the ID go
		}
		d.head++
	}
	// Compact once the dead prefix is the larger part, so memory follows the
	// live window and the amortised cost per entry stays constant: in place,
	// or into a new array while a snapshot may still read this one.
	if d.head > 1024 && d.head > len(d.order)/2 {
		if shared {
			n := len(d.order) - d.head
			order := make([]dedupEntry, n, max(cap(d.order)-d.head, 2*n))
			copy(order, d.order[d.head:])
			d.order, d.head = order, 0
			d.shared.Store(false)
			return
		}
		n := copy(d.order, d.order[d.head:])
		clear(d.order[n:])
		d.order = d.order[:n]
		d.head = 0
	}
}

// live returns the current entries, oldest first, without stale pairs. The
// caller must not modify them; they stay valid while the dedup goes on
// changing.
//
// Every ID in seen has its current pair in order, so when order holds no more
// pairs than seen has IDs, no pair is stale and the live entries are order
// itself, shared until prune next compacts it (see shared): neither
// lookups, which for a million IDs took hundreds of milliseconds under the
// state machine's lock at every snapshot, nor a copy.
func (d *dedup) live() []dedupEntry {
	if n := len(d.order); n-d.head == len(d.seen) {
		d.shared.Store(true)
		return d.order[d.head:n:n]
	}
	out := make([]dedupEntry, 0, len(d.seen))
	for _, e := range d.order[d.head:] {
		if t, ok := d.seen[e.id]; ok && t == e.t {
			out = append(out, e)
		}
	}
	return out
}

func (d *dedup) len() int { return len(d.seen) }
