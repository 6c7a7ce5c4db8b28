package cluster

import (
	"time"

	"github.com/hashicorp/raft"
)

const (
	// promoteSlack: a non-voter whose applied index is within this many
	// entries of the leader's commit index is caught up.
	promoteSlack = 64
	// promoteLag: under steady load the published applied index is always
	// a little old (it is refreshed every metaInterval), so a non-voter is
	// also caught up once it has applied everything the leader had
	// committed promoteLag ago.
	promoteLag = 3 * metaInterval
	// commitHistory is how long the leader keeps commit-index samples.
	commitHistory = 4 * promoteLag
	// barrierRetry is the pause between failed establishing barriers.
	barrierRetry = 100 * time.Millisecond
)

// leaderState is what the leader loop remembers during one term.
type leaderState struct {
	// skipped: members already logged as not added, and why.
	skipped map[string]string
	// nonvoterSince: for each non-voter, an index at or after the entry
	// that added it; it is not promoted before it has applied that.
	nonvoterSince map[string]uint64
}

type commitSample struct {
	at    time.Time
	index uint64
}

// leaderLoop is the only consumer of raft's NotifyCh. It runs the leader's
// duties for each term this node leads and reports leadership changes to
// Config.OnLeaderChange, serially.
func (n *Node) leaderLoop() {
	for {
		select {
		case <-n.stopCh:
			return
		case isLeader := <-n.notifyCh:
			if isLeader {
				n.lead()
			}
		}
	}
}

// lead runs one term of leadership: establish with a barrier, announce,
// reconcile until leadership is lost or the node stops, announce the end.
func (n *Node) lead() {
	if !n.establish() {
		return
	}
	n.log.Info("leadership established", "term", n.raft.CurrentTerm())
	n.announce(true)
	defer n.announce(false)
	n.commits = n.commits[:0]
	ls := &leaderState{skipped: make(map[string]string), nonvoterSince: make(map[string]uint64)}
	n.reconcile(ls)
	t := time.NewTicker(n.cfg.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stopCh:
			return
		case isLeader := <-n.notifyCh:
			if !isLeader {
				n.log.Info("leadership lost")
				return
			}
		case <-t.C:
			n.reconcile(ls)
		case <-n.leaderKick:
			n.reconcile(ls)
		}
	}
}

// establish issues barriers until one succeeds (every entry of earlier
// terms is then applied locally) or leadership is lost.
func (n *Node) establish() bool {
	for {
		err := n.raft.Barrier(0).Error()
		if err == nil {
			return true
		}
		if n.raft.State() != raft.Leader {
			return false
		}
		n.log.Warn("leader barrier failed, retrying", "err", err)
		select {
		case <-n.stopCh:
			return false
		case <-time.After(barrierRetry):
		}
	}
}

func (n *Node) announce(isLeader bool) {
	if n.cfg.OnLeaderChange != nil {
		n.cfg.OnLeaderChange(isLeader)
	}
}

// reconcile makes at most one Raft configuration change that brings the
// configuration closer to gossip:
//   - a live gossip member missing from Raft is added as a non-voter,
//     unless it is tombstoned or already has Raft state of its own (a server
//     removed earlier, or one from another cluster);
//   - a member (this leader included) whose Raft address changed is
//     re-added at the new address;
//   - a caught-up non-voter is promoted to voter: it must have applied the
//     entry that added it and be close to the commit index (see caughtUp).
//
// It never removes anyone: a voter that gossip reports dead stays a voter.
// ls carries state across the rounds of one term of leadership.
//
// hashicorp/raft v1.7 reports index 0 for the configuration returned by
// GetConfiguration, so changes cannot be made conditional on it (prevIndex);
// instead configMu serialises reconcile with RemoveServer, the only other
// configuration change, and both decide on the latest (possibly not yet
// committed) configuration.
func (n *Node) reconcile(ls *leaderState) {
	if n.raft.State() != raft.Leader {
		return
	}
	n.configMu.Lock()
	defer n.configMu.Unlock()
	now := time.Now()
	n.recordCommit(now)
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		n.log.Warn("reconcile: read configuration", "err", err)
		return
	}
	servers := make(map[string]raft.Server)
	for _, s := range f.Configuration().Servers {
		servers[string(s.ID)] = s
		if s.Suffrage != raft.Voter {
			if _, ok := ls.nonvoterSince[string(s.ID)]; !ok {
				// Added before this term: its entry is in our log by now.
				ls.nonvoterSince[string(s.ID)] = n.raft.LastIndex()
			}
		}
	}
	if s, ok := servers[n.id]; ok && s.Address != raft.ServerAddress(n.RaftAddr()) {
		// Restarted at a new address: fix our own entry first.
		fut := n.raft.AddVoter(s.ID, raft.ServerAddress(n.RaftAddr()), 0, 0)
		if err := fut.Error(); err != nil {
			n.log.Warn("reconcile: updating own raft address failed", "err", err)
		} else {
			n.log.Info("reconcile: updated own raft address", "raft_addr", n.RaftAddr())
		}
		return
	}
	for _, p := range n.g.snapshot() {
		id := p.meta.ID
		if id == n.id || !p.alive {
			continue
		}
		addr := raft.ServerAddress(p.meta.RaftAddr)
		s, inRaft := servers[id]
		var (
			fut  raft.IndexFuture
			what string
		)
		switch {
		case !inRaft:
			reason := ""
			if n.tombstoned(id) {
				reason = "removed by an admin"
			} else if p.meta.HasState {
				reason = "has raft state but is not in the configuration"
			}
			if reason != "" {
				if ls.skipped[id] != reason {
					ls.skipped[id] = reason
					n.log.Info("reconcile: not adding gossip member", "id", id, "reason", reason)
				}
				continue
			}
			what = "add nonvoter"
			fut = n.raft.AddNonvoter(raft.ServerID(id), addr, 0, 0)
		case s.Address != addr:
			what = "update address"
			if s.Suffrage == raft.Voter {
				fut = n.raft.AddVoter(raft.ServerID(id), addr, 0, 0)
			} else {
				fut = n.raft.AddNonvoter(raft.ServerID(id), addr, 0, 0)
			}
		case s.Suffrage != raft.Voter && p.meta.Applied >= ls.nonvoterSince[id] && n.caughtUp(p.meta.Applied, now):
			what = "promote to voter"
			fut = n.raft.AddVoter(raft.ServerID(id), addr, 0, 0)
		default:
			continue
		}
		if err := fut.Error(); err != nil {
			n.log.Warn("reconcile: configuration change failed", "change", what, "id", id, "err", err)
		} else {
			n.log.Info("reconcile: configuration changed", "change", what, "id", id, "raft_addr", addr, "index", fut.Index())
			if what == "add nonvoter" {
				ls.nonvoterSince[id] = fut.Index()
			}
		}
		return // one change per round
	}
}

// recordCommit samples the commit index for caughtUp.
func (n *Node) recordCommit(now time.Time) {
	n.commits = append(n.commits, commitSample{at: now, index: n.raft.CommitIndex()})
	drop := 0
	for drop < len(n.commits)-1 && now.Sub(n.commits[drop].at) > commitHistory {
		drop++
	}
	n.commits = append(n.commits[:0], n.commits[drop:]...)
}

// caughtUp reports whether a non-voter that published applied is close
// enough to the leader to vote.
func (n *Node) caughtUp(applied uint64, now time.Time) bool {
	if applied+promoteSlack >= n.raft.CommitIndex() {
		return true
	}
	for i := len(n.commits) - 1; i >= 0; i-- {
		if now.Sub(n.commits[i].at) >= promoteLag {
			return applied >= n.commits[i].index
		}
	}
	return false
}
