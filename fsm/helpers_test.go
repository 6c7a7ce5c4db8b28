package fsm

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/exchange"
	"github.com/raftmq/raftmq/queue"
)

// applier feeds commands to an FSM as Raft would, with increasing indexes.
type applier struct {
	t     testing.TB
	f     *FSM
	index uint64
	log   *memLog // the Raft log the FSM reads bodies from; nil: bodies in memory
}

// newApplier returns an applier whose FSM keeps bodies in its log, as a
// node's does by default.
func newApplier(t testing.TB) *applier {
	a := &applier{t: t, f: New(), log: newMemLog()}
	a.f.UseLog(a.log)
	return a
}

// newMemApplier returns an applier whose FSM keeps every body in memory.
func newMemApplier(t testing.TB) *applier { return &applier{t: t, f: New()} }

// restored returns an applier, with a log of its own, for an FSM restored
// from snapshot snap, that goes on at index.
func restored(t testing.TB, snap []byte, index uint64) (*applier, error) {
	a := newApplier(t)
	a.index = index
	return a, a.f.Restore(io.NopCloser(bytes.NewReader(snap)))
}

// memLog is a Raft log in memory, as far as the FSM reads it.
type memLog struct {
	mu   sync.Mutex
	ents map[uint64]raft.Log
}

func newMemLog() *memLog { return &memLog{ents: make(map[uint64]raft.Log)} }

func (l *memLog) store(e *raft.Log) {
	l.mu.Lock()
	l.ents[e.Index] = *e
	l.mu.Unlock()
}

// GetLog implements LogReader.
func (l *memLog) GetLog(index uint64, out *raft.Log) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.ents[index]
	if !ok {
		return raft.ErrLogNotFound
	}
	*out = e
	return nil
}

// compactBelow deletes every entry before index, as a compaction would.
func (l *memLog) compactBelow(index uint64) {
	l.mu.Lock()
	for i := range l.ents {
		if i < index {
			delete(l.ents, i)
		}
	}
	l.mu.Unlock()
}

// compact asks the FSM for its floor, keeping entries published keep or
// fewer entries ago, and deletes everything below it (everything, with no
// floor), which is more than Raft's compaction ever deletes.
func (a *applier) compact(keep uint64) uint64 {
	floor := a.f.LogFloor(keep)
	if a.log != nil {
		if floor == 0 {
			a.log.compactBelow(a.index + 1)
		} else {
			a.log.compactBelow(floor)
		}
	}
	return floor
}

func (a *applier) apply(op Op, body any) *Result {
	a.t.Helper()
	data, err := Encode(op, body)
	if err != nil {
		a.t.Fatalf("encode %s: %v", op, err)
	}
	return a.raw(data)
}

func (a *applier) raw(data []byte) *Result {
	a.t.Helper()
	a.index++
	e := &raft.Log{Index: a.index, Term: 1, Type: raft.LogCommand, Data: data}
	if a.log != nil {
		a.log.store(e)
	}
	res, ok := a.f.Apply(e).(*Result)
	if !ok {
		a.t.Fatalf("apply returned %T", res)
	}
	return res
}

func (a *applier) ok(op Op, body any) *Result {
	a.t.Helper()
	r := a.apply(op, body)
	if r.Err != nil {
		a.t.Fatalf("%s: %v", op, r.Err)
	}
	return r
}

func (a *applier) declareQueue(name string, args queue.Args) {
	a.t.Helper()
	a.ok(OpDeclareQueue, &DeclareQueue{Name: name, Args: args})
}

func (a *applier) declareExchange(name string, kind exchange.Kind) {
	a.t.Helper()
	a.ok(OpDeclareExchange, &DeclareExchange{Exchange: exchange.Exchange{Name: name, Kind: kind}})
}

func (a *applier) bind(src, dst, key string) {
	a.t.Helper()
	a.ok(OpBind, &Bind{Binding: exchange.Binding{Source: src, Dest: dst, Key: key}})
}

func (a *applier) publish(now int64, msgs ...PublishMessage) []MessageResult {
	a.t.Helper()
	return a.ok(OpPublish, &Publish{Time: now, Messages: msgs}).Messages
}

// messages returns a copy of a queue's messages in order, each with its
// body in Body wherever the FSM keeps it.
func (a *applier) messages(name string) []queue.Message {
	var out []queue.Message
	a.f.View(func(v View) {
		q, ok := v.Queue(name)
		if !ok {
			return
		}
		q.Ascend(0, func(m *queue.Message) bool {
			c := *m
			body, err := v.Body(m)
			if err != nil {
				a.t.Errorf("queue %s message %d: %v", name, m.Seq, err)
			}
			c.Body, c.Ref = body, queue.BodyRef{}
			out = append(out, c)
			return true
		})
	})
	return out
}

// snapshotBytes persists a snapshot into memory.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	s, err := f.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	sink := &memSink{}
	if err := s.Persist(sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	s.Release()
	return sink.Bytes()
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

// discardSink counts bytes and keeps none of them.
type discardSink struct{ n int64 }

func (s *discardSink) Write(p []byte) (int, error) { s.n += int64(len(p)); return len(p), nil }
func (s *discardSink) ID() string                  { return "discard" }
func (s *discardSink) Cancel() error               { return nil }
func (s *discardSink) Close() error                { return nil }
