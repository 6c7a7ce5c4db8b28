package runner

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/raftmq/raftmq/client"
	"github.com/raftmq/raftmq/jepsen-lite/checker"
	"github.com/raftmq/raftmq/jepsen-lite/history"
	"github.com/raftmq/raftmq/jepsen-lite/internal/wait"
)

// drainProcess is the process of the drain operation; drain consumers use
// the processes after it.
const drainProcess = 90_000_000

// want returns the (message ID, queue) pairs the history says must be
// delivered: every confirmed publish, to every queue its bindings name.
func want(ops []history.Op, topo checker.Topology) map[[2]string]bool {
	pairs, err := history.Pairs(ops)
	if err != nil {
		return nil
	}
	out := make(map[[2]string]bool)
	for _, p := range pairs {
		if p.Invoke.F != history.FPublish || p.Completion.Type != history.Ok {
			continue
		}
		qs, err := topo.Route(p.Invoke.Value.Exchange, p.Invoke.Value.Key, p.Invoke.Value.Headers)
		if err != nil {
			continue
		}
		for _, q := range qs {
			out[[2]string{p.Invoke.Value.ID, q}] = true
		}
	}
	for _, op := range ops {
		if op.F == history.FDeliver {
			delete(out, [2]string{op.Value.ID, op.Value.Queue})
		}
	}
	return out
}

// drain consumes every queue of topo, acking everything, until every
// confirmed message was seen and every queue is empty (recorded ok with
// Empty), or every queue stayed empty while some confirmed messages never
// came (ok with Empty and Missing: they are lost), or timeout (info: the
// run's verdict on lost messages is then unknown).
func drain(ctx context.Context, addrs []string, rec *history.Recorder, topo checker.Topology, timeout time.Duration, log, clog *slog.Logger) {
	inv := rec.Invoke(drainProcess, history.FDrain, history.Value{})
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var mu sync.Mutex
	missing := want(rec.Ops(), topo)
	seen := func(id, q string) {
		mu.Lock()
		delete(missing, [2]string{id, q})
		mu.Unlock()
	}
	left := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(missing)
	}
	log.Info("draining", "queues", topo.Queues, "confirmed_unseen", left())

	var wg sync.WaitGroup
	cctx, stop := context.WithCancel(ctx)
	for i, q := range topo.Queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			drainQueue(cctx, addrs, rec, q, drainProcess+1+i, seen, log, clog)
		}()
	}
	defer func() {
		stop()
		wg.Wait()
	}()

	ic, err := client.Dial(ctx, addrs, client.WithName("drain-inspect"), client.WithLogger(clog))
	if err != nil {
		rec.Complete(inv, history.Info, history.Value{Missing: left()}, 0, fmt.Errorf("drain: connect: %w", err))
		return
	}
	defer ic.Close()
	emptyRounds := 0
	for i := 0; i < 100000; i++ {
		if !wait.Sleep(ctx, 500*time.Millisecond) {
			break
		}
		empty := true
		for _, q := range topo.Queues {
			qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
			info, err := ic.InspectQueue(qctx, q)
			qcancel()
			if err != nil || info.Messages > 0 {
				empty = false
				break
			}
		}
		n := left()
		switch {
		case empty && n == 0:
			rec.Complete(inv, history.Ok, history.Value{Empty: true}, 0, nil)
			return
		case empty:
			// Every queue is empty yet confirmed messages are missing:
			// give in-flight deliveries a few rounds, then call them lost.
			emptyRounds++
			if emptyRounds >= 6 {
				rec.Complete(inv, history.Ok, history.Value{Empty: true, Missing: n}, 0, nil)
				log.Warn("drain: queues empty, confirmed messages missing", "missing", n)
				return
			}
		default:
			emptyRounds = 0
		}
	}
	rec.Complete(inv, history.Info, history.Value{Missing: left()}, 0, fmt.Errorf("drain timed out after %s", timeout))
}

// drainQueue consumes q until ctx ends, acking and recording everything.
func drainQueue(ctx context.Context, addrs []string, rec *history.Recorder, q string, process int, seen func(id, q string), log, clog *slog.Logger) {
	for round := 0; ctx.Err() == nil && round < 1000; round++ {
		c, err := client.Dial(ctx, addrs, client.WithName("drain-"+q), client.WithLogger(clog))
		if err != nil {
			wait.Sleep(ctx, 200*time.Millisecond)
			continue
		}
		sub, err := c.Subscribe(ctx, q, client.WithPrefetch(256), client.WithTag("drain"))
		if err != nil {
			c.Close()
			log.Warn("drain: subscribe failed", "queue", q, "err", err)
			wait.Sleep(ctx, 200*time.Millisecond)
			continue
		}
		func() {
			defer c.Close()
			defer sub.Close()
			for {
				select {
				case <-ctx.Done():
					return
				case d, ok := <-sub.Deliveries():
					if !ok {
						return
					}
					rec.Append(history.Op{Type: history.Ok, Process: process, F: history.FDeliver, Value: history.Value{
						ID: d.ID, Queue: d.Queue, Seq: d.Seq, Exchange: d.Exchange, Key: d.RoutingKey,
						Redelivered: d.Redelivered, DeliveryCount: d.DeliveryCount, Action: history.ActionAck,
					}})
					seen(d.ID, d.Queue)
					_ = d.Ack()
				}
			}
		}()
	}
}
