package cluster

import (
	"io"

	"github.com/hashicorp/raft"
)

// LogReader reads entries back from the Raft log; the node's log store is
// one. (An alias, so that an FSM package can name the same type without
// importing cluster.)
type LogReader = interface {
	GetLog(index uint64, log *raft.Log) error
}

// LogReadingFSM is an FSM that reads entries it has applied back from the
// Raft log instead of keeping copies of what they hold (fsm.FSM keeps
// message bodies this way). Unless Config.NoLogReadBack is set, the node
// gives it the log store before Raft starts, and before each log compaction
// asks LogFloor for the lowest entry it still reads; compaction keeps that
// entry and every later one. keep is Config.TrailingLogs: the FSM may stop
// reading entries older than that, so that the log does not grow for ever.
type LogReadingFSM interface {
	raft.FSM
	UseLog(r LogReader)
	LogFloor(keep uint64) uint64
}

// applyResult is what the wrapped FSM hands back through an ApplyFuture:
// the caller's response plus the term of the entry, which ApplyFuture does
// not expose and which must be exact (read from the entry, not from the
// node's current term, which may have moved on).
type applyResult struct {
	resp any
	term uint64
}

// termFSM wraps the caller's FSM so that Node.Apply can report the term of
// each applied entry.
type termFSM struct {
	inner raft.FSM
}

func (f termFSM) Apply(l *raft.Log) any {
	return applyResult{resp: f.inner.Apply(l), term: l.Term}
}

func (f termFSM) Snapshot() (raft.FSMSnapshot, error) { return f.inner.Snapshot() }

func (f termFSM) Restore(rc io.ReadCloser) error { return f.inner.Restore(rc) }

// batchingTermFSM keeps a raft.BatchingFSM batching after wrapping.
type batchingTermFSM struct {
	termFSM
	batch raft.BatchingFSM
}

func (f batchingTermFSM) ApplyBatch(logs []*raft.Log) []any {
	resps := f.batch.ApplyBatch(logs)
	out := make([]any, len(logs))
	for i, l := range logs {
		var r any
		if i < len(resps) {
			r = resps[i]
		}
		out[i] = applyResult{resp: r, term: l.Term}
	}
	return out
}

func wrapFSM(f raft.FSM) raft.FSM {
	if b, ok := f.(raft.BatchingFSM); ok {
		return batchingTermFSM{termFSM: termFSM{inner: f}, batch: b}
	}
	return termFSM{inner: f}
}
