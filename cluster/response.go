package cluster

import "github.com/hashicorp/raft"

// Response unwraps the response of a future returned by Raft().Apply on a
// Node: the state machine's own response and the term of the log entry that
// holds the command. Use it when proposing through Raft directly (to
// pipeline several commands) instead of through Node.Apply.
func Response(f raft.ApplyFuture) (resp any, term uint64) {
	if r, ok := f.Response().(applyResult); ok {
		return r.resp, r.term
	}
	return f.Response(), 0
}
