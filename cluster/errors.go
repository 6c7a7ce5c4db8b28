package cluster

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// Sentinel errors returned by this package. Test for them with errors.Is;
// returned errors wrap them with context.
var (
	// ErrNotLeader means this node is not the Raft leader and nothing was
	// proposed. It is always safe to retry on the leader (see Node.Leader).
	// When no leader is known at all, the error also matches ErrNoLeader.
	ErrNotLeader = errors.New("cluster: not the leader")

	// ErrNoLeader means no leader is currently known (an election is in
	// progress or the cluster has no quorum). Safe to retry later.
	ErrNoLeader = errors.New("cluster: no known leader")

	// ErrIndeterminate means leadership was lost (or the caller gave up)
	// after the command was handed to Raft: it may or may not be committed.
	// A retry is safe only if applying the command twice is harmless, for
	// example because the state machine drops duplicates by message ID.
	ErrIndeterminate = errors.New("cluster: outcome unknown, leadership lost during apply")

	// ErrShutdown means the node has been shut down (or is shutting down).
	ErrShutdown = errors.New("cluster: node is shut down")

	// ErrUnknownNode means the named server is not in the Raft configuration.
	ErrUnknownNode = errors.New("cluster: unknown node")

	// ErrInvalidConfig means a Config field is missing or malformed.
	ErrInvalidConfig = errors.New("cluster: invalid config")
)

// notLeaderErr builds the error returned when a leader-only call reaches a
// follower: it names the leader when one is known and also matches
// ErrNoLeader when none is.
func (n *Node) notLeaderErr(op string) error {
	if _, id := n.raft.LeaderWithID(); id != "" {
		return fmt.Errorf("%s: %w (leader is %s)", op, ErrNotLeader, id)
	}
	return fmt.Errorf("%s: %w: %w", op, ErrNotLeader, ErrNoLeader)
}

// mapRaftErr translates a hashicorp/raft error into this package's
// sentinels. proposed says whether the operation may already have been
// appended to the log, in which case losing leadership makes the outcome
// unknown (ErrIndeterminate) instead of a clean ErrNotLeader.
func (n *Node) mapRaftErr(op string, err error, proposed bool) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrRaftShutdown):
		if proposed {
			// Committed entries still queued for the FSM are answered so
			// at shutdown: the command may be in the log.
			return fmt.Errorf("%s: %w: %w", op, ErrIndeterminate, ErrShutdown)
		}
		return fmt.Errorf("%s: %w", op, ErrShutdown)
	case errors.Is(err, raft.ErrNotLeader):
		return n.notLeaderErr(op)
	case errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, raft.ErrAbortedByRestore):
		if proposed {
			return fmt.Errorf("%s: %w: %w", op, ErrIndeterminate, err)
		}
		return fmt.Errorf("%s: %w: %w", op, n.notLeaderErr("raft"), err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}
