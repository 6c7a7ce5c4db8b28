package client

import (
	"errors"
	"fmt"
	"strings"

	"github.com/raftmq/raftmq/wire"
)

// Errors of the client. Errors a node answers with match the sentinel of
// their code under errors.Is (a not-found answer matches ErrNotFound), and
// errors.As with a *wire.Error recovers the server's code, message and, for
// not-leader answers, the leader's address.
var (
	// ErrNotFound: the named exchange, queue, consumer or node does not
	// exist.
	ErrNotFound = errors.New("not found")
	// ErrPrecondition: the request conflicts with the current state, such as
	// declaring an existing queue with other arguments.
	ErrPrecondition = errors.New("precondition failed")
	// ErrInvalidArgument: a name, key, argument or message is not valid.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrResourceLimit: the leader is above its memory watermark and refuses
	// publishes for now. Retryable; Publish retries it with back-off.
	ErrResourceLimit = errors.New("resource limit reached")
	// ErrUnroutable: a mandatory message matched no queue. It was not
	// enqueued.
	ErrUnroutable = errors.New("message unroutable")
	// ErrRejected: a queue with the reject-publish overflow is full and
	// refused the message. Not retried automatically.
	ErrRejected = errors.New("message rejected by a full queue")
	// ErrClosed: the client (or the subscription) was closed.
	ErrClosed = errors.New("client closed")
	// ErrBufferFull: the publish buffer holds as many messages as it may
	// (WithPublishBuffer). Safe to retry later.
	ErrBufferFull = errors.New("publish buffer full")
	// ErrUnconfirmed: Close found buffered messages that were never
	// confirmed; the error's text gives their number.
	ErrUnconfirmed = errors.New("messages not confirmed")
	// ErrReject is for handlers: a handler error that wraps it rejects the
	// message without requeue (it goes to the queue's dead-letter exchange,
	// if any) instead of requeueing it.
	ErrReject = errors.New("reject message")
	// ErrIndeterminate: the outcome of a request is unknown (the connection
	// was lost or leadership changed before the answer). Retrying a publish
	// with the same message ID is safe: the broker drops the copy.
	ErrIndeterminate = errors.New("outcome unknown")
	// ErrNoLeader: no node leads the cluster, or none could be reached.
	// Retryable.
	ErrNoLeader = errors.New("no leader")
	// ErrInternal: a node failed unexpectedly while serving a request.
	ErrInternal = errors.New("internal server error")
	// ErrProtocol: a peer broke the protocol (bad frame, oversized frame,
	// unexpected answer).
	ErrProtocol = errors.New("protocol error")
	// ErrAlreadySettled: Ack, Nack or Reject on a delivery that was already
	// settled by this client.
	ErrAlreadySettled = errors.New("delivery already settled")
)

// sentinelOf maps a wire code to the client's sentinel error.
func sentinelOf(c wire.Code) error {
	switch c {
	case wire.CodeNotLeader, wire.CodeUnavailable:
		return ErrNoLeader
	case wire.CodeNotFound:
		return ErrNotFound
	case wire.CodePrecondition:
		return ErrPrecondition
	case wire.CodeInvalidArgument:
		return ErrInvalidArgument
	case wire.CodeResourceLimit:
		return ErrResourceLimit
	case wire.CodeIndeterminate:
		return ErrIndeterminate
	case wire.CodeFrameTooLarge, wire.CodeProtocol:
		return ErrProtocol
	}
	return ErrInternal
}

// serverError is an error a node answered with. It matches both the client
// sentinel of its code and the *wire.Error itself.
type serverError struct {
	kind error
	werr *wire.Error
}

func (e *serverError) Error() string   { return e.werr.Error() }
func (e *serverError) Unwrap() []error { return []error{e.kind, e.werr} }

// fromWire converts a server's error into a client error.
func fromWire(e *wire.Error) error {
	if e == nil {
		return nil
	}
	return &serverError{kind: sentinelOf(e.Code), werr: e}
}

// leaderHint returns the leader address carried by a not-leader error.
func leaderHint(err error) string {
	var we *wire.Error
	if errors.As(err, &we) && we != nil {
		return we.LeaderAddr
	}
	return ""
}

// IsRetryable reports whether the operation that failed with err may be
// tried again with a chance of success and without a duplicate effect: no
// leader, outcome unknown (a publish retried with the same message ID is
// de-duplicated by the broker), resource limit, full publish buffer.
// Domain errors (not found, precondition, invalid argument, unroutable,
// rejected), ErrClosed and a bare context error are not retryable.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	for _, s := range []error{ErrNoLeader, ErrIndeterminate, ErrResourceLimit, ErrBufferFull} {
		if errors.Is(err, s) {
			return true
		}
	}
	var we *wire.Error
	if errors.As(err, &we) && we != nil {
		return we.Retryable()
	}
	return false
}

// BatchError reports the messages of a PublishBatch that were not
// confirmed. errors.Is and errors.As look through every failed message's
// error.
type BatchError struct {
	// Errs holds one entry per message of the batch, in order: nil where the
	// message was confirmed.
	Errs []error
}

// Error summarises the failures.
func (e *BatchError) Error() string {
	n := 0
	var first error
	for _, err := range e.Errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	if n == 0 {
		return "publish batch: all messages confirmed"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "publish batch: %d of %d messages not confirmed", n, len(e.Errs))
	fmt.Fprintf(&b, " (first: %v)", first)
	return b.String()
}

// Unwrap returns the errors of the failed messages.
func (e *BatchError) Unwrap() []error {
	var out []error
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}
