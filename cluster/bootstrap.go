package cluster

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

const (
	joinBackoffMin = 100 * time.Millisecond
	joinBackoffMax = 5 * time.Second
	// bootstrapPoll re-checks bootstrap conditions between gossip events.
	bootstrapPoll = 250 * time.Millisecond
)

// joinLoop joins the gossip seeds, retrying with bounded exponential
// backoff until one answers or the node stops. Seeds that are not up yet
// are normal: the first nodes of a cluster usually start together.
func (n *Node) joinLoop(seeds []string) {
	backoff := joinBackoffMin
	for attempt := 1; ; attempt++ {
		k, err := n.ml.Join(seeds)
		if k > 0 {
			n.log.Info("joined gossip", "seeds", seeds, "contacted", k)
			select {
			case n.bootstrapKick <- struct{}{}:
			default:
			}
			return
		}
		level := n.log.Debug
		if attempt%10 == 0 {
			level = n.log.Warn
		}
		level("gossip join failed, retrying", "seeds", seeds, "attempt", attempt, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-n.stopCh:
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, joinBackoffMax)
	}
}

// bootstrapLoop runs on a node without Raft state when BootstrapExpect > 1.
// Once BootstrapExpect servers (this one included) see each other in gossip
// and none of them has Raft state, it bootstraps a configuration of all of
// them as voters, sorted by ID. Every such node computes the same
// configuration from the same gossip view, which is what makes concurrent
// bootstraps safe. If any seen member already has state, a cluster exists:
// this node waits for its leader to add it. The loop ends once this node
// has state (bootstrapped, or added by a leader) or stops.
func (n *Node) bootstrapLoop() {
	t := time.NewTicker(bootstrapPoll)
	defer t.Stop()
	waiting := false
	for {
		if n.raft.LastIndex() > 0 {
			return
		}
		servers, existing := n.bootstrapView()
		switch {
		case existing != "":
			if !waiting {
				n.log.Info("a cluster already exists, waiting to be added", "member_with_state", existing)
				waiting = true
			}
		case len(servers) >= n.cfg.BootstrapExpect:
			err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error()
			switch {
			case err == nil:
				n.log.Info("bootstrapped a new cluster", "voters", len(servers))
			case errors.Is(err, raft.ErrCantBootstrap):
				n.log.Info("not bootstrapping: raft state appeared meanwhile")
			default:
				n.log.Error("bootstrap failed", "err", err)
			}
			return
		}
		select {
		case <-n.stopCh:
			return
		case <-t.C:
		case <-n.bootstrapKick:
		}
	}
}

// bootstrapView returns the live gossip servers (this node included) as a
// configuration sorted by ID, or the ID of a member that already has Raft
// state.
func (n *Node) bootstrapView() (servers []raft.Server, existing string) {
	self := false
	for _, p := range n.g.snapshot() { // sorted by ID
		if !p.alive {
			continue
		}
		if p.meta.ID == n.id {
			self = true
		} else if p.meta.HasState {
			return nil, p.meta.ID
		}
		servers = append(servers, raft.Server{
			Suffrage: raft.Voter,
			ID:       raft.ServerID(p.meta.ID),
			Address:  raft.ServerAddress(p.meta.RaftAddr),
		})
	}
	if !self {
		return nil, "" // gossip has not reported this node yet
	}
	return servers, ""
}
