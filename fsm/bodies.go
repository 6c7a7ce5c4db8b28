package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/queue"
)

// Message bodies in the Raft log.
//
// Every published body is already in the Raft log, on disk on every node
// and in the kernel's page cache. With UseLog, a queued message keeps only
// where its body is in the log (queue.BodyRef: entry index, offset, length)
// and the body is read back when it is needed: to deliver the message (the
// dispatcher reads after releasing the state machine's lock, from entries
// it pinned with View.PinLog), to write a snapshot. The heap then holds
// about 260 bytes per queued message instead of the body as well, and no
// message body is copied on apply.
//
// Three rules keep the references valid:
//   - A reference names an entry this node has applied. Applied entries are
//     committed, and a committed entry never changes and is never truncated
//     by Raft's conflict resolution; only log compaction removes it.
//   - Compaction keeps every entry a queued message refers to, and every
//     entry pinned by a reader: Raft asks LogFloor before it compacts (the
//     CompactionFloor of the patched hashicorp/raft,
//     third_party/hashicorp-raft/PATCHES.md). So that one
//     message left in a queue does not hold back compaction for ever,
//     LogFloor first moves the bodies of messages published more than a
//     given number of entries ago into memory.
//   - A snapshot carries bodies, not references: Restore puts them in
//     memory, and the log entries after the snapshot are applied again with
//     their own indexes.

// LogReader reads entries back from the Raft log. A raft.LogStore, and the
// raft.LogCache in front of it, are LogReaders. (An alias of an unnamed
// interface, so that cluster.LogReadingFSM names the same type.)
type LogReader = interface {
	GetLog(index uint64, log *raft.Log) error
}

// ErrBodyUnavailable is returned when a message body kept in the Raft log
// cannot be read back.
var ErrBodyUnavailable = errors.New("message body unavailable")

// minLogBody is the smallest body kept in the log; smaller ones are copied
// into memory, where they cost little more than the reference would.
const minLogBody = 256

// bodyCacheEntries is how many log entries the body reader keeps after
// reading them. Deliveries and snapshots read bodies in publish order, so
// one entry (a group commit of up to hundreds of messages) serves many
// reads in a row.
const bodyCacheEntries = 4

// maxMovedPerFloor bounds the bytes of bodies one LogFloor moves into
// memory, so that a backlog's first compaction does not take its whole size
// in one go while a snapshot is being written; what is left is moved at the
// next compaction, and its entries are kept until then.
var maxMovedPerFloor int64 = 64 << 20 // a variable for tests

// UseLog makes the state machine keep message bodies in the Raft log that
// r reads, instead of copies in memory. Call it once, before the first
// Apply. Raft must then call LogFloor before every log compaction.
func (f *FSM) UseLog(r LogReader) {
	f.bodies = &bodyReader{log: r, pins: make(map[uint64]int)}
}

// keepBody returns what a queued message keeps of pm's body: a reference
// into the entry being applied if pm.Body points into it and is large enough,
// else a copy (or the body itself, if it is a copy already).
func (s *state) keepBody(pm *PublishMessage) ([]byte, queue.BodyRef) {
	if pm.bodyOff == 0 {
		return pm.Body, queue.BodyRef{}
	}
	n := len(pm.Body)
	if s.entry == 0 || n < minLogBody || uint64(pm.bodyOff)+uint64(n) > math.MaxUint32 {
		return bytes.Clone(pm.Body), queue.BodyRef{}
	}
	return nil, queue.BodyRef{Index: s.entry, Off: uint32(pm.bodyOff), Len: uint32(n)}
}

// Body returns m's body, read back from the Raft log if it is kept there.
// The returned slice must not be modified.
func (v View) Body(m *queue.Message) ([]byte, error) {
	return v.bodies.body(m)
}

// PinLog keeps the Raft log entry index, and every later one, from being
// compacted until the returned func is called, so that bodies of messages
// seen through this View can be read with FSM.Body after the View ends.
// Call the func once; until then LogFloor is at most index.
func (v View) PinLog(index uint64) (unpin func()) {
	if v.bodies == nil || index == 0 {
		return func() {}
	}
	r := v.bodies
	r.pinMu.Lock()
	r.pins[index]++
	r.pinMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.pinMu.Lock()
			if r.pins[index]--; r.pins[index] <= 0 {
				delete(r.pins, index)
			}
			r.pinMu.Unlock()
		})
	}
}

// Body returns m's body like View.Body, without the state machine's lock:
// m must have been seen through a View that pinned its entry (PinLog) and
// not yet unpinned it, so that compaction cannot take the entry away. A
// read that misses the log cache goes to the disk; Apply does not wait for
// it.
func (f *FSM) Body(m *queue.Message) ([]byte, error) {
	return f.bodies.body(m)
}

// lowestPin returns the lowest pinned log index, 0 if none.
func (r *bodyReader) lowestPin() uint64 {
	r.pinMu.Lock()
	defer r.pinMu.Unlock()
	var low uint64
	for i := range r.pins {
		if low == 0 || i < low {
			low = i
		}
	}
	return low
}

// BodyReadErrors returns how many times a message body kept in the Raft
// log could not be read back (for delivery, a snapshot or LogFloor). It stays
// 0 unless the log store lost or cannot read an entry; a message whose body
// cannot be read is not delivered, and snapshots fail while it is queued.
func (f *FSM) BodyReadErrors() uint64 {
	if f.bodies == nil {
		return 0
	}
	return f.bodies.failures.Load()
}

// bodyReader reads bodies back from the log, keeping the last few entries
// it read.
type bodyReader struct {
	log LogReader
	// failures counts the bodies that could not be read back.
	failures atomic.Uint64

	mu    sync.Mutex
	cache [bodyCacheEntries]cachedEntry
	next  int

	// pins counts, per log index, the readers that will read bodies from
	// it after releasing the state machine's lock (View.PinLog).
	pinMu sync.Mutex
	pins  map[uint64]int
}

type cachedEntry struct {
	index uint64
	data  []byte
}

// body returns m's body. A nil reader (bodies in memory) returns m.Body.
func (r *bodyReader) body(m *queue.Message) ([]byte, error) {
	if m.Ref.Len == 0 {
		return m.Body, nil
	}
	if r == nil {
		return nil, fmt.Errorf("%w: message %d refers to log entry %d, and no log is attached", ErrBodyUnavailable, m.Seq, m.Ref.Index)
	}
	data, err := r.entry(m.Ref.Index)
	if err != nil {
		r.failures.Add(1)
		return nil, err
	}
	end := uint64(m.Ref.Off) + uint64(m.Ref.Len)
	if end > uint64(len(data)) {
		r.failures.Add(1)
		return nil, fmt.Errorf("%w: log entry %d holds %d bytes, message %d's body ends at %d", ErrBodyUnavailable, m.Ref.Index, len(data), m.Seq, end)
	}
	return data[m.Ref.Off:end:end], nil
}

func (r *bodyReader) entry(index uint64) ([]byte, error) {
	r.mu.Lock()
	for _, e := range r.cache {
		if e.index == index && e.data != nil {
			r.mu.Unlock()
			return e.data, nil
		}
	}
	r.mu.Unlock()
	var l raft.Log
	if err := r.log.GetLog(index, &l); err != nil {
		return nil, fmt.Errorf("%w: log entry %d: %w", ErrBodyUnavailable, index, err)
	}
	if l.Type != raft.LogCommand || l.Index != index {
		return nil, fmt.Errorf("%w: log entry %d is a %s entry with index %d", ErrBodyUnavailable, index, l.Type, l.Index)
	}
	r.mu.Lock()
	r.cache[r.next] = cachedEntry{index: index, data: l.Data}
	r.next = (r.next + 1) % len(r.cache)
	r.mu.Unlock()
	return l.Data, nil
}

// LogFloor returns the lowest Raft log index that a queued message's body
// is read from, or 0 if there is none: log compaction must keep that entry
// and those after it. First it moves into memory the bodies of messages
// published keep or more entries before the last applied one, so that a
// message left in a queue does not hold back compaction for ever.
//
// Raft calls it before each compaction, on the goroutine that compacts.
// Each queue counts its messages per log entry (queue.Queue.LowestLogRef),
// so the floor costs one look per queue, not a walk over the messages,
// under the state machine's lock; only a queue that holds old bodies is
// walked, and only until they are all found.
func (f *FSM) LogFloor(keep uint64) uint64 {
	if f.bodies == nil {
		return 0
	}
	if applied := f.AppliedIndex(); applied > keep {
		f.moveOldBodies(applied - keep)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// A pin is taken under the read lock, so it is either seen here or
	// taken after this, on messages whose entries are at or above the floor.
	floor := f.bodies.lowestPin()
	for _, q := range f.s.queues {
		// Entry 0 does not exist (bodies are kept only for entries applied
		// with an index), and 0 means "no floor".
		if idx, ok := q.LowestLogRef(); ok && idx > 0 && (floor == 0 || idx < floor) {
			floor = idx
		}
	}
	return floor
}

// moveOldBodies moves into memory the bodies of messages whose log entries
// are at or below limit, at most maxMovedPerFloor bytes of them per call.
// It works in three phases: collect under the read lock, read the bodies
// with no lock (their entries stay until LogFloor returns), and swap the
// copies in under the write lock.
func (f *FSM) moveOldBodies(limit uint64) {
	type held struct {
		queue string
		m     *queue.Message
	}
	var old []held
	var size int64
	f.mu.RLock()
	s := f.s
	for name, q := range s.queues {
		want := q.LogRefsAtOrBelow(limit)
		if want == 0 {
			continue
		}
		found := 0
		q.Ascend(0, func(m *queue.Message) bool {
			if m.Ref.Len > 0 && m.Ref.Index <= limit {
				old = append(old, held{name, m})
				size += m.Size()
				found++
			}
			return size < maxMovedPerFloor && found < want
		})
		if size >= maxMovedPerFloor {
			break // the rest at the next compaction; the floor keeps their entries meanwhile
		}
	}
	f.mu.RUnlock()
	if len(old) == 0 {
		return
	}

	// A fanout's copies of one message share one copy of its body.
	copies := make(map[queue.BodyRef][]byte)
	moved := make([]*queue.Message, len(old))
	for i, h := range old {
		b, ok := copies[h.m.Ref]
		if !ok {
			body, err := f.bodies.body(h.m)
			if err != nil {
				continue // it keeps its reference, and the floor keeps its entry
			}
			b = bytes.Clone(body)
			copies[h.m.Ref] = b
		}
		c := *h.m
		c.Body, c.Ref = b, queue.BodyRef{}
		moved[i] = &c
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.s != s {
		return // a Restore replaced the state: nothing refers to old entries
	}
	for i, h := range old {
		if q, ok := s.queues[h.queue]; ok && moved[i] != nil {
			q.Replace(h.m, moved[i])
		}
	}
}
