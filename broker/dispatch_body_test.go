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

// An unreadable body holds back that message and the ones after it; once it
// can be read, the next pass delivers it, in order, and nothing is skipped.
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

	d := newDispatcher(&Broker{log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cs := &consumer{id: 1, queue: "q", prefetch: 10, held: map[uint64]struct{}{}}
	qs := d.queue("q")
	qs.consumers = []*consumer{cs}
	offer := func() []wire.Delivery {
		var out []wire.Delivery
		f.View(func(v fsm.View) {
			q, _ := v.Queue("q")
			for _, o := range d.offer(v, qs, q, 0, 0, nil) {
				out = append(out, o.msg...)
			}
		})
		return out
	}

	log.broken[entryOf[1]] = true
	got := offer()
	if len(got) != 1 || got[0].ID != "0" || !bytes.Equal(got[0].Body, bodyOf(0)) {
		t.Fatalf("first pass delivered %d messages, want only message 0 with its body", len(got))
	}
	if len(cs.held) != 1 || f.BodyReadErrors() != 1 {
		t.Fatalf("consumer holds %d, body read errors %d; want 1 and 1", len(cs.held), f.BodyReadErrors())
	}
	if got := offer(); len(got) != 0 {
		t.Fatalf("a pass with the body still unreadable delivered %d messages", len(got))
	}

	log.broken[entryOf[1]] = false
	got = offer()
	if len(got) != 2 || got[0].ID != "1" || got[1].ID != "2" {
		t.Fatalf("after the log healed, delivered %v, want messages 1 and 2", ids(got))
	}
	for i, dl := range got {
		if !bytes.Equal(dl.Body, bodyOf(i+1)) {
			t.Fatalf("message %s: wrong body", dl.ID)
		}
	}

	// A message given back for redelivery waits at the head of the line
	// the same way. (Message 3, whose entry the reader has not cached.)
	apply(fsm.OpPublish, &fsm.Publish{Time: 1, Messages: []fsm.PublishMessage{{ID: "3", RoutingKey: "q", Body: bodyOf(3)}}})
	seq := got[1].Seq + 1
	qs.cursor = seq + 1 // as if delivered before, and given back
	qs.redeliver = []uint64{seq}
	log.broken[index] = true
	if got := offer(); len(got) != 0 || len(qs.redeliver) != 1 {
		t.Fatalf("redelivery with the body unreadable: delivered %v, %d waiting; want none and 1", ids(got), len(qs.redeliver))
	}
	log.broken[index] = false
	if got := offer(); len(got) != 1 || got[0].Seq != seq || !bytes.Equal(got[0].Body, bodyOf(3)) || len(qs.redeliver) != 0 {
		t.Fatalf("redelivery after the log healed: delivered %v, %d waiting", ids(got), len(qs.redeliver))
	}
}

func ids(ds []wire.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}
