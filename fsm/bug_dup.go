//go:build raftmq_bug_dup && !raftmq_bug_lose

package fsm

import (
	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/wire"
)

// A PLANTED BUG, for jepsen-lite's own tests only (build tag raftmq_bug_dup):
// de-duplication is disabled, and every 25th message enqueued is answered
// "outcome unknown" although it was enqueued, so that the client retries it
// and it is enqueued twice. jepsen-lite must report a duplicate enqueue.

// bugRouted counts routed messages; Raft applies from one goroutine.
var bugRouted int

func applyHook(s *state, l *raft.Log, touched map[string]struct{}) *Result {
	s.dedup = newDedup()
	res := s.apply(l.Data, touched)
	if res == nil || len(l.Data) == 0 || Op(l.Data[0]) != OpPublish {
		return res
	}
	for i, mr := range res.Messages {
		if mr.Status != Routed {
			continue
		}
		bugRouted++
		if bugRouted%25 == 0 {
			res.Messages[i] = MessageResult{Status: Failed, Err: &wire.Error{Code: wire.CodeIndeterminate, Message: "leadership lost before the outcome was known"}}
		}
	}
	return res
}
