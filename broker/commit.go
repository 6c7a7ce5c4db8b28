package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/cluster"
	"github.com/raftmq/raftmq/fsm"
)

// The committer is the leader's group commit. Publishes, acks and returns from
// every connection go into one queue; a single loop takes whatever has
// arrived, turns it into at most one Raft command per kind (publish, settle,
// return with and without requeue) and hands those to Raft in order. While
// those entries are being replicated and fsynced, new requests pile up and
// form the next batch: there is no timer and no fixed sleep, so an idle
// broker answers one publish at once and a busy one fills large batches.
//
// At most maxInFlight batches are in Raft at once. The loop enqueues the
// commands itself (raft.Apply keeps the order of its callers), so messages
// from one connection are enqueued in the order they were sent; waiting for
// the futures happens on separate goroutines.

// commitResult is what a submitter learns about its request.
type commitResult struct {
	results []fsm.MessageResult // publish only: one per message
	count   int64
	index   uint64
	term    uint64
	err     error
}

type commitReq struct {
	kind    fsm.Op
	requeue bool                 // for OpReturn
	msgs    []fsm.PublishMessage // OpPublish
	seqs    []fsm.QueueSeqs      // OpSettle, OpReturn
	done    func(commitResult)   // called once, from a committer goroutine; must not block
}

type committer struct {
	raft        *raft.Raft
	maxBatch    int // messages per publish command
	maxBytes    int // body bytes per publish command
	maxInFlight int
	metrics     *metrics

	mu      sync.Mutex
	pending []*commitReq
	wake    chan struct{}
	closed  bool

	inflight chan struct{} // semaphore
	wg       sync.WaitGroup
}

func newCommitter(r *raft.Raft, m *metrics) *committer {
	return &committer{
		raft:        r,
		maxBatch:    4096,
		maxBytes:    8 << 20,
		maxInFlight: 2,
		metrics:     m,
		wake:        make(chan struct{}, 1),
		inflight:    make(chan struct{}, 2),
	}
}

// submit queues a request. It never blocks. After close it fails at once.
func (c *committer) submit(r *commitReq) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		r.done(commitResult{err: errNotLeader})
		return
	}
	c.pending = append(c.pending, r)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run is the loop; it returns when ctx ends, after failing what is queued.
func (c *committer) run(ctx context.Context) {
	defer c.drainAndClose()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		for {
			// Wait for a free slot first: whatever arrives meanwhile joins
			// this batch.
			select {
			case c.inflight <- struct{}{}:
			case <-ctx.Done():
				return
			}
			batch := c.take()
			if len(batch) == 0 {
				<-c.inflight
				break
			}
			c.flush(ctx, batch)
		}
	}
}

// take removes up to one batch's worth of requests from the queue.
func (c *committer) take() []*commitReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, msgs, bytes := 0, 0, 0
	for n < len(c.pending) {
		r := c.pending[n]
		if n > 0 && (msgs+len(r.msgs) > c.maxBatch || bytes > c.maxBytes) {
			break
		}
		msgs += len(r.msgs)
		for i := range r.msgs {
			bytes += len(r.msgs[i].Body)
		}
		n++
	}
	batch := make([]*commitReq, n)
	copy(batch, c.pending[:n])
	rest := copy(c.pending, c.pending[n:])
	clear(c.pending[rest:])
	c.pending = c.pending[:rest]
	return batch
}

func (c *committer) drainAndClose() {
	c.mu.Lock()
	c.closed = true
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, r := range pending {
		r.done(commitResult{err: errNotLeader})
	}
	c.wg.Wait()
}

type group struct {
	op      fsm.Op
	requeue bool
	reqs    []*commitReq
}

// flush turns a batch into commands, proposes them in order and waits for
// them on a goroutine that releases the in-flight slot.
func (c *committer) flush(ctx context.Context, batch []*commitReq) {
	var pub, settle, retq, retn group
	pub.op, settle.op, retq.op, retn.op = fsm.OpPublish, fsm.OpSettle, fsm.OpReturn, fsm.OpReturn
	retq.requeue = true
	for _, r := range batch {
		switch {
		case r.kind == fsm.OpPublish:
			pub.reqs = append(pub.reqs, r)
		case r.kind == fsm.OpSettle:
			settle.reqs = append(settle.reqs, r)
		case r.kind == fsm.OpReturn && r.requeue:
			retq.reqs = append(retq.reqs, r)
		default:
			retn.reqs = append(retn.reqs, r)
		}
	}
	now := time.Now().UnixNano()
	term := c.raft.CurrentTerm()
	type proposed struct {
		g   group
		fut raft.ApplyFuture
		err error
	}
	var props []proposed
	for _, g := range []group{settle, retq, retn, pub} {
		if len(g.reqs) == 0 {
			continue
		}
		cmd, err := encodeGroup(g, now)
		if err != nil {
			props = append(props, proposed{g: g, err: err})
			continue
		}
		props = append(props, proposed{g: g, fut: c.raft.Apply(cmd, 0)})
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.inflight }()
		for _, p := range props {
			if p.err != nil {
				for _, r := range p.g.reqs {
					r.done(commitResult{err: p.err})
				}
				continue
			}
			start := time.Now()
			err := p.fut.Error()
			c.metrics.observeApply(time.Since(start))
			if err != nil {
				err = mapRaftError(err)
				for _, r := range p.g.reqs {
					r.done(commitResult{err: err})
				}
				continue
			}
			resp, entryTerm := cluster.Response(p.fut)
			if entryTerm == 0 {
				entryTerm = term
			}
			deliverGroup(p.g, resp, p.fut.Index(), entryTerm)
		}
	}()
}

func encodeGroup(g group, now int64) ([]byte, error) {
	switch g.op {
	case fsm.OpPublish:
		n := 0
		for _, r := range g.reqs {
			n += len(r.msgs)
		}
		p := &fsm.Publish{Time: now, Messages: make([]fsm.PublishMessage, 0, n)}
		for _, r := range g.reqs {
			p.Messages = append(p.Messages, r.msgs...)
		}
		return fsm.Encode(fsm.OpPublish, p)
	case fsm.OpSettle:
		s := &fsm.Settle{}
		for _, r := range g.reqs {
			s.Entries = append(s.Entries, r.seqs...)
		}
		return fsm.Encode(fsm.OpSettle, s)
	default:
		rt := &fsm.Return{Time: now, Requeue: g.requeue}
		for _, r := range g.reqs {
			rt.Entries = append(rt.Entries, r.seqs...)
		}
		return fsm.Encode(fsm.OpReturn, rt)
	}
}

func deliverGroup(g group, resp any, index, term uint64) {
	res, ok := resp.(*fsm.Result)
	if !ok || res == nil {
		for _, r := range g.reqs {
			r.done(commitResult{err: fmt.Errorf("%w: unexpected apply response %T", errInternal, resp)})
		}
		return
	}
	if res.Err != nil {
		for _, r := range g.reqs {
			r.done(commitResult{err: res.Err, index: index, term: term})
		}
		return
	}
	off := 0
	for _, r := range g.reqs {
		cr := commitResult{index: index, term: term, count: res.Count}
		if g.op == fsm.OpPublish {
			end := off + len(r.msgs)
			if end > len(res.Messages) {
				cr.err = fmt.Errorf("%w: %d results for %d messages", errInternal, len(res.Messages), end)
			} else {
				cr.results = res.Messages[off:end]
			}
			off = end
		}
		r.done(cr)
	}
}

// mapRaftError sorts Raft's errors into "nothing was proposed" (not leader,
// safe to send elsewhere) and "outcome unknown" (indeterminate).
func mapRaftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", errNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrRaftShutdown), errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %w", errIndeterminate, err)
	}
	return fmt.Errorf("%w: %w", errIndeterminate, err)
}
