package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/raftmq/raftmq/wire"
)

// probeTimeout bounds one status probe of one node.
const probeTimeout = 2 * time.Second

// probe asks the node at addr for its own status over a short-lived
// connection of its own. The client library cannot do this: it follows the
// leader, so its Status is the leader's view, and the bench needs every
// node's applied index.
func probe(ctx context.Context, addr string) (*wire.StatusInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", addr, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	w := wire.NewWriter(nc)
	r := wire.NewReader(nc, wire.DefaultMaxFrameSize)
	if err := w.WriteFrame(wire.THello, 1, &wire.Hello{Version: wire.Version, Client: "raftmq-bench"}); err != nil {
		return nil, fmt.Errorf("status of %s: hello: %w", addr, err)
	}
	if err := w.WriteFrame(wire.TStatus, 2, &wire.Status{}); err != nil {
		return nil, fmt.Errorf("status of %s: status request: %w", addr, err)
	}
	if err := w.Flush(); err != nil {
		return nil, fmt.Errorf("status of %s: %w", addr, err)
	}
	for {
		f, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("status of %s: %w", addr, err)
		}
		switch f.Type {
		case wire.THelloOK:
			continue
		case wire.TStatusInfo:
			var si wire.StatusInfo
			if err := wire.Decode(f, &si); err != nil {
				return nil, fmt.Errorf("status of %s: %w", addr, err)
			}
			return &si, nil
		case wire.TError:
			var we wire.Error
			if err := wire.Decode(f, &we); err != nil {
				return nil, fmt.Errorf("status of %s: %w", addr, err)
			}
			return nil, fmt.Errorf("status of %s: %w", addr, &we)
		default:
			return nil, fmt.Errorf("status of %s: unexpected %s frame", addr, f.Type)
		}
	}
}

// view is what the probes of every server said at one moment.
type view struct {
	st   []*wire.StatusInfo // by server index; nil when the node did not answer
	errs []error
}

// probeAll probes every server, in order.
func probeAll(ctx context.Context, servers []string) view {
	v := view{st: make([]*wire.StatusInfo, len(servers)), errs: make([]error, len(servers))}
	for i, s := range servers {
		v.st[i], v.errs[i] = probe(ctx, s)
	}
	return v
}

// leader returns the index of the server that says it leads, or -1.
func (v view) leader() int {
	for i, s := range v.st {
		if s != nil && s.State == "leader" {
			return i
		}
	}
	return -1
}

// current reports whether the cluster has a leader and every server
// answered and has applied everything the leader had committed when it was
// probed; otherwise it says why not. Servers are probed in order, so the
// leader's commit index may be older than a follower's answer: applied >=
// that commit index is "current". With no traffic it means equality.
func (v view) current() (bool, string) {
	return v.everyNode("applied index", func(s *wire.StatusInfo) uint64 { return s.AppliedIndex })
}

// replicated reports whether every node follows the leader and holds in its
// log every entry the leader had committed when it was asked: what NATS
// calls a "current" replica and RabbitMQ an online member. It is W4's
// recovery test, made while publishing goes on. current is stricter (every
// node has applied the leader's commit index) and holds only once writes
// pause: a follower learns of a commit with the leader's next message, so
// under a steady stream of publishes it always trails by an entry or two.
func (v view) replicated() (bool, string) {
	return v.everyNode("last log index", func(s *wire.StatusInfo) uint64 { return s.LastLogIndex })
}

// everyNode reports whether there is a leader, every server answered and
// follows it, and index(server) reaches the leader's commit index for
// every server; otherwise it says why not, naming the index as what.
func (v view) everyNode(what string, index func(*wire.StatusInfo) uint64) (bool, string) {
	l := v.leader()
	if l < 0 {
		var why []string
		for i, s := range v.st {
			if s == nil {
				why = append(why, fmt.Sprintf("server %d: %v", i, v.errs[i]))
			} else {
				why = append(why, fmt.Sprintf("%s: %s", s.NodeID, s.State))
			}
		}
		return false, "no leader (" + strings.Join(why, "; ") + ")"
	}
	lead := v.st[l]
	for i, s := range v.st {
		if s == nil {
			return false, fmt.Sprintf("server %d does not answer: %v", i, v.errs[i])
		}
		if s.LeaderID != lead.NodeID {
			return false, fmt.Sprintf("%s follows %q, not %s", s.NodeID, s.LeaderID, lead.NodeID)
		}
		if got := index(s); got < lead.CommitIndex {
			return false, fmt.Sprintf("%s %s %d < leader commit %d", s.NodeID, what, got, lead.CommitIndex)
		}
	}
	return true, fmt.Sprintf("leader %s, all %d nodes: %s >= %d", lead.NodeID, len(v.st), what, lead.CommitIndex)
}

// errNotCurrent: the cluster did not become current in time.
var errNotCurrent = errors.New("cluster not current")

// waitCurrent polls (every interval) until every server is current, and
// returns the view that was.
func waitCurrent(ctx context.Context, servers []string, timeout, interval time.Duration) (view, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		v := probeAll(ctx, servers)
		ok, why := v.current()
		if ok {
			return v, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, fmt.Errorf("after %v: %s: %w", timeout, why, errNotCurrent)
		case <-t.C:
		}
	}
}
