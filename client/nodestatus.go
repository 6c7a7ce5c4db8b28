package client

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/raftmq/raftmq/wire"
)

// NodeStatus asks exactly the node at addr (a client address) for its view
// of the cluster: its own Raft state, term, commit and applied index, and the
// members it knows. Unlike Client.Status it does not look for the leader, so
// it works while the cluster has none, and it shows how far that one node
// has caught up. A node that knows no leader holds a new connection's
// handshake for up to a second waiting for an election, so without a leader
// the answer takes that long.
func NodeStatus(ctx context.Context, addr string) (Status, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return Status{}, fmt.Errorf("node status: dial %s: %w", addr, err)
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	} else {
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	w := wire.NewWriter(nc)
	r := wire.NewReader(nc, 0)
	if err := w.WriteFrame(wire.THello, 1, &wire.Hello{Version: wire.Version, Client: libraryName}); err != nil {
		return Status{}, fmt.Errorf("node status: %w", err)
	}
	if err := w.WriteFrame(wire.TStatus, 2, &wire.Status{}); err != nil {
		return Status{}, fmt.Errorf("node status: %w", err)
	}
	if err := w.Flush(); err != nil {
		return Status{}, fmt.Errorf("node status: send to %s: %w", addr, err)
	}
	for {
		f, err := r.Next()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return Status{}, fmt.Errorf("node status: read from %s: %w", addr, err)
		}
		switch {
		case f.Type == wire.TError:
			var e wire.Error
			if err := wire.Decode(f, &e); err != nil {
				return Status{}, fmt.Errorf("node status: %w", err)
			}
			return Status{}, fmt.Errorf("node status from %s: %w", addr, fromWire(&e))
		case f.ReqID == 2 && f.Type == wire.TStatusInfo:
			var si wire.StatusInfo
			if err := wire.Decode(f, &si); err != nil {
				return Status{}, fmt.Errorf("node status: %w", err)
			}
			return statusOf(&si), nil
		}
	}
}
