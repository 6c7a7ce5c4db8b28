package cluster

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/memberlist"
	"github.com/vmihailenco/msgpack/v5"
)

// metaVersion is the version of the gossip metadata encoding. Decoders
// accept any version and ignore unknown fields, so fields can be added.
const metaVersion = 1

// nodeMeta is what every node publishes about itself in gossip. Field
// names are short because memberlist caps metadata at 512 bytes.
type nodeMeta struct {
	Version  uint8  `msgpack:"v"`
	ID       string `msgpack:"id"`
	RaftAddr string `msgpack:"r"`
	Client   string `msgpack:"c,omitempty"`
	HTTP     string `msgpack:"h,omitempty"`
	Applied  uint64 `msgpack:"a"`
	HasState bool   `msgpack:"s"`
}

var errBadMeta = errors.New("bad gossip metadata")

func encodeMeta(m nodeMeta) ([]byte, error) {
	b, err := msgpack.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("encode gossip metadata: %w", err)
	}
	return b, nil
}

func decodeMeta(b []byte) (nodeMeta, error) {
	var m nodeMeta
	if len(b) == 0 {
		return m, fmt.Errorf("%w: empty", errBadMeta)
	}
	if err := msgpack.Unmarshal(b, &m); err != nil {
		return nodeMeta{}, fmt.Errorf("%w: %w", errBadMeta, err)
	}
	if m.ID == "" || m.RaftAddr == "" {
		return nodeMeta{}, fmt.Errorf("%w: missing id or raft address", errBadMeta)
	}
	return m, nil
}

// peer is the last thing gossip told us about one node.
type peer struct {
	meta       nodeMeta
	gossipAddr string
	alive      bool
}

// gossip is the memberlist Delegate and EventDelegate of a Node. memberlist
// calls the event methods with its own locks held, so they only update the
// cache under gossip.mu and signal the node's loops without blocking.
//
// Lock order: never call into memberlist (or raft) while holding gossip.mu.
type gossip struct {
	meta  atomic.Pointer[[]byte] // encoded local metadata, see Node.refreshMeta
	kicks []chan struct{}        // capacity 1 each, signalled on any change
	log   func(msg string, args ...any)

	mu    sync.Mutex
	peers map[string]peer // by node ID (memberlist name)
}

var (
	_ memberlist.Delegate      = (*gossip)(nil)
	_ memberlist.EventDelegate = (*gossip)(nil)
)

// NodeMeta returns the precomputed local metadata. It never exceeds limit:
// Node.refreshMeta stores only encodings that fit.
func (g *gossip) NodeMeta(limit int) []byte {
	p := g.meta.Load()
	if p == nil || len(*p) > limit {
		return nil
	}
	return *p
}

// NotifyMsg ignores user messages: none are sent.
func (g *gossip) NotifyMsg([]byte) {}

// GetBroadcasts returns nothing: metadata travels in alive messages.
func (g *gossip) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState has no extra state to push.
func (g *gossip) LocalState(bool) []byte { return nil }

// MergeRemoteState ignores remote state (none is sent).
func (g *gossip) MergeRemoteState([]byte, bool) {}

func (g *gossip) NotifyJoin(n *memberlist.Node)   { g.update(n, true) }
func (g *gossip) NotifyUpdate(n *memberlist.Node) { g.update(n, true) }
func (g *gossip) NotifyLeave(n *memberlist.Node)  { g.update(n, false) }

func (g *gossip) update(n *memberlist.Node, alive bool) {
	addr := net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
	meta, err := decodeMeta(n.Meta)
	if err == nil && meta.ID != n.Name {
		err = fmt.Errorf("%w: id %q differs from gossip name %q", errBadMeta, meta.ID, n.Name)
	}
	g.mu.Lock()
	p, known := g.peers[n.Name]
	if err == nil {
		p.meta = meta
	}
	p.gossipAddr = addr
	p.alive = alive
	if err == nil || known {
		g.peers[n.Name] = p
	}
	g.mu.Unlock()
	if err != nil && !known && alive {
		g.log("ignoring gossip member without usable metadata", "member", n.Name, "addr", addr, "err", err)
	}
	for _, k := range g.kicks {
		select {
		case k <- struct{}{}:
		default:
		}
	}
}

// snapshot returns a copy of the peer cache, sorted by ID.
func (g *gossip) snapshot() []peer {
	g.mu.Lock()
	out := make([]peer, 0, len(g.peers))
	for _, p := range g.peers {
		out = append(out, p)
	}
	g.mu.Unlock()
	slices.SortFunc(out, func(a, b peer) int {
		switch {
		case a.meta.ID < b.meta.ID:
			return -1
		case a.meta.ID > b.meta.ID:
			return 1
		}
		return 0
	})
	return out
}

func (g *gossip) get(id string) (peer, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.peers[id]
	return p, ok
}
