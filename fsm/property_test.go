package fsm

import (
	"bytes"
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/raftmq/raftmq/exchange"
	"github.com/raftmq/raftmq/queue"
)

// cmd is one generated command.
type cmd struct {
	op   Op
	body any
}

var (
	propQueues    = []string{"q0", "q1", "q2"}
	propExchanges = []string{"direct", "topic", "fanout"}
)

// genCommand draws a command over a small fixed vocabulary, so that
// sequences hit the same queues and IDs often.
func genCommand(t *rapid.T, clock *int64) cmd {
	*clock += rapid.Int64Range(0, 3*sec).Draw(t, "dt")
	now := *clock
	qn := rapid.SampledFrom(propQueues).Draw(t, "queue")
	switch rapid.IntRange(0, 9).Draw(t, "kind") {
	case 0:
		return cmd{OpDeclareQueue, &DeclareQueue{Name: qn, Args: queue.Args{
			MaxLength:          rapid.Int64Range(0, 5).Draw(t, "maxlen"),
			MessageTTL:         rapid.SampledFrom([]int64{0, 1000, 5000}).Draw(t, "ttl"),
			Overflow:           rapid.SampledFrom([]queue.Overflow{queue.DropHead, queue.RejectPublish}).Draw(t, "overflow"),
			DeadLetterExchange: rapid.SampledFrom([]string{"", "fanout"}).Draw(t, "dlx"),
			DeliveryLimit:      rapid.Int64Range(0, 2).Draw(t, "dlim"),
		}}}
	case 1:
		return cmd{OpDeleteQueue, &DeleteQueue{Name: qn}}
	case 2:
		return cmd{OpPurgeQueue, &PurgeQueue{Name: qn}}
	case 3:
		x := rapid.SampledFrom(propExchanges).Draw(t, "exchange")
		op := OpBind
		if rapid.Bool().Draw(t, "unbind") {
			op = OpUnbind
		}
		return cmd{op, &Bind{Binding: exchange.Binding{Source: x, Dest: qn, Key: rapid.SampledFrom([]string{"a", "a.b", "#", "*.b"}).Draw(t, "key")}}}
	case 4, 5, 6:
		n := rapid.IntRange(1, 5).Draw(t, "n")
		p := &Publish{Time: now}
		for i := 0; i < n; i++ {
			p.Messages = append(p.Messages, PublishMessage{
				ID:         fmt.Sprintf("id%d", rapid.IntRange(0, 30).Draw(t, "id")),
				Exchange:   rapid.SampledFrom(append([]string{""}, propExchanges...)).Draw(t, "pubx"),
				RoutingKey: rapid.SampledFrom([]string{"a", "a.b", "c.b", "q0", "q1", "q2"}).Draw(t, "rk"),
				Body:       genBody(t),
				TTL:        rapid.SampledFrom([]int64{0, 0, 2000}).Draw(t, "mttl"),
				Headers:    map[string]string{"h": rapid.SampledFrom([]string{"1", "2"}).Draw(t, "hv")},
			})
		}
		return cmd{OpPublish, p}
	case 7:
		return cmd{OpSettle, &Settle{Entries: []QueueSeqs{{Queue: qn, Seqs: []uint64{rapid.Uint64Range(1, 20).Draw(t, "seq")}}}}}
	case 8:
		return cmd{OpReturn, &Return{Time: now, Requeue: rapid.Bool().Draw(t, "requeue"), Entries: []QueueSeqs{{Queue: qn, Seqs: []uint64{rapid.Uint64Range(1, 20).Draw(t, "seq")}}}}}
	default:
		return cmd{OpTick, &Tick{Time: now}}
	}
}

// genBody draws a body around the size from which the FSM keeps bodies in
// the log rather than in memory (minLogBody), its content distinct per draw.
func genBody(t *rapid.T) []byte {
	tag := rapid.StringN(0, 8, 8).Draw(t, "body")
	size := rapid.SampledFrom([]int{0, len(tag), minLogBody - 1, minLogBody, 1024, 5000}).Draw(t, "body size")
	if size <= len(tag) {
		return []byte(tag)
	}
	return append([]byte(tag), bytes.Repeat([]byte{byte(size)}, size-len(tag))...)
}

func setupTopology(a *applier) {
	a.declareExchange("direct", exchange.Direct)
	a.declareExchange("topic", exchange.Topic)
	a.declareExchange("fanout", exchange.Fanout)
}

// checkInvariants verifies what must hold after every command.
func checkInvariants(t *rapid.T, f *FSM, settled map[string]map[uint64]bool) {
	var total, totalBytes int64
	f.View(func(v View) {
		for _, name := range v.QueueNames() {
			q, _ := v.Queue(name)
			var n int
			var b int64
			last := uint64(0)
			q.Ascend(0, func(m *queue.Message) bool {
				if m.Seq <= last {
					t.Fatalf("queue %s: seq %d after %d", name, m.Seq, last)
				}
				if m.Seq >= q.NextSeq() {
					t.Fatalf("queue %s: seq %d not below next %d", name, m.Seq, q.NextSeq())
				}
				if settled[name][m.Seq] {
					t.Fatalf("queue %s: message %d is both settled and ready", name, m.Seq)
				}
				last = m.Seq
				n++
				body, err := v.Body(m)
				if err != nil {
					t.Fatalf("queue %s message %d: %v", name, m.Seq, err)
				}
				if int64(len(body)) != m.Size() {
					t.Fatalf("queue %s message %d: body of %d bytes, size %d", name, m.Seq, len(body), m.Size())
				}
				b += int64(len(body))
				return true
			})
			if n != q.Len() || b != q.Bytes() {
				t.Fatalf("queue %s: Len %d Bytes %d, counted %d and %d", name, q.Len(), q.Bytes(), n, b)
			}
			total += int64(n)
			totalBytes += b
		}
	})
	if m, b := f.Totals(); m != total || b != totalBytes {
		t.Fatalf("totals %d/%d, counted %d/%d", m, b, total, totalBytes)
	}
}

// TestPropertyDeterministicAndRestorable applies random command sequences to
// two fresh state machines and to a third that is snapshotted and restored
// midway: all three must end with byte-identical snapshots, and the
// invariants must hold after every command.
func TestPropertyDeterministicAndRestorable(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		// a and c keep bodies in their logs, b in memory; c is also
		// snapshotted and restored on the way; a's and c's logs are
		// compacted at random points down to the floor their FSMs ask for.
		a, b, c := newApplier(t), newMemApplier(t), newApplier(t)
		for _, x := range []*applier{a, b, c} {
			setupTopology(x)
		}
		var clock int64 = sec
		n := rapid.IntRange(1, 60).Draw(rt, "commands")
		cut := rapid.IntRange(0, n).Draw(rt, "snapshot at")
		settled := map[string]map[uint64]bool{}
		for i := 0; i < n; i++ {
			cm := genCommand(rt, &clock)
			data := MustEncode(cm.op, cm.body)
			if i == cut {
				snap := snapshotBytes(t, c.f)
				var err error
				if c, err = restored(t, snap, c.index); err != nil {
					rt.Fatalf("restore: %v", err)
				}
			}
			if rapid.IntRange(0, 9).Draw(rt, "compact") == 0 {
				keep := rapid.Uint64Range(0, 10).Draw(rt, "keep")
				a.compact(keep)
				c.compact(keep)
			}
			// Seqs that exist before a settle must be gone after it (and
			// never come back: seqs only grow).
			var existed []QueueSeqs
			if st, ok := cm.body.(*Settle); ok {
				a.f.View(func(v View) {
					for _, e := range st.Entries {
						if q, ok := v.Queue(e.Queue); ok {
							for _, s := range e.Seqs {
								if _, ok := q.Get(s); ok {
									existed = append(existed, QueueSeqs{Queue: e.Queue, Seqs: []uint64{s}})
								}
							}
						}
					}
				})
			}
			ra, rb, rc := a.raw(data), b.raw(data), c.raw(data)
			if fmt.Sprint(ra) != fmt.Sprint(rb) || fmt.Sprint(ra) != fmt.Sprint(rc) {
				rt.Fatalf("command %d (%s): results differ: %v / %v / %v", i, cm.op, ra, rb, rc)
			}
			switch body := cm.body.(type) {
			case *Settle:
				for _, e := range existed {
					for _, s := range e.Seqs {
						var present bool
						a.f.View(func(v View) {
							if q, ok := v.Queue(e.Queue); ok {
								_, present = q.Get(s)
							}
						})
						if present {
							rt.Fatalf("settled %s/%d is still present", e.Queue, s)
						}
						if settled[e.Queue] == nil {
							settled[e.Queue] = map[uint64]bool{}
						}
						settled[e.Queue][s] = true
					}
				}
			case *DeleteQueue:
				delete(settled, body.Name) // a new queue of that name starts over at seq 1
			}
			checkInvariants(rt, a.f, settled)
			checkInvariants(rt, c.f, settled) // restored midway: its totals count the restored queues
		}
		sa, sb, sc := snapshotBytes(t, a.f), snapshotBytes(t, b.f), snapshotBytes(t, c.f)
		if !bytes.Equal(sa, sb) {
			rt.Fatalf("two fresh state machines diverged")
		}
		if !bytes.Equal(sa, sc) {
			rt.Fatalf("snapshot, restore and continue diverged from never snapshotting")
		}
	})
}

// TestPropertyCountsAddUp checks, without dead-lettering or limits, that the
// messages held equal those enqueued minus those removed.
func TestPropertyCountsAddUp(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		a := newApplier(t)
		setupTopology(a)
		for _, q := range propQueues {
			a.declareQueue(q, queue.Args{})
			a.bind("fanout", q, "")
		}
		var want int64
		var clock int64 = sec
		for i, n := 0, rapid.IntRange(1, 80).Draw(rt, "commands"); i < n; i++ {
			cm := genCommand(rt, &clock)
			switch cm.op {
			case OpDeclareQueue, OpDeleteQueue, OpBind, OpUnbind:
				continue // keep the topology fixed
			}
			if p, ok := cm.body.(*Publish); ok {
				for j := range p.Messages {
					p.Messages[j].TTL = 0
				}
			}
			r := a.raw(MustEncode(cm.op, cm.body))
			switch cm.op {
			case OpPublish:
				for _, m := range r.Messages {
					want += int64(m.Queues)
				}
			case OpSettle, OpPurgeQueue:
				want -= r.Count
			case OpReturn:
				if !cm.body.(*Return).Requeue {
					want -= r.Count
				}
			}
			if got, _ := a.f.Totals(); got != want {
				rt.Fatalf("after %s: %d messages held, want %d", cm.op, got, want)
			}
		}
	})
}
