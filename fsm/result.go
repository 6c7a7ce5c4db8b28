package fsm

import "errors"

// Errors a Result carries. They wrap the exchange and queue packages' own
// errors where one is the cause, so errors.Is works with either.
var (
	// ErrNotFound: the named exchange or queue does not exist.
	ErrNotFound = errors.New("not found")
	// ErrPrecondition: the command conflicts with the current state, such as
	// declaring an existing queue with other arguments.
	ErrPrecondition = errors.New("precondition failed")
	// ErrInvalidArgument: a name, key or argument is not valid.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrMalformed: the command bytes could not be decoded.
	ErrMalformed = errors.New("malformed command")
	// ErrUnknownOp: the command's op byte is not one this binary knows.
	ErrUnknownOp = errors.New("unknown op")
)

// Status is the outcome of one published message.
type Status uint8

// Publish outcomes.
const (
	// Routed: enqueued in Queues queues (at least one).
	Routed Status = 1
	// Duplicate: its ID was enqueued within the de-duplication window; not
	// enqueued again.
	Duplicate Status = 2
	// Unroutable: mandatory and reached no queue; the publisher is told.
	Unroutable Status = 3
	// Rejected: every queue it reached refused it (reject-publish overflow).
	Rejected Status = 4
	// Dropped: not mandatory and reached no queue.
	Dropped Status = 5
	// Failed: the message itself was invalid (Err says why).
	Failed Status = 6
)

var statusNames = [...]string{"", "routed", "duplicate", "unroutable", "rejected", "dropped", "failed"}

// String returns the status's name.
func (s Status) String() string {
	if int(s) < len(statusNames) && s != 0 {
		return statusNames[s]
	}
	return "unknown"
}

// MessageResult is the outcome of one message of a Publish batch.
type MessageResult struct {
	Status Status
	// Queues is how many queues the message was enqueued in.
	Queues int32
	// Err is set when Status is Failed.
	Err error
}

// Result is what Apply returns for one command.
type Result struct {
	// Err is nil when the command took effect, or a domain error (wrapping
	// one of this package's sentinels) when it changed nothing.
	Err error
	// Messages holds one result per message of a Publish, in order.
	Messages []MessageResult
	// Count is the number of messages a purge or queue deletion removed, or
	// that a settle or return found.
	Count int64
}
