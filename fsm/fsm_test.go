package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/exchange"
	"github.com/raftmq/raftmq/queue"
)

const sec = int64(time.Second)

func TestPublishRoutesToEveryBoundQueueOnce(t *testing.T) {
	a := newApplier(t)
	a.declareExchange("events", exchange.Topic)
	a.declareExchange("audit", exchange.Fanout)
	for _, q := range []string{"orders", "all", "log"} {
		a.declareQueue(q, queue.Args{})
	}
	a.bind("events", "orders", "order.*")
	a.bind("events", "all", "#")
	a.ok(OpBind, &Bind{Binding: exchange.Binding{Source: "events", Dest: "audit", DestKind: exchange.ToExchange, Key: "#"}})
	a.bind("audit", "log", "")
	a.bind("audit", "all", "") // a second path to "all": enqueued once

	res := a.publish(sec, PublishMessage{ID: "m1", Exchange: "events", RoutingKey: "order.created", Body: []byte("x")})
	if res[0].Status != Routed || res[0].Queues != 3 {
		t.Fatalf("result = %+v, want routed to 3 queues", res[0])
	}
	for _, q := range []string{"orders", "all", "log"} {
		msgs := a.messages(q)
		if len(msgs) != 1 || msgs[0].ID != "m1" || msgs[0].Seq != 1 || msgs[0].PublishedAt != sec {
			t.Fatalf("queue %s = %+v", q, msgs)
		}
	}
}

func TestPublishOutcomes(t *testing.T) {
	a := newApplier(t)
	a.declareExchange("x", exchange.Direct)
	a.declareQueue("q", queue.Args{MaxLength: 1, Overflow: queue.RejectPublish})
	a.bind("x", "q", "k")
	res := a.publish(sec,
		PublishMessage{ID: "1", Exchange: "x", RoutingKey: "k"},
		PublishMessage{ID: "2", Exchange: "x", RoutingKey: "k"},                     // full: rejected
		PublishMessage{ID: "3", Exchange: "x", RoutingKey: "nope", Mandatory: true}, // unroutable
		PublishMessage{ID: "4", Exchange: "x", RoutingKey: "nope"},                  // dropped
		PublishMessage{ID: "5", Exchange: "missing", RoutingKey: "k"},               // no exchange
		PublishMessage{ID: "1", Exchange: "x", RoutingKey: "k"},                     // duplicate
		PublishMessage{ID: string(make([]byte, 300)), Exchange: "x"},                // bad ID
		PublishMessage{ID: "6", Exchange: "x", RoutingKey: "k", TTL: -1},            // bad TTL
	)
	want := []Status{Routed, Rejected, Unroutable, Dropped, Failed, Duplicate, Failed, Failed}
	for i, w := range want {
		if res[i].Status != w {
			t.Errorf("message %d: status %s, want %s (err %v)", i, res[i].Status, w, res[i].Err)
		}
	}
	if !errors.Is(res[4].Err, ErrNotFound) {
		t.Errorf("missing exchange: err %v, want ErrNotFound", res[4].Err)
	}
	if !errors.Is(res[6].Err, ErrInvalidArgument) || !errors.Is(res[7].Err, ErrInvalidArgument) {
		t.Errorf("invalid messages: errs %v, %v", res[6].Err, res[7].Err)
	}
	// A rejected or unroutable ID is not remembered: a retry may succeed.
	a.ok(OpPurgeQueue, &PurgeQueue{Name: "q"})
	if r := a.publish(2*sec, PublishMessage{ID: "2", Exchange: "x", RoutingKey: "k"}); r[0].Status != Routed {
		t.Fatalf("retry of a rejected publish: %s", r[0].Status)
	}
}

func TestDefaultExchangeRoutesByQueueName(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("jobs", queue.Args{})
	res := a.publish(sec, PublishMessage{ID: "a", RoutingKey: "jobs"}, PublishMessage{ID: "b", RoutingKey: "other", Mandatory: true})
	if res[0].Status != Routed || res[1].Status != Unroutable {
		t.Fatalf("results %+v", res)
	}
}

func TestDeduplicationWindow(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{})
	a.ok(OpConfigure, &Configure{DedupWindow: 10 * sec})
	m := PublishMessage{ID: "same", RoutingKey: "q"}
	if r := a.publish(100*sec, m); r[0].Status != Routed {
		t.Fatal(r[0].Status)
	}
	if r := a.publish(109*sec, m); r[0].Status != Duplicate {
		t.Fatalf("inside the window: %s", r[0].Status)
	}
	a.ok(OpTick, &Tick{Time: 111 * sec})
	var size int
	a.f.View(func(v View) { size = v.DedupSize() })
	if size != 0 {
		t.Fatalf("dedup size after the window = %d", size)
	}
	if r := a.publish(111*sec, m); r[0].Status != Routed {
		t.Fatalf("outside the window: %s", r[0].Status)
	}
	if n := len(a.messages("q")); n != 2 {
		t.Fatalf("queue holds %d, want 2", n)
	}
	// Without a tick, an entry past the window is not a duplicate either.
	if r := a.publish(200*sec, m); r[0].Status != Routed {
		t.Fatalf("past the window without a tick: %s", r[0].Status)
	}
}

func TestClockNeverRunsBackwards(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{})
	a.publish(100*sec, PublishMessage{ID: "1", RoutingKey: "q"})
	// A new leader whose clock is behind stamps an older time.
	a.publish(50*sec, PublishMessage{ID: "2", RoutingKey: "q"})
	msgs := a.messages("q")
	if msgs[1].PublishedAt != 100*sec {
		t.Fatalf("published at %d, want the state machine's clock %d", msgs[1].PublishedAt, 100*sec)
	}
}

func TestSettleAndReturn(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{})
	a.publish(sec, PublishMessage{ID: "1", RoutingKey: "q"}, PublishMessage{ID: "2", RoutingKey: "q"}, PublishMessage{ID: "3", RoutingKey: "q"})
	if r := a.ok(OpSettle, &Settle{Entries: []QueueSeqs{{Queue: "q", Seqs: []uint64{2, 99}}, {Queue: "gone", Seqs: []uint64{1}}}}); r.Count != 1 {
		t.Fatalf("settled %d, want 1", r.Count)
	}
	a.ok(OpReturn, &Return{Time: 2 * sec, Requeue: true, Entries: []QueueSeqs{{Queue: "q", Seqs: []uint64{1}}}})
	msgs := a.messages("q")
	if len(msgs) != 2 || msgs[0].Seq != 1 || !msgs[0].Redelivered || msgs[0].DeliveryCount != 1 || msgs[1].Seq != 3 {
		t.Fatalf("after settle 2 and return 1: %+v", msgs)
	}
	a.ok(OpReturn, &Return{Time: 3 * sec, Requeue: false, Entries: []QueueSeqs{{Queue: "q", Seqs: []uint64{1}}}})
	if msgs := a.messages("q"); len(msgs) != 1 || msgs[0].Seq != 3 {
		t.Fatalf("after reject of 1: %+v", msgs)
	}
}

// dlxFixture declares a dead-letter exchange "dlx" (fanout) with queue "dead".
func dlxFixture(a *applier) {
	a.declareExchange("dlx", exchange.Fanout)
	a.declareQueue("dead", queue.Args{})
	a.bind("dlx", "dead", "")
}

func TestDeadLetterReasons(t *testing.T) {
	cases := []struct {
		name   string
		args   queue.Args
		act    func(a *applier)
		reason queue.Reason
	}{
		{"rejected", queue.Args{DeadLetterExchange: "dlx"}, func(a *applier) {
			a.ok(OpReturn, &Return{Time: 2 * sec, Entries: []QueueSeqs{{Queue: "work", Seqs: []uint64{1}}}})
		}, queue.Rejected},
		{"expired", queue.Args{DeadLetterExchange: "dlx", MessageTTL: 1000}, func(a *applier) {
			a.ok(OpTick, &Tick{Time: 3 * sec})
		}, queue.Expired},
		{"maxlen", queue.Args{DeadLetterExchange: "dlx", MaxLength: 1}, func(a *applier) {
			a.publish(2*sec, PublishMessage{ID: "next", RoutingKey: "work"})
		}, queue.MaxLen},
		{"delivery-limit", queue.Args{DeadLetterExchange: "dlx", DeliveryLimit: 2}, func(a *applier) {
			for i := range 3 {
				a.ok(OpReturn, &Return{Time: int64(2+i) * sec, Requeue: true, Entries: []QueueSeqs{{Queue: "work", Seqs: []uint64{1}}}})
			}
		}, queue.DeliveryLimitReached},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newApplier(t)
			dlxFixture(a)
			a.declareQueue("work", tc.args)
			a.publish(sec, PublishMessage{ID: "m", RoutingKey: "work", Body: []byte("payload")})
			tc.act(a)
			dead := a.messages("dead")
			if len(dead) != 1 {
				t.Fatalf("dead-letter queue holds %d messages, want 1", len(dead))
			}
			m := dead[0]
			if m.ID != "m" || string(m.Body) != "payload" || m.Exchange != "dlx" || m.RoutingKey != "work" {
				t.Fatalf("dead letter %+v", m)
			}
			if len(m.Deaths) != 1 || m.Deaths[0].Reason != tc.reason || m.Deaths[0].Queue != "work" || m.Deaths[0].Count != 1 || m.Deaths[0].Time == 0 {
				t.Fatalf("deaths %+v, want one %s death in work", m.Deaths, tc.reason)
			}
			for _, w := range a.messages("work") {
				if w.ID == "m" {
					t.Fatalf("the dead-lettered message is still in its queue")
				}
			}
		})
	}
}

func TestDeadLetterRoutingKeyAndCycle(t *testing.T) {
	a := newApplier(t)
	a.declareExchange("dlx", exchange.Direct)
	a.declareQueue("parking", queue.Args{})
	a.bind("dlx", "parking", "parked")
	a.declareQueue("a", queue.Args{DeadLetterExchange: "dlx", DeadLetterRoutingKey: "parked"})
	a.publish(sec, PublishMessage{ID: "1", RoutingKey: "a"})
	a.ok(OpReturn, &Return{Time: 2 * sec, Entries: []QueueSeqs{{Queue: "a", Seqs: []uint64{1}}}})
	if p := a.messages("parking"); len(p) != 1 || p[0].RoutingKey != "parked" {
		t.Fatalf("parking = %+v", p)
	}

	// A queue that dead-letters expired messages to itself drops them
	// instead of cycling forever.
	a.declareExchange("self", exchange.Fanout)
	a.declareQueue("loop", queue.Args{DeadLetterExchange: "self", MessageTTL: 10})
	a.bind("self", "loop", "")
	a.publish(3*sec, PublishMessage{ID: "2", RoutingKey: "loop"})
	a.ok(OpTick, &Tick{Time: 10 * sec})
	if n := len(a.messages("loop")); n != 0 {
		t.Fatalf("expiry cycle left %d messages", n)
	}
}

func TestPerMessageTTL(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{})
	a.publish(sec, PublishMessage{ID: "short", RoutingKey: "q", TTL: 500}, PublishMessage{ID: "forever", RoutingKey: "q"})
	a.ok(OpTick, &Tick{Time: sec + int64(400*time.Millisecond)})
	if n := len(a.messages("q")); n != 2 {
		t.Fatalf("before expiry: %d messages", n)
	}
	r := a.ok(OpTick, &Tick{Time: 2 * sec})
	if msgs := a.messages("q"); len(msgs) != 1 || msgs[0].ID != "forever" || r.Count != 1 {
		t.Fatalf("after expiry: %+v (count %d)", msgs, r.Count)
	}
}

func TestDropHeadOverflow(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{MaxLengthBytes: 10})
	a.publish(sec, PublishMessage{ID: "1", RoutingKey: "q", Body: make([]byte, 6)}, PublishMessage{ID: "2", RoutingKey: "q", Body: make([]byte, 6)})
	if msgs := a.messages("q"); len(msgs) != 1 || msgs[0].ID != "2" {
		t.Fatalf("drop-head kept %+v", msgs)
	}
}

func TestPreconditionsChangeNothing(t *testing.T) {
	a := newApplier(t)
	a.declareQueue("q", queue.Args{MaxLength: 5})
	a.declareQueue("q", queue.Args{MaxLength: 5}) // same: fine
	if r := a.apply(OpDeclareQueue, &DeclareQueue{Name: "q", Args: queue.Args{MaxLength: 6}}); !errors.Is(r.Err, ErrPrecondition) {
		t.Fatalf("redeclare with other args: %v", r.Err)
	}
	var args queue.Args
	a.f.View(func(v View) { q, _ := v.Queue("q"); args = q.Args() })
	if args.MaxLength != 5 {
		t.Fatalf("args changed to %+v", args)
	}
	a.declareExchange("x", exchange.Topic)
	if r := a.apply(OpDeclareExchange, &DeclareExchange{Exchange: exchange.Exchange{Name: "x", Kind: exchange.Fanout}}); !errors.Is(r.Err, ErrPrecondition) {
		t.Fatalf("redeclare exchange with another kind: %v", r.Err)
	}
	if r := a.apply(OpBind, &Bind{Binding: exchange.Binding{Source: "x", Dest: "missing", Key: "k"}}); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("bind to a missing queue: %v", r.Err)
	}
	if r := a.apply(OpDeleteQueue, &DeleteQueue{Name: "missing"}); !errors.Is(r.Err, ErrNotFound) {
		t.Fatalf("delete a missing queue: %v", r.Err)
	}
	if r := a.apply(OpDeclareQueue, &DeclareQueue{Name: "", Args: queue.Args{}}); !errors.Is(r.Err, ErrInvalidArgument) {
		t.Fatalf("queue without a name: %v", r.Err)
	}
	if r := a.apply(OpDeclareQueue, &DeclareQueue{Name: "neg", Args: queue.Args{MaxLength: -1}}); !errors.Is(r.Err, ErrInvalidArgument) {
		t.Fatalf("negative max length: %v", r.Err)
	}
}

func TestDeleteQueueRemovesBindings(t *testing.T) {
	a := newApplier(t)
	a.declareExchange("x", exchange.Fanout)
	a.declareQueue("q", queue.Args{})
	a.bind("x", "q", "")
	a.publish(sec, PublishMessage{ID: "1", Exchange: "x"})
	if r := a.ok(OpDeleteQueue, &DeleteQueue{Name: "q"}); r.Count != 1 {
		t.Fatalf("deleted %d messages", r.Count)
	}
	a.declareQueue("q", queue.Args{})
	if r := a.publish(2*sec, PublishMessage{ID: "2", Exchange: "x", Mandatory: true}); r[0].Status != Unroutable {
		t.Fatalf("binding survived queue deletion: %s", r[0].Status)
	}
}

func TestMalformedCommandsAreErrorsNotPanics(t *testing.T) {
	a := newApplier(t)
	for _, data := range [][]byte{
		nil,
		{0},
		{255},
		{byte(OpPublish)},
		{byte(OpPublish), 0x92, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff}, // huge array length
		{byte(OpDeclareQueue), 0xc1},
		append([]byte{byte(OpBind)}, bytes.Repeat([]byte{0x91}, 1000)...),
	} {
		r := a.raw(data)
		if r.Err == nil {
			t.Errorf("command %x applied without error", data)
		}
	}
}

func TestNotifyNamesTouchedQueues(t *testing.T) {
	a := newApplier(t)
	var got []string
	a.f.SetNotify(func(q string) { got = append(got, q) })
	a.declareQueue("b", queue.Args{})
	a.declareQueue("a", queue.Args{})
	a.publish(sec, PublishMessage{ID: "1", RoutingKey: "b"}, PublishMessage{ID: "2", RoutingKey: "a"})
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("notified %v", got)
	}
	got = nil
	if err := a.f.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, a.f)))); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "" {
		t.Fatalf("restore notified %v", got)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	a := newApplier(t)
	dlxFixture(a)
	a.declareExchange("h", exchange.Headers)
	a.declareQueue("q", queue.Args{DeadLetterExchange: "dlx", MessageTTL: 60000, DeliveryLimit: 3})
	a.ok(OpBind, &Bind{Binding: exchange.Binding{Source: "h", Dest: "q", Args: map[string]string{"x-match": "any", "a": "1", "b": ""}}})
	a.publish(sec, PublishMessage{ID: "1", Exchange: "h", Headers: map[string]string{"b": "z", "c": "y"}, Body: []byte("one")})
	a.publish(2*sec, PublishMessage{ID: "2", RoutingKey: "q", Body: []byte("two")})
	a.ok(OpReturn, &Return{Time: 3 * sec, Requeue: true, Entries: []QueueSeqs{{Queue: "q", Seqs: []uint64{1}}}})
	a.ok(OpReturn, &Return{Time: 3 * sec, Entries: []QueueSeqs{{Queue: "q", Seqs: []uint64{2}}}})
	snap := snapshotBytes(t, a.f)

	b := newApplier(t)
	if err := b.f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if again := snapshotBytes(t, b.f); !bytes.Equal(snap, again) {
		t.Fatalf("restored state snapshots differently")
	}
	// The restored state behaves the same: dedup, routing, sequence numbers.
	for _, x := range []*applier{a, b} {
		res := x.publish(4*sec, PublishMessage{ID: "1", RoutingKey: "q"}, PublishMessage{ID: "3", Exchange: "h", Headers: map[string]string{"a": "1"}})
		if res[0].Status != Duplicate || res[1].Status != Routed {
			t.Fatalf("after restore: %+v", res)
		}
	}
	if !bytes.Equal(snapshotBytes(t, a.f), snapshotBytes(t, b.f)) {
		t.Fatalf("states diverged after restore")
	}
	if err := b.f.Restore(io.NopCloser(bytes.NewReader([]byte("garbage")))); !errors.Is(err, ErrSnapshotFormat) {
		t.Fatalf("garbage snapshot: %v", err)
	}
}

// TestApplyBatchMatchesApply: the batching path and the one-entry path give
// the same results and the same state.
func TestApplyBatchMatchesApply(t *testing.T) {
	cmds := [][]byte{
		MustEncode(OpDeclareExchange, &DeclareExchange{Exchange: exchange.Exchange{Name: "x", Kind: exchange.Topic}}),
		MustEncode(OpDeclareQueue, &DeclareQueue{Name: "q", Args: queue.Args{MaxLength: 3}}),
		MustEncode(OpBind, &Bind{Binding: exchange.Binding{Source: "x", Dest: "q", Key: "a.#"}}),
		MustEncode(OpPublish, &Publish{Time: sec, Messages: []PublishMessage{{ID: "1", Exchange: "x", RoutingKey: "a.b"}, {ID: "1", Exchange: "x", RoutingKey: "a"}}}),
		{0xff},
		MustEncode(OpSettle, &Settle{Entries: []QueueSeqs{{Queue: "q", Seqs: []uint64{1}}}}),
		MustEncode(OpPublish, &Publish{Time: 2 * sec, Messages: []PublishMessage{{ID: "2", Exchange: "x", RoutingKey: "a"}}}),
	}
	one := New()
	batch := New()
	var logs []*raft.Log
	var want []string
	for i, c := range cmds {
		l := &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: c}
		logs = append(logs, l)
		want = append(want, fmt.Sprint(one.Apply(l)))
	}
	// A configuration entry in the batch gets a nil response.
	logs = append(logs, &raft.Log{Index: uint64(len(cmds) + 1), Type: raft.LogConfiguration})
	got := batch.ApplyBatch(logs)
	if len(got) != len(logs) || got[len(got)-1] != nil {
		t.Fatalf("ApplyBatch returned %d responses, last %v", len(got), got[len(got)-1])
	}
	for i := range want {
		if fmt.Sprint(got[i]) != want[i] {
			t.Fatalf("command %d: batch %v, one by one %s", i, got[i], want[i])
		}
	}
	if !bytes.Equal(snapshotBytes(t, one), snapshotBytes(t, batch)) {
		t.Fatal("batch and one-by-one states differ")
	}
	if batch.AppliedIndex() != uint64(len(logs)) {
		t.Fatalf("applied index %d", batch.AppliedIndex())
	}
}
