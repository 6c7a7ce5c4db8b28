package checker

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/jepsen-lite/history"
)

// hb builds synthetic histories; time advances by one per entry.
type hb struct {
	ops []history.Op
	t   int64
}

func (h *hb) add(op history.Op) history.Op {
	h.t += 10
	op.Index = len(h.ops)
	op.Time = h.t
	h.ops = append(h.ops, op)
	return op
}

func (h *hb) invoke(p int, f string, v history.Value) {
	h.add(history.Op{Type: history.Invoke, Process: p, F: f, Value: v})
}

func (h *hb) complete(p int, f string, t history.Type, v history.Value) {
	h.add(history.Op{Type: t, Process: p, F: f, Value: v, Attempts: 1})
}

// publish records a whole publish to the default exchange (key = queue).
func (h *hb) publish(p int, id, queue string, t history.Type) {
	h.invoke(p, history.FPublish, history.Value{ID: id, Key: queue})
	v := history.Value{ID: id, Key: queue}
	if t == history.Ok {
		v.Status, v.Queues = "routed", 1
	}
	h.complete(p, history.FPublish, t, v)
}

func (h *hb) deliver(p int, id, queue string, seq uint64, redelivered bool) {
	v := history.Value{ID: id, Queue: queue, Seq: seq, Redelivered: redelivered, Action: history.ActionAck}
	if redelivered {
		v.DeliveryCount = 1
	}
	h.add(history.Op{Type: history.Ok, Process: p, F: history.FDeliver, Value: v})
}

func (h *hb) drain(empty bool) {
	h.invoke(100, history.FDrain, history.Value{})
	t := history.Info
	if empty {
		t = history.Ok
	}
	h.complete(100, history.FDrain, t, history.Value{Empty: empty})
}

var queueTopo = Topology{Queues: []string{"fifo", "shared"}, FIFO: "fifo"}

func kinds(as []Anomaly) string {
	var k []string
	for _, a := range as {
		k = append(k, a.Kind)
	}
	return strings.Join(k, ",")
}

func TestMessagesValid(t *testing.T) {
	var h hb
	h.publish(0, "a", "fifo", history.Ok)
	h.publish(0, "b", "fifo", history.Ok)
	h.publish(1, "c", "shared", history.Info) // indeterminate, delivered
	h.publish(1, "d", "shared", history.Info) // indeterminate, never delivered
	h.publish(1, "e", "shared", history.Fail) // failed, never delivered
	h.deliver(10, "a", "fifo", 1, false)
	h.deliver(10, "b", "fifo", 2, false)
	h.deliver(11, "c", "shared", 1, false)
	h.deliver(12, "c", "shared", 1, true) // redelivery of the same entry
	h.drain(true)
	r := CheckMessages(h.ops, queueTopo)
	if r.Valid != Valid {
		t.Fatalf("valid = %s, anomalies %v notes %v", r.Valid, r.Anomalies, r.Notes)
	}
	if r.Attempted != 5 || r.Confirmed != 2 || r.Indeterminate != 2 || r.Failed != 1 {
		t.Errorf("counts: %+v", r)
	}
	if r.Recovered != 1 || r.Redeliveries != 1 || r.Delivered != 3 || r.Deliveries != 4 {
		t.Errorf("recovered %d redeliveries %d delivered %d deliveries %d", r.Recovered, r.Redeliveries, r.Delivered, r.Deliveries)
	}
}

func TestMessagesLost(t *testing.T) {
	var h hb
	h.publish(0, "a", "shared", history.Ok)
	h.publish(0, "b", "shared", history.Ok)
	h.deliver(10, "a", "shared", 1, false)
	h.drain(true)
	r := CheckMessages(h.ops, queueTopo)
	if r.Valid != Invalid || r.Lost != 1 || kinds(r.Anomalies) != KindLost || r.Anomalies[0].ID != "b" {
		t.Fatalf("want one lost b, got %s lost=%d %v", r.Valid, r.Lost, r.Anomalies)
	}
}

func TestMessagesLostAfterDrainTimeoutIsUnknown(t *testing.T) {
	var h hb
	h.publish(0, "a", "shared", history.Ok)
	h.drain(false)
	r := CheckMessages(h.ops, queueTopo)
	if r.Valid != Unknown || r.Lost != 1 || len(r.Anomalies) != 0 {
		t.Fatalf("want unknown with lost counted, got %s lost=%d %v", r.Valid, r.Lost, r.Anomalies)
	}
	if ExitCode(r.Valid) != 2 {
		t.Errorf("exit code %d", ExitCode(r.Valid))
	}
}

func TestMessagesNoDrainIsUnknown(t *testing.T) {
	var h hb
	h.publish(0, "a", "shared", history.Ok)
	h.deliver(10, "a", "shared", 1, false)
	if r := CheckMessages(h.ops, queueTopo); r.Valid != Unknown {
		t.Fatalf("valid = %s", r.Valid)
	}
}

func TestMessagesUnexpected(t *testing.T) {
	var h hb
	h.publish(0, "a", "shared", history.Ok)
	h.deliver(10, "a", "shared", 1, false)
	h.deliver(10, "zz", "shared", 2, false)
	h.drain(true)
	r := CheckMessages(h.ops, queueTopo)
	if r.Valid != Invalid || r.Unexpected != 1 || kinds(r.Anomalies) != KindUnexpected {
		t.Fatalf("got %s %v", r.Valid, r.Anomalies)
	}
}

func TestMessagesAborted(t *testing.T) {
	var h hb
	h.publish(0, "a", "shared", history.Fail)
	h.deliver(10, "a", "shared", 1, false)
	h.drain(true)
	r := CheckMessages(h.ops, queueTopo)
	if r.Valid != Invalid || r.Aborted != 1 || kinds(r.Anomalies) != KindAborted {
		t.Fatalf("got %s %v", r.Valid, r.Anomalies)
	}
}

func TestMessagesDuplicateEnqueue(t *testing.T) {
	var h hb
	h.publish(0, "a", "shared", history.Ok)
	h.deliver(10, "a", "shared", 1, false)
	h.deliver(11, "a", "shared", 7, false) // same ID, another entry
	h.drain(true)
	r := CheckMessages(h.ops, queueTopo)
	if r.Valid != Invalid || r.Duplicates != 1 || kinds(r.Anomalies) != KindDuplicate {
		t.Fatalf("got %s %v", r.Valid, r.Anomalies)
	}
	if !strings.Contains(r.Anomalies[0].Detail, "[1 7]") {
		t.Errorf("detail %q lacks the sequence numbers", r.Anomalies[0].Detail)
	}
}

func TestMessagesReorder(t *testing.T) {
	var h hb
	h.publish(0, "a", "fifo", history.Ok)
	h.publish(0, "b", "fifo", history.Ok) // invoked after a was confirmed
	h.deliver(10, "b", "fifo", 2, false)
	h.deliver(10, "a", "fifo", 1, false)
	h.drain(true)
	r := CheckMessages(h.ops, queueTopo)
	if r.Valid != Invalid || r.Reorders != 1 || kinds(r.Anomalies) != KindReorder {
		t.Fatalf("got %s %v", r.Valid, r.Anomalies)
	}
}

func TestMessagesReorderBySeq(t *testing.T) {
	var h hb
	h.publish(0, "a", "fifo", history.Ok)
	h.publish(0, "b", "fifo", history.Ok)
	// Delivered in order, but the queue numbered b before a.
	h.deliver(10, "a", "fifo", 9, false)
	h.deliver(10, "b", "fifo", 3, false)
	h.drain(true)
	r := CheckMessages(h.ops, queueTopo)
	if r.Valid != Invalid || r.Reorders != 1 {
		t.Fatalf("got %s %v", r.Valid, r.Anomalies)
	}
}

func TestMessagesRedeliveryIsNoReorder(t *testing.T) {
	var h hb
	h.publish(0, "a", "fifo", history.Ok)
	h.publish(0, "b", "fifo", history.Ok)
	h.deliver(10, "a", "fifo", 1, false) // abandoned by a consumer
	h.deliver(10, "b", "fifo", 2, false)
	h.deliver(11, "a", "fifo", 1, true) // comes back after b
	h.drain(true)
	if r := CheckMessages(h.ops, queueTopo); r.Valid != Valid {
		t.Fatalf("got %s %v", r.Valid, r.Anomalies)
	}
	// Concurrent publishes (b invoked before a's confirm) may be reordered.
	var c hb
	c.invoke(0, history.FPublish, history.Value{ID: "a", Key: "fifo"})
	c.invoke(1, history.FPublish, history.Value{ID: "b", Key: "fifo"})
	c.complete(0, history.FPublish, history.Ok, history.Value{ID: "a", Status: "routed", Queues: 1})
	c.complete(1, history.FPublish, history.Ok, history.Value{ID: "b", Status: "routed", Queues: 1})
	c.deliver(10, "b", "fifo", 1, false)
	c.deliver(10, "a", "fifo", 2, false)
	c.drain(true)
	if r := CheckMessages(c.ops, queueTopo); r.Valid != Valid {
		t.Fatalf("concurrent: got %s %v", r.Valid, r.Anomalies)
	}
}

var routeTopo = Topology{
	Exchanges: []Exchange{{"d", Direct}, {"f", Fanout}, {"t", Topic}, {"h", Headers}},
	Queues:    []string{"q1", "q2", "q3"},
	Bindings: []Binding{
		{Exchange: "d", Queue: "q1", Key: "red"},
		{Exchange: "d", Queue: "q2", Key: "red"},
		{Exchange: "d", Queue: "q3", Key: "blue"},
		{Exchange: "f", Queue: "q1"},
		{Exchange: "f", Queue: "q3"},
		{Exchange: "t", Queue: "q1", Key: "eu.*.orders"},
		{Exchange: "t", Queue: "q2", Key: "#.orders"},
		{Exchange: "t", Queue: "q3", Key: "us.#"},
		{Exchange: "h", Queue: "q1", Headers: map[string]string{"fmt": "pdf", "lang": "en"}},
		{Exchange: "h", Queue: "q2", Headers: map[string]string{"fmt": "pdf", "lang": "en"}, Match: "any"},
	},
}

func TestRoute(t *testing.T) {
	cases := []struct {
		x, key string
		h      map[string]string
		want   string
	}{
		{"d", "red", nil, "q1,q2"},
		{"d", "blue", nil, "q3"},
		{"d", "green", nil, ""},
		{"f", "anything", nil, "q1,q3"},
		{"t", "eu.fr.orders", nil, "q1,q2"},
		{"t", "orders", nil, "q2"},
		{"t", "eu.orders", nil, "q2"},
		{"t", "us", nil, "q3"},
		{"t", "us.ny.orders", nil, "q2,q3"},
		{"t", "asia.jp.refunds", nil, ""},
		{"h", "", map[string]string{"fmt": "pdf", "lang": "en"}, "q1,q2"},
		{"h", "", map[string]string{"fmt": "pdf"}, "q2"},
		{"h", "", map[string]string{"fmt": "doc", "lang": "de"}, ""},
		{"", "q2", nil, "q2"},
		{"", "nope", nil, ""},
	}
	for _, c := range cases {
		got, err := routeTopo.Route(c.x, c.key, c.h)
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.Join(got, ","); s != c.want {
			t.Errorf("Route(%q, %q, %v) = %q, want %q", c.x, c.key, c.h, s, c.want)
		}
	}
	if _, err := routeTopo.Route("missing", "k", nil); err == nil {
		t.Error("routing through an unknown exchange succeeded")
	}
}

func routedPublish(h *hb, p int, id, x, key string, queues int) {
	h.invoke(p, history.FPublish, history.Value{ID: id, Exchange: x, Key: key})
	h.complete(p, history.FPublish, history.Ok, history.Value{ID: id, Status: "routed", Queues: queues})
}

func TestRoutingValidAndMisrouted(t *testing.T) {
	var h hb
	routedPublish(&h, 0, "m1", "d", "red", 2)
	h.deliver(10, "m1", "q1", 1, false)
	h.deliver(11, "m1", "q2", 1, false)
	h.drain(true)
	if r := CheckMessages(h.ops, routeTopo); r.Valid != Valid {
		t.Fatalf("valid routing: %s %v", r.Valid, r.Anomalies)
	}

	var m hb
	routedPublish(&m, 0, "m1", "d", "red", 2)
	m.deliver(10, "m1", "q1", 1, false)
	m.deliver(11, "m1", "q2", 1, false)
	m.deliver(12, "m1", "q3", 1, false) // q3 is bound to blue only
	m.drain(true)
	r := CheckMessages(m.ops, routeTopo)
	if r.Valid != Invalid || r.Misrouted != 1 || kinds(r.Anomalies) != KindMisrouted {
		t.Fatalf("misrouted: %s %v", r.Valid, r.Anomalies)
	}
}

func TestRoutingMissingAndConfirmCount(t *testing.T) {
	var h hb
	routedPublish(&h, 0, "m1", "f", "x", 2)
	h.deliver(10, "m1", "q1", 1, false) // never from q3
	h.drain(true)
	r := CheckMessages(h.ops, routeTopo)
	if r.Valid != Invalid || r.MissingRoute != 1 || kinds(r.Anomalies) != KindMissingRoute || r.Anomalies[0].Queue != "q3" {
		t.Fatalf("missing: %s %v", r.Valid, r.Anomalies)
	}

	var c hb
	routedPublish(&c, 0, "m1", "t", "us.ny.orders", 1) // bindings name two queues
	c.deliver(10, "m1", "q2", 1, false)
	c.deliver(10, "m1", "q3", 1, false)
	c.drain(true)
	r = CheckMessages(c.ops, routeTopo)
	if r.Valid != Invalid || r.Misrouted != 1 {
		t.Fatalf("confirm count: %s %v", r.Valid, r.Anomalies)
	}

	// A message routed nowhere, confirmed as dropped, is fine.
	var d hb
	d.invoke(0, history.FPublish, history.Value{ID: "m2", Exchange: "d", Key: "green"})
	d.complete(0, history.FPublish, history.Ok, history.Value{ID: "m2", Status: "dropped"})
	d.drain(true)
	if r := CheckMessages(d.ops, routeTopo); r.Valid != Valid {
		t.Fatalf("dropped: %s %v", r.Valid, r.Anomalies)
	}
}

func TestMalformedHistory(t *testing.T) {
	var h hb
	h.invoke(0, history.FPublish, history.Value{ID: "a", Key: "shared"})
	h.invoke(0, history.FPublish, history.Value{ID: "b", Key: "shared"})
	r := CheckMessages(h.ops, queueTopo)
	if r.Valid != Invalid || kinds(r.Anomalies) != KindMalformed {
		t.Fatalf("got %s %v", r.Valid, r.Anomalies)
	}
}

func meta(h *hb, p int, f, queue, key string, t history.Type, v history.Value) {
	in := history.Value{Queue: queue, Key: key}
	h.invoke(p, f, in)
	v.Queue, v.Key = queue, key
	h.complete(p, f, t, v)
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func TestMetadataLinearizable(t *testing.T) {
	var h hb
	meta(&h, 0, history.FInspectQueue, "q", "", history.Ok, history.Value{Exists: no()})
	meta(&h, 0, history.FDeclareQueue, "q", "", history.Ok, history.Value{})
	meta(&h, 1, history.FInspectQueue, "q", "", history.Ok, history.Value{Exists: yes()})
	meta(&h, 1, history.FDeleteQueue, "q", "", history.Ok, history.Value{})
	meta(&h, 0, history.FDeleteQueue, "q", "", history.Ok, history.Value{NotFound: true})
	meta(&h, 2, history.FBind, "q2", "k", history.Ok, history.Value{})
	meta(&h, 2, history.FHasBinding, "q2", "k", history.Ok, history.Value{Exists: yes()})
	meta(&h, 2, history.FUnbind, "q2", "k", history.Ok, history.Value{})
	meta(&h, 2, history.FHasBinding, "q2", "k", history.Ok, history.Value{Exists: no()})
	dir := t.TempDir()
	r := CheckMetadata(h.ops, MetadataOptions{Timeout: 10 * time.Second, VisualizePath: filepath.Join(dir, "lin.html")})
	if r.Valid != Valid || r.Keys != 2 || r.Operations != 9 {
		t.Fatalf("got %+v", r)
	}
	if r.Visualization == "" {
		t.Errorf("no visualization written: %v", r.Notes)
	}
}

func TestMetadataStaleRead(t *testing.T) {
	var h hb
	meta(&h, 0, history.FDeclareQueue, "q", "", history.Ok, history.Value{})
	// A read that starts after the declare returned must see the queue.
	meta(&h, 1, history.FInspectQueue, "q", "", history.Ok, history.Value{Exists: no()})
	r := CheckMetadata(h.ops, MetadataOptions{Timeout: 10 * time.Second})
	if r.Valid != Invalid || kinds(r.Anomalies) != KindNonlinearizable {
		t.Fatalf("got %+v", r)
	}
	if len(r.Anomalies[0].Ops) == 0 {
		t.Errorf("anomaly names no entry: %v", r.Anomalies[0])
	}
}

func TestMetadataIndeterminateWrite(t *testing.T) {
	// An unknown declare may take effect late: both later reads are legal.
	var h hb
	meta(&h, 0, history.FDeclareQueue, "q", "", history.Info, history.Value{})
	meta(&h, 1, history.FInspectQueue, "q", "", history.Ok, history.Value{Exists: no()})
	meta(&h, 1, history.FInspectQueue, "q", "", history.Ok, history.Value{Exists: yes()})
	if r := CheckMetadata(h.ops, MetadataOptions{}); r.Valid != Valid {
		t.Fatalf("got %+v", r)
	}
	// But once seen, it cannot vanish without a delete.
	var g hb
	meta(&g, 0, history.FDeclareQueue, "q", "", history.Info, history.Value{})
	meta(&g, 1, history.FInspectQueue, "q", "", history.Ok, history.Value{Exists: yes()})
	meta(&g, 1, history.FInspectQueue, "q", "", history.Ok, history.Value{Exists: no()})
	if r := CheckMetadata(g.ops, MetadataOptions{}); r.Valid != Invalid {
		t.Fatalf("flicker: got %+v", r)
	}
	// A failed declare has no effect.
	var f hb
	meta(&f, 0, history.FDeclareQueue, "q", "", history.Fail, history.Value{})
	meta(&f, 1, history.FInspectQueue, "q", "", history.Ok, history.Value{Exists: yes()})
	if r := CheckMetadata(f.ops, MetadataOptions{}); r.Valid != Invalid {
		t.Fatalf("failed declare seen: got %+v", r)
	}
}

func TestCheckMergesVerdicts(t *testing.T) {
	var h hb
	h.publish(0, "a", "shared", history.Ok)
	h.deliver(10, "a", "shared", 1, false)
	h.drain(true)
	meta(&h, 3, history.FDeclareQueue, "q", "", history.Ok, history.Value{})
	meta(&h, 4, history.FInspectQueue, "q", "", history.Ok, history.Value{Exists: no()})
	r := Check(h.ops, queueTopo, MetadataOptions{})
	if r.Valid != Invalid || r.Messages.Valid != Valid || r.Metadata.Valid != Invalid {
		t.Fatalf("got %s (messages %s, metadata %s)", r.Valid, r.Messages.Valid, r.Metadata.Valid)
	}
	if r := Check(nil, queueTopo, MetadataOptions{}); r.Valid != Unknown {
		t.Fatalf("empty history: %s", r.Valid)
	}
	for _, c := range []struct {
		a, b, want Validity
	}{{Valid, Unknown, Unknown}, {Invalid, Unknown, Invalid}, {Unknown, Invalid, Invalid}, {Valid, Valid, Valid}} {
		if got := Merge(c.a, c.b); got != c.want {
			t.Errorf("Merge(%s, %s) = %s", c.a, c.b, got)
		}
	}
	if ExitCode(Valid) != 0 || ExitCode(Invalid) != 1 || ExitCode(Unknown) != 2 {
		t.Error("exit codes")
	}
}
