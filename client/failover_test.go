package client_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/internal/testcluster"
)

// TestFailoverPublisherAndConsumer kills the leader while a publisher and a
// consumer run: both carry on with the new leader, the messages the
// consumer held unsettled come back marked redelivered, and acks of
// deliveries made by the old leader, sent after the failover, settle their
// messages on the new one.
func TestFailoverPublisherAndConsumer(t *testing.T) {
	cl := testcluster.Start(t, 3)
	c := dial(t, cl.ClientAddrs())
	ctx := testCtx(t, 60*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})

	ps := make([]client.Publishing, 20)
	for i := range ps {
		ps[i] = client.Publishing{Exchange: "x", Key: "k", Message: client.Message{ID: fmt.Sprintf("m%02d", i)}}
	}
	if _, err := c.PublishBatch(ctx, ps); err != nil {
		t.Fatal(err)
	}
	s, err := c.Subscribe(ctx, "q", client.WithPrefetch(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held := make(map[string]bool)  // to be redelivered
	var lateAck []*client.Delivery // acked after the failover
	lateAcked := make(map[string]bool)
	for i, d := range collect(t, ctx, s, 20) {
		if d.Redelivered {
			t.Fatalf("first delivery of %s marked redelivered", d.ID)
		}
		switch {
		case i < 10:
			if err := d.Ack(); err != nil {
				t.Fatal(err)
			}
		case i < 15:
			lateAck = append(lateAck, d)
			lateAcked[d.ID] = true
		default:
			held[d.ID] = true
		}
	}
	waitQueue(t, ctx, c, "q", func(qi client.QueueInfo) bool { return qi.Messages == 10 && qi.Unacked == 10 })

	// A publisher that runs through the failover.
	var (
		mu        sync.Mutex
		confirmed = make(map[string]bool)
		afterKill atomic.Int64
		killed    atomic.Bool
	)
	var stopPub atomic.Bool // stops the publisher between two publishes
	pubDone := make(chan error, 1)
	go func() {
		for i := 0; !stopPub.Load(); i++ {
			conf, err := c.Publish(ctx, "x", "k", client.Message{ID: fmt.Sprintf("p%05d", i)})
			if err != nil {
				pubDone <- err
				return
			}
			mu.Lock()
			confirmed[conf.ID] = true
			mu.Unlock()
			if killed.Load() {
				afterKill.Add(1)
			}
		}
		pubDone <- nil
	}()

	old := cl.LeaderIndex()
	cl.WaitFor(10*time.Second, "the publisher to get going", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(confirmed) >= 5
	})
	killed.Store(true)
	cl.Kill(old)
	start := time.Now()
	for _, d := range lateAck {
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}

	// Consumer: the held messages come back redelivered; everything
	// received now is acked.
	seen := make(map[string]int)
	redelivered := 0
	for redelivered < len(held) || afterKill.Load() < 20 {
		select {
		case d, ok := <-s.Deliveries():
			if !ok {
				t.Fatalf("subscription ended: %v", s.Err())
			}
			seen[d.ID]++
			if held[d.ID] {
				if !d.Redelivered {
					t.Fatalf("held message %s delivered again without the redelivered mark", d.ID)
				}
				redelivered++
			}
			if lateAcked[d.ID] {
				continue // settled by the ack of its first delivery
			}
			if err := d.Ack(); err != nil {
				t.Fatal(err)
			}
		case err := <-pubDone:
			t.Fatalf("publisher stopped: %v", err)
		case <-ctx.Done():
			t.Fatalf("after the failover: %d of %d held messages redelivered, %d publishes confirmed", redelivered, len(held), afterKill.Load())
		}
	}
	t.Logf("failover: publisher and consumer resumed within %v", time.Since(start).Round(time.Millisecond))
	stopPub.Store(true)
	if err := <-pubDone; err != nil {
		t.Fatal(err)
	}
	if c.Addr() == cl.ClientAddr(old) {
		t.Fatalf("still connected to the killed node %s", c.Addr())
	}
	// Every confirmed message reaches the consumer.
	mu.Lock()
	want := len(confirmed)
	mu.Unlock()
	for {
		missing := 0
		mu.Lock()
		for id := range confirmed {
			if seen[id] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		select {
		case d := <-s.Deliveries():
			seen[d.ID]++
			if lateAcked[d.ID] {
				continue
			}
			if err := d.Ack(); err != nil {
				t.Fatal(err)
			}
		case <-ctx.Done():
			t.Fatalf("%d of %d confirmed messages never delivered", missing, want)
		}
	}
	// The late acks settled their messages on the new leader: nothing is
	// left although their redelivered copies were never acked.
	waitQueue(t, ctx, c, "q", func(qi client.QueueInfo) bool { return qi.Messages == 0 })
}

// TestFailoverNoDuplicateEnqueue publishes from several goroutines while the
// leader is killed: every publish is confirmed, and the queue holds each
// confirmed message exactly once.
func TestFailoverNoDuplicateEnqueue(t *testing.T) {
	cl := testcluster.Start(t, 3)
	c := dial(t, cl.ClientAddrs(), client.WithMaxInFlight(256))
	ctx := testCtx(t, 60*time.Second)
	setupQueue(t, ctx, c, "q", client.QueueArgs{})

	const workers, each = 4, 500
	var confirmedCount atomic.Int64
	var retried atomic.Int64
	errs := make(chan error, workers)
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var pending []*client.PendingConfirm
			for i := range each {
				p, err := c.PublishAsync(ctx, "x", "k", client.Message{ID: fmt.Sprintf("w%d-%04d", w, i), Body: []byte("x")})
				if err != nil {
					errs <- err
					return
				}
				pending = append(pending, p)
				// Collect confirms as they come, to keep the count live.
				for len(pending) > 0 && isDone(pending[0]) {
					if !record(pending[0], &ids[w], &confirmedCount, &retried, errs) {
						return
					}
					pending = pending[1:]
				}
			}
			for _, p := range pending {
				if !record(p, &ids[w], &confirmedCount, &retried, errs) {
					return
				}
			}
		})
	}
	cl.WaitFor(30*time.Second, "a quarter of the publishes confirmed", func() bool {
		return confirmedCount.Load() >= workers*each/4
	})
	cl.Kill(cl.LeaderIndex())
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for _, l := range ids {
		total += len(l)
	}
	if total != workers*each {
		t.Fatalf("%d confirmed of %d", total, workers*each)
	}
	t.Logf("%d messages confirmed, %d of them after more than one attempt", total, retried.Load())
	qi := waitQueue(t, ctx, c, "q", func(qi client.QueueInfo) bool { return qi.Messages >= int64(total) })
	if qi.Messages != int64(total) {
		t.Fatalf("queue holds %d messages for %d confirmed publishes: duplicates were enqueued", qi.Messages, total)
	}
	// And they are the confirmed ones, each once.
	s, err := c.Subscribe(ctx, "q", client.WithPrefetch(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	seen := make(map[string]bool, total)
	for _, d := range collect(t, ctx, s, total) {
		if seen[d.ID] {
			t.Fatalf("message %s delivered twice", d.ID)
		}
		seen[d.ID] = true
		if err := d.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range ids {
		for _, id := range l {
			if !seen[id] {
				t.Fatalf("confirmed message %s not in the queue", id)
			}
		}
	}
}

func isDone(p *client.PendingConfirm) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}

func record(p *client.PendingConfirm, ids *[]string, n, retried *atomic.Int64, errs chan<- error) bool {
	conf, err := p.Wait(context.Background())
	if err != nil {
		errs <- fmt.Errorf("publish %s: %w", p.ID(), err)
		return false
	}
	*ids = append(*ids, conf.ID)
	n.Add(1)
	if conf.Attempts > 1 {
		retried.Add(1)
	}
	return true
}
