package client

import (
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/raftmq/raftmq/wire"
)

// brokenConn accepts limit bytes of writes, then fails every write.
type brokenConn struct {
	net.Conn
	limit int
}

var errBroken = errors.New("connection broken by the test")

func (b *brokenConn) Write(p []byte) (int, error) {
	if len(p) > b.limit {
		n := b.limit
		b.limit = 0
		return n, errBroken
	}
	b.limit -= len(p)
	return len(p), nil
}

func (b *brokenConn) Close() error { return nil }

func (b *brokenConn) SetWriteDeadline(time.Time) error { return nil }

// TestWritePassRequeuesUnwrittenSettlesOnFailure fails the connection in the
// middle of a writer pass that holds several settle frames' worth of acks
// for two queues. Every ack must be queued again for the next connection:
// those of frames already registered (requeued as their requests are lost)
// and those the pass had taken but not yet written.
func TestWritePassRequeuesUnwrittenSettlesOnFailure(t *testing.T) {
	c := &Client{settles: make(map[settleKey][]uint64), wake: make(chan struct{}, 1)}
	c.opts.maxFrameSize = wire.DefaultMaxFrameSize
	bc := &brokenConn{limit: 100 << 10} // about one settle frame
	cn := &conn{c: c, nc: bc, addr: "test", pending: make(map[uint64]pendingReq), dead: make(chan struct{})}
	cn.primary.Store(true)

	want := map[settleKey][]uint64{}
	for i, q := range []string{"a", "b"} {
		k := settleKey{queue: q, op: opAck}
		for seq := uint64(1); seq <= 3*maxAckSeqs; seq++ {
			s := seq + uint64(i)*10*maxAckSeqs
			if err := c.queueSettle(k, s); err != nil {
				t.Fatal(err)
			}
			want[k] = append(want[k], s)
		}
	}

	_, err := cn.writePass(wire.NewWriter(bc))
	if !errors.Is(err, errBroken) {
		t.Fatalf("writePass: err = %v, want the connection's error", err)
	}
	cn.fail(err)

	got := c.takeSettles()
	for k, seqs := range want {
		g := slices.Clone(got[k])
		slices.Sort(g)
		if !slices.Equal(g, seqs) {
			t.Errorf("queue %q: %d acks queued again, want all %d (first missing: %v)", k.queue, len(g), len(seqs), firstMissing(seqs, g))
		}
	}
}

func firstMissing(want, got []uint64) any {
	for _, s := range want {
		if _, ok := slices.BinarySearch(got, s); !ok {
			return s
		}
	}
	return "none"
}
