package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/raftmq/raftmq/queue"
)

// body is message i's body: big enough to stay in the log.
func body(i int) []byte {
	return bytes.Repeat([]byte(fmt.Sprintf("%04d", i)), 256)
}

// publishEach publishes n messages to queue "q", one command (one log
// entry) each, with the bodies body(0)..body(n-1).
func publishEach(a *applier, n int) {
	for i := range n {
		a.publish(1, PublishMessage{ID: fmt.Sprint(i), RoutingKey: "q", Body: body(i)})
	}
}

// placesAndBodies checks every message's body and counts where they are.
func placesAndBodies(t *testing.T, a *applier) (inMemory, inLog int) {
	t.Helper()
	a.f.View(func(v View) {
		q, _ := v.Queue("q")
		q.Ascend(0, func(m *queue.Message) bool {
			b, err := v.Body(m)
			if err != nil {
				t.Fatalf("message %d: %v", m.Seq, err)
			}
			if !bytes.Equal(b, body(int(m.Seq-1))) {
				t.Fatalf("message %d: wrong body %.8q", m.Seq, b)
			}
			if m.Ref.Len > 0 {
				inLog++
			} else {
				inMemory++
			}
			return true
		})
	})
	return inMemory, inLog
}

func TestBodiesStayInTheLogAndSmallOnesInMemory(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{})
	publishEach(a, 3)
	a.publish(1, PublishMessage{ID: "small", RoutingKey: "q", Body: make([]byte, minLogBody-1)})
	msgs := a.messages("q")
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 4", len(msgs))
	}
	var inLog int
	a.f.View(func(v View) {
		q, _ := v.Queue("q")
		q.Ascend(0, func(m *queue.Message) bool {
			if m.Ref.Len > 0 {
				inLog++
				if m.Body != nil {
					t.Errorf("message %d keeps both a reference and a body", m.Seq)
				}
			}
			return true
		})
		if q.Bytes() != 3*1024+minLogBody-1 {
			t.Errorf("queue bytes %d, want %d", q.Bytes(), 3*1024+minLogBody-1)
		}
	})
	if inLog != 3 {
		t.Fatalf("%d bodies in the log, want the 3 large ones", inLog)
	}
	for i := range 3 {
		if !bytes.Equal(msgs[i].Body, body(i)) {
			t.Fatalf("message %d: wrong body", i)
		}
	}
}

func TestLogFloorMovesOldBodiesAStepAtATime(t *testing.T) {
	defer func(old int64) { maxMovedPerFloor = old }(maxMovedPerFloor)
	maxMovedPerFloor = 3 * 1024 // three bodies per compaction

	a := newApplier(t)
	a.declareQueue("q", queue.Args{})
	publishEach(a, 10)
	first := a.index - 9 // the entry of the first message
	if inMemory, inLog := placesAndBodies(t, a); inMemory != 0 || inLog != 10 {
		t.Fatalf("before: %d in memory, %d in the log; want 0 and 10", inMemory, inLog)
	}
	for step := 1; step <= 4; step++ {
		floor := a.compact(0) // every message is old enough to move
		inMemory, inLog := placesAndBodies(t, a)
		wantMem := min(10, 3*step)
		if inMemory != wantMem || inLog != 10-wantMem {
			t.Fatalf("after step %d: %d in memory, %d in the log; want %d and %d", step, inMemory, inLog, wantMem, 10-wantMem)
		}
		wantFloor := first + uint64(wantMem)
		if wantMem == 10 {
			wantFloor = 0
		}
		if floor != wantFloor {
			t.Fatalf("after step %d: floor %d, want %d", step, floor, wantFloor)
		}
	}
}

func TestLogFloorKeepsRecentBodiesInTheLog(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{})
	publishEach(a, 10)
	// Keep the last 4 entries' bodies in the log: messages 6..9.
	floor := a.compact(4)
	inMemory, inLog := placesAndBodies(t, a)
	if inMemory != 6 || inLog != 4 {
		t.Fatalf("%d in memory, %d in the log; want 6 and 4", inMemory, inLog)
	}
	if want := a.index - 3; floor != want {
		t.Fatalf("floor %d, want %d", floor, want)
	}
	// A fanout's copies of one message share its reference, and one copy
	// of the body once moved.
	a.declareExchange("fan", "fanout")
	a.declareQueue("q2", queue.Args{})
	a.bind("fan", "q", "")
	a.bind("fan", "q2", "")
	a.publish(1, PublishMessage{ID: "f", Exchange: "fan", Body: body(10)})
	a.compact(0)
	var bodies [][]byte
	a.f.View(func(v View) {
		for _, name := range []string{"q", "q2"} {
			q, _ := v.Queue(name)
			q.Ascend(0, func(m *queue.Message) bool {
				if m.ID == "f" {
					if m.Ref.Len > 0 {
						t.Errorf("queue %s: the fanout copy was not moved", name)
					}
					bodies = append(bodies, m.Body)
				}
				return true
			})
		}
	})
	if len(bodies) != 2 || !bytes.Equal(bodies[0], body(10)) || &bodies[0][0] != &bodies[1][0] {
		t.Fatalf("the fanout's two copies do not share one moved body")
	}
}

func TestUnreadableBodyIsAnError(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{})
	publishEach(a, 2)
	a.log.compactBelow(a.index + 1) // the log lost its entries behind the FSM's back
	var err error
	a.f.View(func(v View) {
		q, _ := v.Queue("q")
		m, _ := q.Get(1)
		_, err = v.Body(m)
	})
	if !errors.Is(err, ErrBodyUnavailable) {
		t.Fatalf("reading a body whose entry is gone: %v, want ErrBodyUnavailable", err)
	}
	if n := a.f.BodyReadErrors(); n != 1 {
		t.Fatalf("BodyReadErrors = %d, want 1", n)
	}
	s, _ := a.f.Snapshot()
	sink := &memSink{}
	if err := s.Persist(sink); !errors.Is(err, ErrBodyUnavailable) || !sink.cancelled {
		t.Fatalf("persisting a snapshot with an unreadable body: %v (cancelled %v), want ErrBodyUnavailable and a cancelled sink", err, sink.cancelled)
	}
}

// A pin taken through a View holds the log floor at the pinned entry until
// it is released, even once no message refers to that entry any more.
func TestPinLogHoldsTheFloor(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{})
	publishEach(a, 10)
	first := a.index - 9
	var unpin func()
	a.f.View(func(v View) {
		q, _ := v.Queue("q")
		m, _ := q.Get(1)
		unpin = v.PinLog(m.Ref.Index)
	})
	a.ok(OpSettle, &Settle{Entries: []QueueSeqs{{Queue: "q", Seqs: []uint64{1, 2, 3, 4, 5}}}})
	if floor := a.f.LogFloor(1 << 20); floor != first {
		t.Fatalf("pinned floor %d, want the pinned entry %d", floor, first)
	}
	unpin()
	unpin() // a second call does nothing
	if floor := a.f.LogFloor(1 << 20); floor != first+5 {
		t.Fatalf("floor after unpin %d, want %d (the oldest message left)", floor, first+5)
	}
	// Read after the View ends, from the pinned entry.
	var m *queue.Message
	a.f.View(func(v View) {
		q, _ := v.Queue("q")
		m, _ = q.Get(6)
		unpin = v.PinLog(m.Ref.Index)
	})
	defer unpin()
	if b, err := a.f.Body(m); err != nil || !bytes.Equal(b, body(5)) {
		t.Fatalf("FSM.Body after the View: %v", err)
	}
}
