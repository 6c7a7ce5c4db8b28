package broker

import (
	"context"
	"errors"

	"github.com/raftmq/raftmq/cluster"
	"github.com/raftmq/raftmq/fsm"
	"github.com/raftmq/raftmq/wire"
)

// Internal error kinds of the broker, translated to wire codes by toWire.
var (
	errNotLeader     = errors.New("not the leader")
	errIndeterminate = errors.New("leadership lost before the outcome was known")
	errInternal      = errors.New("internal error")
)

// toWire translates any error of the broker, the cluster or the state machine
// into the error a client receives. leaderAddr is filled in for not-leader.
func toWire(err error, leaderAddr string) *wire.Error {
	var we *wire.Error
	switch {
	case errors.As(err, &we):
		return we
	case errors.Is(err, errNotLeader), errors.Is(err, cluster.ErrNotLeader):
		if leaderAddr == "" {
			return &wire.Error{Code: wire.CodeUnavailable, Message: "no leader is known: " + err.Error()}
		}
		return &wire.Error{Code: wire.CodeNotLeader, Message: err.Error(), LeaderAddr: leaderAddr}
	case errors.Is(err, cluster.ErrNoLeader):
		return &wire.Error{Code: wire.CodeUnavailable, Message: err.Error()}
	case errors.Is(err, errIndeterminate), errors.Is(err, cluster.ErrIndeterminate), errors.Is(err, cluster.ErrShutdown):
		return &wire.Error{Code: wire.CodeIndeterminate, Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &wire.Error{Code: wire.CodeIndeterminate, Message: err.Error()}
	case errors.Is(err, fsm.ErrNotFound):
		return &wire.Error{Code: wire.CodeNotFound, Message: err.Error()}
	case errors.Is(err, fsm.ErrPrecondition):
		return &wire.Error{Code: wire.CodePrecondition, Message: err.Error()}
	case errors.Is(err, fsm.ErrInvalidArgument), errors.Is(err, fsm.ErrMalformed):
		return &wire.Error{Code: wire.CodeInvalidArgument, Message: err.Error()}
	}
	return &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
}
