package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/jepsen-lite/history"
)

func TestPublishOutcome(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		attempts int
		want     history.Type
	}{
		{"confirmed", nil, 1, history.Ok},
		{"confirmed after retries", nil, 3, history.Ok},
		{"never sent", fmt.Errorf("publish x: %w", context.DeadlineExceeded), 0, history.Fail},
		{"closed before sending", fmt.Errorf("publish x: %w", client.ErrClosed), 0, history.Fail},
		{"timed out after sending", fmt.Errorf("publish x: %w: %w", context.DeadlineExceeded, client.ErrIndeterminate), 1, history.Info},
		{"unroutable on the only attempt", fmt.Errorf("publish x: %w", client.ErrUnroutable), 1, history.Fail},
		{"rejected on the only attempt", fmt.Errorf("publish x: %w", client.ErrRejected), 1, history.Fail},
		{"unroutable after a retry", fmt.Errorf("publish x: %w", client.ErrUnroutable), 2, history.Info},
		{"closed after sending", fmt.Errorf("publish x: %w", client.ErrClosed), 1, history.Info},
		{"internal error", fmt.Errorf("publish x: %w", client.ErrInternal), 1, history.Info},
		{"protocol error", errors.New("broken"), 1, history.Info},
	}
	for _, c := range cases {
		if got := PublishOutcome(c.err, c.attempts); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestPacerRate(t *testing.T) {
	p := newPacer(200, 2, rand.New(rand.NewPCG(1, 2))) // 100/s for this worker
	start := time.Now()
	n := 0
	for n < 20 && p.wait(context.Background()) {
		n++
	}
	el := time.Since(start)
	if el < 150*time.Millisecond || el > 400*time.Millisecond {
		t.Errorf("20 operations at 100/s took %s", el)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p.wait(ctx) {
		t.Error("wait went on after its context ended")
	}
}

// Every publish the routing workload can draw routes through the
// checker's topology, and the draws are reproducible.
func TestRoutingDraws(t *testing.T) {
	a, b := rand.New(rand.NewPCG(5, 6)), rand.New(rand.NewPCG(5, 6))
	kinds := map[string]bool{}
	multi, none := 0, 0
	for range 500 {
		x, key, h := pickRoute(a)
		x2, key2, h2 := pickRoute(b)
		if x != x2 || key != key2 || fmt.Sprint(h) != fmt.Sprint(h2) {
			t.Fatal("the same seed drew two routes")
		}
		qs, err := routingTopology.Route(x, key, h)
		if err != nil {
			t.Fatal(err)
		}
		kinds[x] = true
		switch {
		case len(qs) > 1:
			multi++
		case len(qs) == 0:
			none++
		}
	}
	if len(kinds) != 4 || multi == 0 || none == 0 {
		t.Errorf("draws cover exchanges %v, %d multi-queue, %d unroutable", kinds, multi, none)
	}
	var q Queue
	if topo := q.Topology(); topo.FIFO != FIFOQueue || len(topo.Queues) != 2 {
		t.Errorf("queue topology %+v", topo)
	}
	var m Metadata
	if topo := m.Topology(); len(topo.Queues) != 0 {
		t.Errorf("metadata topology %+v", topo)
	}
}

func TestSplit(t *testing.T) {
	for _, c := range []struct{ n, p, s int }{{1, 1, 1}, {2, 1, 1}, {6, 3, 2}, {10, 5, 4}} {
		if p, s := split(c.n); p != c.p || s != c.s {
			t.Errorf("split(%d) = %d, %d; want %d, %d", c.n, p, s, c.p, c.s)
		}
	}
	if _, err := New("nope", Env{}); err == nil {
		t.Error("unknown workload accepted")
	}
}
