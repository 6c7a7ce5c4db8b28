package broker

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/fsm"
	"github.com/raftmq/raftmq/wire"
)

// flakyLog is a Raft log in memory whose entries can be made unreadable.
type flakyLog struct {
	mu     sync.Mutex
	ents   map[uint64]raft.Log
	broken map[uint64]bool
}

func (l *flakyLog) GetLog(index uint64, out *raft.Log) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.ents[index]
	if !ok || l.broken[index] {
		return raft.ErrLogNotFound
	}
	*out = e
	return nil
}

// Bodies kept in the Raft log are read after the FSM's lock is released,
// from pinned entries. A delivery whose body cannot be read is taken out
// and its message waits at the head of the line; once the body can be read,
// the next pass delivers it, and nothing is skipped.
func TestDispatchHoldsBackAMessageWhoseBodyIsUnreadable(t *testing.T) {
	log := &flakyLog{ents: map[uint64]raft.Log{}, broken: map[uint64]bool{}}
	f := fsm.New()
	f.UseLog(log)
	var index uint64
	apply := func(op fsm.Op, body any) {
		t.Helper()
		index++
		e := raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: fsm.MustEncode(op, body)}
		log.mu.Lock()
		log.ents[index] = e
		log.mu.Unlock()
		if r := f.Apply(&e).(*fsm.Result); r.Err != nil {
			t.Fatalf("%s: %v", op, r.Err)
		}
	}
	bodyOf := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i)}, 1024) }
	apply(fsm.OpDeclareQueue, &fsm.DeclareQueue{Name: "q"})
	entryOf := map[int]uint64{}
	for i := range 3 {
		apply(fsm.OpPublish, &fsm.Publish{Time: 1, Messages: []fsm.PublishMessage{{ID: fmt.Sprint(i), RoutingKey: "q", Body: bodyOf(i)}}})
		entryOf[i] = index
	}

	d := newDispatcher(&Broker{log: slog.New(slog.NewTextHandler(io.Discard, nil)), fsm: f})
	cs := &consumer{id: 1, queue: "q", prefetch: 10, held: map[uint64]struct{}{}}
	qs := d.queue("q")
	qs.consumers = []*consumer{cs}
	// pass does what dispatcher.pass does, short of sending.
	pass := func() []wire.Delivery {
		t.Helper()
		var sends []outgoing
		var unpin func()
		f.View(func(v fsm.View) {
			q, _ := v.Queue("q")
			sends = d.offer(qs, q, 0, 0, nil)
			unpin = pinBodies(v, sends)
		})
		if floor := f.LogFloor(1 << 20); len(sends) > 0 && floor > entryOf[0] {
			t.Fatalf("log floor %d while the pass's entries from %d are pinned", floor, entryOf[0])
		}
		sends = d.fillBodies(sends)
		unpin()
		var out []wire.Delivery
		for _, o := range sends {
			out = append(out, o.msg...)
		}
		for _, dl := range out {
			var i int
			fmt.Sscan(dl.ID, &i)
			if !bytes.Equal(dl.Body, bodyOf(i)) {
				t.Fatalf("message %s: wrong body", dl.ID)
			}
		}
		return out
	}

	log.broken[entryOf[1]] = true
	got := pass()
	if len(got) != 2 || got[0].ID != "0" || got[1].ID != "2" {
		t.Fatalf("first pass delivered %v, want messages 0 and 2", ids(got))
	}
	if len(cs.held) != 2 || len(qs.redeliver) != 1 || f.BodyReadErrors() != 1 {
		t.Fatalf("consumer holds %d, %d waiting, body read errors %d; want 2, 1 and 1", len(cs.held), len(qs.redeliver), f.BodyReadErrors())
	}
	if got := pass(); len(got) != 0 || len(qs.redeliver) != 1 {
		t.Fatalf("a pass with the body still unreadable delivered %v, %d waiting", ids(got), len(qs.redeliver))
	}
	log.broken[entryOf[1]] = false
	if got := pass(); len(got) != 1 || got[0].ID != "1" || len(qs.redeliver) != 0 {
		t.Fatalf("after the log healed, delivered %v, %d waiting; want message 1", ids(got), len(qs.redeliver))
	}
	if len(cs.held) != 3 {
		t.Fatalf("consumer holds %d messages, want 3", len(cs.held))
	}
	if f.LogFloor(1<<20) != entryOf[0] {
		t.Fatalf("after the passes, the floor is not the oldest message's entry")
	}
}

func ids(ds []wire.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}
