//go:build raftmq_bug_lose && !raftmq_bug_dup

package fsm

import "github.com/hashicorp/raft"

// A PLANTED BUG, for jepsen-lite's own tests only (build tag
// raftmq_bug_lose): after every leader change, the first publish command of
// the new term that enqueues a message is confirmed as usual but one of its
// messages is silently removed from its queue. jepsen-lite must report it as lost.

// bugLastTerm is the term of the last command applied; Raft applies from
// one goroutine.
var bugLastTerm uint64

func applyHook(s *state, l *raft.Log, touched map[string]struct{}) *Result {
	armed := bugLastTerm != 0 && l.Term > bugLastTerm
	bugLastTerm = max(bugLastTerm, l.Term)
	if !armed || len(l.Data) == 0 || Op(l.Data[0]) != OpPublish {
		if armed {
			bugLastTerm = l.Term - 1 // stay armed until a publish comes
		}
		return s.apply(l.Data, touched)
	}
	before := make(map[string]uint64, len(s.queues))
	for name, q := range s.queues {
		before[name] = q.NextSeq()
	}
	res := s.apply(l.Data, touched)
	for name, q := range s.queues {
		if seq, ok := before[name]; ok && q.NextSeq() > seq && q.Settle(seq) {
			touched[name] = struct{}{}
			return res
		}
	}
	// Nothing new was enqueued: after a leader change the first publish
	// is often a client's retry that de-duplication drops whole. Stay
	// armed until a publish enqueues a message, so every leader change
	// loses one.
	bugLastTerm = l.Term - 1
	return res
}
