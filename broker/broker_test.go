package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/raftmq/raftmq/cluster"
	"github.com/raftmq/raftmq/wire"
)

// openSingle starts a one-node broker on loopback ports.
func openSingle(t *testing.T, adjust ...func(*Config)) *Broker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{
		ClientAddr: "127.0.0.1:0",
		HTTPAddr:   "127.0.0.1:0",
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Cluster: cluster.Config{
			DataDir:    t.TempDir(),
			RaftAddr:   "127.0.0.1:0",
			GossipAddr: "127.0.0.1:0",
		},
		TickInterval: 50 * time.Millisecond,
	}
	for _, f := range adjust {
		f(&cfg)
	}
	b, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Kill() })
	deadline := time.Now().Add(20 * time.Second)
	for !b.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("single node never became leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return b
}

// rawConn speaks the wire protocol by hand.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *wire.Reader
	w  *wire.Writer
	id uint64
}

func dialRaw(t *testing.T, addr string, hello bool) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc, r: wire.NewReader(nc, 0), w: wire.NewWriter(nc)}
	if hello {
		f := c.call(wire.THello, &wire.Hello{Version: wire.Version})
		if f.Type != wire.THelloOK {
			t.Fatalf("hello answered with %s", f.Type)
		}
	}
	return c
}

func (c *rawConn) send(typ wire.Type, payload any) uint64 {
	c.t.Helper()
	c.id++
	if err := c.w.WriteFrame(typ, c.id, payload); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	if err := c.w.Flush(); err != nil {
		c.t.Fatalf("flush: %v", err)
	}
	return c.id
}

func (c *rawConn) next() wire.Frame {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := c.r.Next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *rawConn) call(typ wire.Type, payload any) wire.Frame {
	c.t.Helper()
	id := c.send(typ, payload)
	for {
		f := c.next()
		if f.ReqID == id {
			return f
		}
	}
}

func (c *rawConn) ok(typ wire.Type, payload any) {
	c.t.Helper()
	f := c.call(typ, payload)
	if f.Type == wire.TError {
		var e wire.Error
		_ = wire.Decode(f, &e)
		c.t.Fatalf("%s failed: %v", typ, &e)
	}
}

func TestPublishConsumeAckOnOneNode(t *testing.T) {
	b := openSingle(t)
	c := dialRaw(t, b.ClientAddr(), true)
	c.ok(wire.TDeclareQueue, &wire.DeclareQueue{Name: "jobs"})
	f := c.call(wire.TPublish, &wire.Publish{Messages: []wire.PublishMessage{
		{ID: "a", RoutingKey: "jobs", Body: []byte("one")},
		{ID: "b", RoutingKey: "jobs", Body: []byte("two")},
		{ID: "a", RoutingKey: "jobs", Body: []byte("one again")},
		{ID: "c", RoutingKey: "nowhere", Mandatory: true},
	}})
	var conf wire.Confirm
	if err := wire.Decode(f, &conf); err != nil || f.Type != wire.TConfirm {
		t.Fatalf("confirm: %s %v %v", f.Type, err, errOf(f))
	}
	want := []wire.PublishStatus{wire.Routed, wire.Routed, wire.Duplicate, wire.Unroutable}
	for i, w := range want {
		if conf.Results[i].Status != w {
			t.Fatalf("result %d: %v, want %v", i, conf.Results[i].Status, w)
		}
	}
	if conf.Index == 0 || conf.Term == 0 {
		t.Fatalf("confirm without term/index: %+v", conf)
	}

	f = c.call(wire.TConsume, &wire.Consume{Queue: "jobs", Prefetch: 1})
	var cok wire.ConsumeOK
	if err := wire.Decode(f, &cok); err != nil || f.Type != wire.TConsumeOK {
		t.Fatalf("consume: %s %v", f.Type, err)
	}
	got := c.nextDeliveries(1)
	if got[0].ID != "a" || string(got[0].Body) != "one" || got[0].Redelivered {
		t.Fatalf("first delivery %+v", got[0])
	}
	// Prefetch 1: nothing more until the ack.
	c.send(wire.TAck, &wire.Ack{Queue: "jobs", Seqs: []uint64{got[0].Seq}})
	got = c.nextDeliveries(1)
	if got[0].ID != "b" {
		t.Fatalf("second delivery %+v", got[0])
	}
	// Nack with requeue: it comes back, marked redelivered.
	c.send(wire.TNack, &wire.Nack{Queue: "jobs", Seqs: []uint64{got[0].Seq}, Requeue: true})
	got = c.nextDeliveries(1)
	if got[0].ID != "b" || !got[0].Redelivered || got[0].DeliveryCount != 1 {
		t.Fatalf("redelivery %+v", got[0])
	}
	c.ok(wire.TAck, &wire.Ack{Queue: "jobs", Seqs: []uint64{got[0].Seq}})
	f = c.call(wire.TInspectQueue, &wire.InspectQueue{Name: "jobs"})
	var info wire.QueueInfo
	if err := wire.Decode(f, &info); err != nil {
		t.Fatal(err)
	}
	if info.Messages != 0 || info.Consumers != 1 {
		t.Fatalf("queue info %+v", info)
	}
}

func (c *rawConn) nextDeliveries(n int) []wire.Delivery {
	c.t.Helper()
	var out []wire.Delivery
	for len(out) < n {
		f := c.next()
		if f.Type != wire.TDeliver {
			continue
		}
		var d wire.Deliver
		if err := wire.Decode(f, &d); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, d.Deliveries...)
	}
	return out
}

func TestBadFramesCloseTheConnectionNotTheNode(t *testing.T) {
	b := openSingle(t)
	cases := map[string][]byte{
		"oversized": func() []byte {
			h := make([]byte, 13)
			binary.BigEndian.PutUint32(h, 1<<30)
			h[4] = byte(wire.TPublish)
			return h
		}(),
		"too short": {0, 0, 0, 2, 1, 2},
		"garbage":   []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"no hello":  frameBytes(wire.TPublish, 1, []byte{0x90}),
		"bad payload after hello": append(frameBytes(wire.THello, 1, mustMarshal(t, &wire.Hello{Version: wire.Version})),
			frameBytes(wire.TPublish, 2, []byte{0xdd, 0xff, 0xff, 0xff, 0xff})...),
		"old version": frameBytes(wire.THello, 1, mustMarshal(t, &wire.Hello{Version: 99})),
		"truncated":   {0, 0, 0, 50, byte(wire.THello), 0, 0},
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			nc, err := net.Dial("tcp", b.ClientAddr())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(data); err != nil {
				t.Fatal(err)
			}
			if name == "truncated" {
				nc.(*net.TCPConn).CloseWrite()
			}
			_ = nc.SetReadDeadline(time.Now().Add(15 * time.Second))
			// The node answers an error (or just closes) and then closes.
			_, err = io.ReadAll(bufio.NewReader(nc))
			if err != nil && !errors.Is(err, net.ErrClosed) {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("connection left open after %s", name)
				}
			}
		})
	}
	// The node is still up and serving.
	c := dialRaw(t, b.ClientAddr(), true)
	c.ok(wire.TDeclareQueue, &wire.DeclareQueue{Name: "still-here"})
}

func frameBytes(typ wire.Type, id uint64, payload []byte) []byte {
	out := make([]byte, 13, 13+len(payload))
	binary.BigEndian.PutUint32(out, uint32(9+len(payload)))
	out[4] = byte(typ)
	binary.BigEndian.PutUint64(out[5:], id)
	return append(out, payload...)
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := wire.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func errOf(f wire.Frame) error {
	var e wire.Error
	if err := wire.Decode(f, &e); err != nil {
		return err
	}
	return &e
}

func TestClosedConsumerConnectionReturnsItsMessages(t *testing.T) {
	b := openSingle(t)
	c := dialRaw(t, b.ClientAddr(), true)
	c.ok(wire.TDeclareQueue, &wire.DeclareQueue{Name: "q"})
	c.ok(wire.TPublish, &wire.Publish{Messages: []wire.PublishMessage{{ID: "1", RoutingKey: "q"}, {ID: "2", RoutingKey: "q"}}})

	holder := dialRaw(t, b.ClientAddr(), true)
	holder.ok(wire.TConsume, &wire.Consume{Queue: "q", Prefetch: 10})
	if got := holder.nextDeliveries(2); got[0].Redelivered || got[1].Redelivered {
		t.Fatalf("first deliveries marked redelivered: %+v", got)
	}
	holder.nc.Close() // goes away without acking

	other := dialRaw(t, b.ClientAddr(), true)
	other.ok(wire.TConsume, &wire.Consume{Queue: "q", Prefetch: 10})
	got := other.nextDeliveries(2)
	for _, d := range got {
		if !d.Redelivered || d.DeliveryCount != 1 {
			t.Fatalf("returned message not marked redelivered: %+v", d)
		}
	}
}

func TestMemoryHighWatermarkRefusesPublishes(t *testing.T) {
	b := openSingle(t, func(c *Config) { c.MemoryHighWatermark = 4 << 10 })
	c := dialRaw(t, b.ClientAddr(), true)
	c.ok(wire.TDeclareQueue, &wire.DeclareQueue{Name: "q"})
	body := make([]byte, 3<<10)
	c.ok(wire.TPublish, &wire.Publish{Messages: []wire.PublishMessage{{ID: "1", RoutingKey: "q", Body: body}, {ID: "2", RoutingKey: "q", Body: body}}})
	f := c.call(wire.TPublish, &wire.Publish{Messages: []wire.PublishMessage{{ID: "3", RoutingKey: "q", Body: body}}})
	err := errOf(f)
	if f.Type != wire.TError || !errors.Is(err, wire.ErrResourceLimit) {
		t.Fatalf("publish above the watermark: %s %v", f.Type, err)
	}
	if !wire.CodeOf(err).Retryable() {
		t.Fatalf("resource limit must be retryable")
	}
	c.ok(wire.TPurgeQueue, &wire.PurgeQueue{Name: "q"})
	c.ok(wire.TPublish, &wire.Publish{Messages: []wire.PublishMessage{{ID: "3", RoutingKey: "q", Body: body}}})
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	b := openSingle(t)
	c := dialRaw(t, b.ClientAddr(), true)
	c.ok(wire.TDeclareQueue, &wire.DeclareQueue{Name: "metered"})
	c.ok(wire.TPublish, &wire.Publish{Messages: []wire.PublishMessage{{ID: "1", RoutingKey: "metered"}}})
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/readyz":  "ready",
		"/metrics": `raftmq_queue_messages{queue="metered"} 1`,
	} {
		resp, err := http.Get("http://" + b.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get("http://" + b.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"raftmq_raft_state 2", "raftmq_raft_term", "raftmq_raft_commit_index", "raftmq_confirmed_messages_total 1", "raftmq_apply_latency_seconds_bucket",
		`raftmq_raft_log_write_seconds_bucket{le="0.0015"}`, `raftmq_raft_log_write_seconds_bucket{le="+Inf"}`,
		"go_sched_latencies_seconds_bucket", "go_gc_duration_seconds"} {
		if !strings.Contains(string(body), name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	// The declare and the publish were written to the log, and so was
	// everything before them.
	var writes int
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(line, "raftmq_raft_log_write_seconds_count "); ok {
			writes, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if writes < 2 {
		t.Errorf("raftmq_raft_log_write_seconds_count %d, want at least the declare's and the publish's writes", writes)
	}
}
