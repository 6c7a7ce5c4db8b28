package fsm

import (
	"bytes"
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
}

func newApplier(t testing.TB) *applier { return &applier{t: t, f: New()} }

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
	res, ok := a.f.Apply(&raft.Log{Index: a.index, Term: 1, Type: raft.LogCommand, Data: data}).(*Result)
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

// messages returns a copy of a queue's messages in order.
func (a *applier) messages(name string) []queue.Message {
	var out []queue.Message
	a.f.View(func(v View) {
		q, ok := v.Queue(name)
		if !ok {
			return
		}
		q.Ascend(0, func(m *queue.Message) bool {
			out = append(out, *m)
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
