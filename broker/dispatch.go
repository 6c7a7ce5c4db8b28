package broker

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raftmq/raftmq/fsm"
	"github.com/raftmq/raftmq/queue"
	"github.com/raftmq/raftmq/wire"
)

// DefaultPrefetch is the prefetch a consumer gets when it asks for 0.
const DefaultPrefetch = 256

// MaxPrefetch bounds the prefetch a consumer may ask for.
const MaxPrefetch = 1 << 16

// The dispatcher hands ready messages to consumers on the leader. Which
// consumer holds which message is leader memory, not log state: after a
// leader change every unsettled message is ready again.
//
// A message is ready when it is unsettled in the state machine, not held by a
// consumer, and either at or after the queue's cursor (never offered by this
// leader) or in the redeliver set (given back by a consumer). The cursor only
// moves forward, so a pass costs what it delivers, not the queue's depth.
//
// Lock order: dispatcher.mu, then the FSM's read lock (View), then the
// FSM's pin lock (View.PinLog); bodies are read from the Raft log (the log
// cache's and the store's locks) under dispatcher.mu alone. The FSM's
// notify callback takes only dirtyMu, never mu, so Raft's apply goroutine
// never waits for a dispatch pass.
type dispatcher struct {
	b *Broker

	mu        sync.Mutex
	active    bool
	queues    map[string]*qstate
	consumers map[uint64]*consumer
	nextID    uint64
	// gainSeq holds, per queue, the next sequence number at the moment this
	// node became leader: messages below it may have been delivered by a
	// former leader, so they are marked redelivered.
	gainSeq map[string]uint64

	// withState holds the names of d.queues (the queues a pass would look
	// at), copied on every change under mu, so markDirty can skip the
	// others without taking mu: a publish to a queue nobody consumes on
	// this leader wakes no dispatch pass.
	withState atomic.Pointer[map[string]struct{}]

	dirtyMu  sync.Mutex
	dirty    map[string]struct{}
	dirtyAll bool
	wake     chan struct{}
}

type consumer struct {
	id       uint64
	tag      string
	queue    string
	prefetch int
	conn     *conn
	held     map[uint64]struct{} // seqs delivered and not yet settled or returned
}

type qstate struct {
	name      string
	consumers []*consumer
	rr        int
	inflight  map[uint64]*consumer
	redeliver []uint64 // sorted
	cursor    uint64
}

func newDispatcher(b *Broker) *dispatcher {
	return &dispatcher{
		b:         b,
		queues:    make(map[string]*qstate),
		consumers: make(map[uint64]*consumer),
		gainSeq:   make(map[string]uint64),
		dirty:     make(map[string]struct{}),
		wake:      make(chan struct{}, 1),
	}
}

// markDirty is the FSM's notify callback: it never blocks. A queue
// without dispatch state is skipped: a pass would not look at it. (addConsumer
// creates the state before its own markDirty, so a message applied before that
// is seen by that pass, and one applied after it marks the queue.)
func (d *dispatcher) markDirty(name string) {
	if name != "" {
		m := d.withState.Load()
		if m == nil {
			return
		}
		if _, ok := (*m)[name]; !ok {
			return
		}
	}
	d.dirtyMu.Lock()
	if name == "" {
		d.dirtyAll = true
	} else {
		d.dirty[name] = struct{}{}
	}
	d.dirtyMu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// activate is called when this node becomes leader, after the barrier.
func (d *dispatcher) activate() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active = true
	d.queues = make(map[string]*qstate)
	d.queuesChanged()
	d.consumers = make(map[uint64]*consumer)
	d.gainSeq = make(map[string]uint64)
	d.b.fsm.View(func(v fsm.View) {
		for _, name := range v.QueueNames() {
			q, _ := v.Queue(name)
			d.gainSeq[name] = q.NextSeq()
		}
	})
}

// deactivate forgets every consumer: the node lost leadership.
func (d *dispatcher) deactivate() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active = false
	d.queues = make(map[string]*qstate)
	d.queuesChanged()
	d.consumers = make(map[uint64]*consumer)
}

// addConsumer registers a consumer on a queue of this leader. registered is
// called with the new consumer's ID before any delivery to it can be sent,
// so the client learns the ID first.
func (d *dispatcher) addConsumer(c *conn, queueName, tag string, prefetch uint32, registered func(id uint64)) (uint64, error) {
	p := int(prefetch)
	if p == 0 {
		p = DefaultPrefetch
	}
	if p > MaxPrefetch {
		return 0, wire.Errorf(wire.CodeInvalidArgument, "prefetch %d is above the maximum %d", prefetch, MaxPrefetch)
	}
	var exists bool
	d.b.fsm.View(func(v fsm.View) { _, exists = v.Queue(queueName) })
	if !exists {
		return 0, wire.Errorf(wire.CodeNotFound, "queue %q not found", queueName)
	}
	d.mu.Lock()
	if !d.active {
		d.mu.Unlock()
		return 0, errNotLeader
	}
	d.nextID++
	cs := &consumer{id: d.nextID, tag: tag, queue: queueName, prefetch: p, conn: c, held: make(map[uint64]struct{})}
	d.consumers[cs.id] = cs
	qs := d.queue(queueName)
	qs.consumers = append(qs.consumers, cs)
	registered(cs.id)
	d.mu.Unlock()
	d.markDirty(queueName)
	return cs.id, nil
}

// queue returns the queue's dispatch state, creating it. Caller holds mu.
func (d *dispatcher) queue(name string) *qstate {
	qs, ok := d.queues[name]
	if !ok {
		qs = &qstate{name: name, inflight: make(map[uint64]*consumer)}
		d.queues[name] = qs
		d.queuesChanged()
	}
	return qs
}

// queuesChanged publishes the names of d.queues for markDirty. Caller
// holds mu.
func (d *dispatcher) queuesChanged() {
	names := make(map[string]struct{}, len(d.queues))
	for n := range d.queues {
		names[n] = struct{}{}
	}
	d.withState.Store(&names)
}

// removeConsumer unregisters a consumer and returns the seqs it held, which
// the caller gives back through Raft.
func (d *dispatcher) removeConsumer(id uint64) (queueName string, held []uint64, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	cs, ok := d.consumers[id]
	if !ok {
		return "", nil, false
	}
	delete(d.consumers, id)
	qs := d.queues[cs.queue]
	if qs != nil {
		qs.consumers = slices.DeleteFunc(qs.consumers, func(x *consumer) bool { return x == cs })
	}
	for seq := range cs.held {
		held = append(held, seq)
	}
	slices.Sort(held)
	return cs.queue, held, true
}

// settled is called when a client acknowledges seqs: the holder's credit is
// freed at once (the settle is on its way through Raft; until it commits the
// message is neither held nor ready, so it is not offered again).
func (d *dispatcher) settled(queueName string, seqs []uint64) {
	d.mu.Lock()
	if qs := d.queues[queueName]; qs != nil {
		for _, seq := range seqs {
			if cs := qs.inflight[seq]; cs != nil {
				delete(qs.inflight, seq)
				delete(cs.held, seq)
			}
		}
	}
	d.mu.Unlock()
	d.markDirty(queueName)
}

// giveBack makes seqs ready again (after a return was applied, or after a
// settle failed). Messages that no longer exist are skipped when offered.
func (d *dispatcher) giveBack(queueName string, seqs []uint64) {
	d.mu.Lock()
	if qs := d.queues[queueName]; qs != nil && d.active {
		for _, seq := range seqs {
			if cs := qs.inflight[seq]; cs != nil {
				delete(qs.inflight, seq)
				delete(cs.held, seq)
			}
			if i, found := slices.BinarySearch(qs.redeliver, seq); !found && seq < qs.cursor {
				qs.redeliver = slices.Insert(qs.redeliver, i, seq)
			}
		}
	}
	d.mu.Unlock()
	d.markDirty(queueName)
}

// consumerCount returns the number of consumers on a queue and how many
// messages they hold.
func (d *dispatcher) consumerCount(queueName string) (consumers, unacked int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	qs := d.queues[queueName]
	if qs == nil {
		return 0, 0
	}
	return len(qs.consumers), len(qs.inflight)
}

// run dispatches until stop is closed.
func (d *dispatcher) run(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-d.wake:
		}
		d.dirtyMu.Lock()
		all := d.dirtyAll
		names := make([]string, 0, len(d.dirty))
		for n := range d.dirty {
			names = append(names, n)
		}
		clear(d.dirty)
		d.dirtyAll = false
		d.dirtyMu.Unlock()
		d.pass(names, all)
	}
}

type outgoing struct {
	cs  *consumer
	qs  *qstate
	msg []wire.Delivery
	// src holds the message of each delivery in msg; a delivery whose
	// message keeps its body in the Raft log gets the body from
	// fillBodies, after the FSM's lock is released.
	src []*queue.Message
}

// pass offers ready messages of the named queues (or all) to their
// consumers, then sends the deliveries.
func (d *dispatcher) pass(names []string, all bool) {
	var sends []outgoing
	var cancelled []*consumer
	d.mu.Lock()
	if !d.active {
		d.mu.Unlock()
		return
	}
	if all {
		names = names[:0]
		for n := range d.queues {
			names = append(names, n)
		}
	}
	now := time.Now().UnixNano()
	unpin := func() {}
	defer func() { unpin() }() // also on a panic: a pin left behind would hold back log compaction for good
	d.b.fsm.View(func(v fsm.View) {
		defer func() { unpin = pinBodies(v, sends) }()
		for _, name := range names {
			qs := d.queues[name]
			if qs == nil {
				continue
			}
			q, ok := v.Queue(name)
			if !ok {
				// The queue was deleted: its consumers are cancelled.
				for _, cs := range qs.consumers {
					delete(d.consumers, cs.id)
					cancelled = append(cancelled, cs)
				}
				delete(d.queues, name)
				d.queuesChanged()
				continue
			}
			sends = d.offer(qs, q, now, d.gainSeq[name], sends)
		}
	})
	sends = d.fillBodies(sends)
	unpin() // once only: the deferred call then does nothing
	d.mu.Unlock()
	for _, cs := range cancelled {
		cs.conn.send(wire.TCancelled, 0, &wire.Cancelled{ConsumerID: cs.id, Reason: "queue deleted"})
	}
	for _, o := range sends {
		o.cs.conn.send(wire.TDeliver, 0, &wire.Deliver{ConsumerID: o.cs.id, Deliveries: o.msg})
		d.b.metrics.delivered.Add(float64(len(o.msg)))
	}
}

// pinBodies keeps the Raft log entries that the bodies of sends are in
// from being compacted until the returned func is called (see
// fsm.View.PinLog). Caller holds the FSM's read lock, through v.
func pinBodies(v fsm.View, sends []outgoing) (unpin func()) {
	var lowest uint64
	for _, o := range sends {
		for _, m := range o.src {
			if m.Ref.Len > 0 && (lowest == 0 || m.Ref.Index < lowest) {
				lowest = m.Ref.Index
			}
		}
	}
	if lowest == 0 {
		return func() {}
	}
	return v.PinLog(lowest)
}

// fillBodies reads back from the Raft log the bodies that deliveries are
// still missing, without the FSM's lock: a read that misses the log cache
// goes to the disk, and Apply must not wait for it. A delivery whose body
// cannot be read (only a log store that lost an entry gets there) is taken
// out and its message goes back to the head of its queue's line, for the
// next pass. Caller holds mu and has pinned the entries (pinBodies).
func (d *dispatcher) fillBodies(sends []outgoing) []outgoing {
	kept := sends[:0]
	for _, o := range sends {
		n := 0
		for i, m := range o.src {
			dl := o.msg[i]
			if m.Ref.Len > 0 {
				body, err := d.b.fsm.Body(m)
				if err != nil {
					d.b.log.Error("message body unreadable: delivery held back", "queue", o.qs.name, "seq", m.Seq, "err", err)
					delete(o.cs.held, m.Seq)
					delete(o.qs.inflight, m.Seq)
					if j, found := slices.BinarySearch(o.qs.redeliver, m.Seq); !found {
						o.qs.redeliver = slices.Insert(o.qs.redeliver, j, m.Seq)
					}
					continue
				}
				dl.Body = body
			}
			o.msg[n], o.src[n] = dl, m
			n++
		}
		if n > 0 {
			o.msg, o.src = o.msg[:n], o.src[:n]
			kept = append(kept, o)
		}
	}
	return kept
}

// offer hands one queue's ready messages to consumers with credit, round
// robin. Deliveries of bodies kept in the Raft log leave without them
// (fillBodies adds them). Caller holds mu and the FSM's read lock.
func (d *dispatcher) offer(qs *qstate, q *queue.Queue, now int64, gainSeq uint64, sends []outgoing) []outgoing {
	// Forget deliveries whose message is gone (settled through another
	// path, expired, purged): otherwise they would hold credit forever.
	for seq, cs := range qs.inflight {
		if _, ok := q.Get(seq); !ok {
			delete(qs.inflight, seq)
			delete(cs.held, seq)
		}
	}
	credit := 0
	for _, cs := range qs.consumers {
		credit += max(0, cs.prefetch-len(cs.held))
	}
	if credit == 0 {
		return sends
	}
	batches := make(map[*consumer]*outgoing)
	give := func(m *queue.Message) bool {
		cs := d.nextConsumer(qs)
		if cs == nil {
			return false
		}
		cs.held[m.Seq] = struct{}{}
		qs.inflight[m.Seq] = cs
		o := batches[cs]
		if o == nil {
			o = &outgoing{cs: cs, qs: qs}
			batches[cs] = o
		}
		o.msg = append(o.msg, toDelivery(qs.name, m, m.Redelivered || m.Seq < gainSeq))
		o.src = append(o.src, m)
		credit--
		return credit > 0
	}
	// Given-back messages first: they keep their place at the head.
	for len(qs.redeliver) > 0 && credit > 0 {
		seq := qs.redeliver[0]
		qs.redeliver = qs.redeliver[1:]
		if m, ok := q.Get(seq); ok && qs.inflight[seq] == nil {
			give(m)
		}
	}
	if credit > 0 {
		q.Ascend(qs.cursor, func(m *queue.Message) bool {
			qs.cursor = m.Seq + 1
			if m.ExpiresAt > 0 && m.ExpiresAt <= now {
				return true // the next tick expires it
			}
			return give(m)
		})
	}
	for _, cs := range qs.consumers {
		if o := batches[cs]; o != nil {
			sends = append(sends, *o)
		}
	}
	return sends
}

// nextConsumer picks the next consumer with credit, round robin.
func (d *dispatcher) nextConsumer(qs *qstate) *consumer {
	n := len(qs.consumers)
	for i := 0; i < n; i++ {
		cs := qs.consumers[(qs.rr+i)%n]
		if len(cs.held) < cs.prefetch {
			qs.rr = (qs.rr + i + 1) % n
			return cs
		}
	}
	return nil
}

func toDelivery(queueName string, m *queue.Message, redelivered bool) wire.Delivery {
	dl := wire.Delivery{
		Queue:         queueName,
		Seq:           m.Seq,
		ID:            m.ID,
		Exchange:      m.Exchange,
		RoutingKey:    m.RoutingKey,
		Headers:       m.Headers,
		Body:          m.Body, // nil for a body kept in the Raft log: fillBodies reads it
		PublishedAt:   m.PublishedAt,
		Redelivered:   redelivered,
		DeliveryCount: m.DeliveryCount,
	}
	for _, x := range m.Deaths {
		dl.Deaths = append(dl.Deaths, wire.Death{
			Queue: x.Queue, Reason: string(x.Reason), Count: x.Count, Time: x.Time,
			Exchange: x.Exchange, RoutingKey: x.RoutingKey,
		})
	}
	return dl
}
