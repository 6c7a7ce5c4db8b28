//go:build !raftmq_bug_lose && !raftmq_bug_dup

package fsm

import "github.com/hashicorp/raft"

// applyHook applies one command entry. Builds tagged raftmq_bug_lose or
// raftmq_bug_dup replace it with a planted bug (bug_lose.go, bug_dup.go) so
// that jepsen-lite can show it catches lost and duplicated messages; this
// default is the plain apply.
func applyHook(s *state, l *raft.Log, touched map[string]struct{}) *Result {
	return s.apply(l.Data, touched)
}
