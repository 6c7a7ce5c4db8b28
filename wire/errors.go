package wire

import (
	"errors"
	"fmt"
)

// Code is the machine-readable kind of an Error. Codes are part of the
// protocol: append new ones at the end, never renumber or reuse a number.
type Code uint16

// Error codes. Append only; never renumber.
const (
	// CodeNotLeader: this node does not lead. Retryable against the leader;
	// Error.LeaderAddr holds the leader's client address when it is known.
	CodeNotLeader Code = 1
	// CodeNotFound: the named exchange, queue, consumer or node does not exist.
	CodeNotFound Code = 2
	// CodePrecondition: the request conflicts with the current state, such as
	// redeclaring a queue with other arguments.
	CodePrecondition Code = 3
	// CodeInvalidArgument: a name, key or argument is not valid.
	CodeInvalidArgument Code = 4
	// CodeResourceLimit: the node is above its memory watermark and refuses
	// publishes for now. Retryable after a back-off. (A queue's reject-publish
	// overflow is not this: it is reported per message in PublishResult.)
	CodeResourceLimit Code = 5
	// CodeInternal: an unexpected failure on the server.
	CodeInternal Code = 6
	// CodeIndeterminate: leadership was lost before the request committed, so
	// its outcome is unknown. Retrying with the same message IDs is safe
	// because the broker de-duplicates them.
	CodeIndeterminate Code = 7
	// CodeUnavailable: no leader is known right now. Retryable.
	CodeUnavailable Code = 8
	// CodeFrameTooLarge: a frame exceeded the maximum size. The connection is
	// closed.
	CodeFrameTooLarge Code = 9
	// CodeProtocol: bad handshake, unknown frame type or undecodable payload.
	// The connection is closed.
	CodeProtocol Code = 10
)

var codeNames = [...]string{
	CodeNotLeader:       "not leader",
	CodeNotFound:        "not found",
	CodePrecondition:    "precondition failed",
	CodeInvalidArgument: "invalid argument",
	CodeResourceLimit:   "resource limit",
	CodeInternal:        "internal error",
	CodeIndeterminate:   "indeterminate",
	CodeUnavailable:     "unavailable",
	CodeFrameTooLarge:   "frame too large",
	CodeProtocol:        "protocol error",
}

// String returns the code's name, or "code(N)" for a code this version does
// not know.
func (c Code) String() string {
	if int(c) < len(codeNames) && codeNames[c] != "" {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", uint16(c))
}

// Retryable reports whether a request that failed with c may be sent again
// (to the leader, after a back-off) with a chance of success and without
// risk of a duplicate effect.
func (c Code) Retryable() bool {
	switch c {
	case CodeNotLeader, CodeResourceLimit, CodeIndeterminate, CodeUnavailable:
		return true
	}
	return false
}

// ClosesConnection reports whether the server closes the connection after
// sending an Error with this code.
func (c Code) ClosesConnection() bool {
	return c == CodeFrameTooLarge || c == CodeProtocol
}

// Error is the payload of a TError frame and a Go error. Two Errors match
// under errors.Is when their codes are equal, so
// errors.Is(err, ErrNotFound) holds for any not-found Error, whatever its
// message.
type Error struct {
	// Code is the kind of failure.
	Code Code
	// Message is a human-readable explanation.
	Message string
	// LeaderAddr is the leader's client address, set with CodeNotLeader when
	// the node knows it.
	LeaderAddr string
}

// Error returns "<code>: <message>", with the leader's address for
// CodeNotLeader.
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	s := e.Code.String()
	if e.Message != "" && e.Message != s {
		s += ": " + e.Message
	}
	if e.LeaderAddr != "" {
		s += " (leader at " + e.LeaderAddr + ")"
	}
	return s
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e != nil && t != nil && t.Code == e.Code
}

// Retryable reports whether e's code is retryable (see Code.Retryable).
func (e *Error) Retryable() bool { return e != nil && e.Code.Retryable() }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinel errors, one per code. Compare with errors.Is: any *Error with the
// same code matches, and so does any error wrapping one. Do not modify them.
var (
	// ErrNotLeader matches CodeNotLeader.
	ErrNotLeader = &Error{Code: CodeNotLeader, Message: CodeNotLeader.String()}
	// ErrNotFound matches CodeNotFound.
	ErrNotFound = &Error{Code: CodeNotFound, Message: CodeNotFound.String()}
	// ErrPrecondition matches CodePrecondition.
	ErrPrecondition = &Error{Code: CodePrecondition, Message: CodePrecondition.String()}
	// ErrInvalidArgument matches CodeInvalidArgument.
	ErrInvalidArgument = &Error{Code: CodeInvalidArgument, Message: CodeInvalidArgument.String()}
	// ErrResourceLimit matches CodeResourceLimit.
	ErrResourceLimit = &Error{Code: CodeResourceLimit, Message: CodeResourceLimit.String()}
	// ErrInternal matches CodeInternal.
	ErrInternal = &Error{Code: CodeInternal, Message: CodeInternal.String()}
	// ErrIndeterminate matches CodeIndeterminate.
	ErrIndeterminate = &Error{Code: CodeIndeterminate, Message: CodeIndeterminate.String()}
	// ErrUnavailable matches CodeUnavailable.
	ErrUnavailable = &Error{Code: CodeUnavailable, Message: CodeUnavailable.String()}
	// ErrFrameTooLarge matches CodeFrameTooLarge. Reader.Next and
	// Writer.WriteFrame return it (wrapped) for a frame above the maximum.
	ErrFrameTooLarge = &Error{Code: CodeFrameTooLarge, Message: CodeFrameTooLarge.String()}
	// ErrProtocol matches CodeProtocol.
	ErrProtocol = &Error{Code: CodeProtocol, Message: CodeProtocol.String()}
)

// ErrMalformed is returned (wrapped) for bytes that are not a valid frame or
// payload: a length below the header size, a stream cut short inside a frame,
// a payload of the wrong shape. CodeOf maps it to CodeProtocol.
var ErrMalformed = errors.New("wire: malformed frame")

// CodeOf returns the code to report err with: the code of the *Error it is or
// wraps, CodeProtocol for ErrMalformed, 0 for nil and CodeInternal for any
// other error.
func CodeOf(err error) Code {
	if err == nil {
		return 0
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		return e.Code
	}
	if errors.Is(err, ErrMalformed) {
		return CodeProtocol
	}
	return CodeInternal
}

// ToError converts err into an *Error fit to send in a TError frame: err
// itself if it is an *Error, the wrapped *Error's code with err's full text
// otherwise, and CodeInternal for an error without a code. It returns nil for
// nil.
func ToError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) && e != nil {
		if e == err {
			return e
		}
		return &Error{Code: e.Code, Message: err.Error(), LeaderAddr: e.LeaderAddr}
	}
	return &Error{Code: CodeOf(err), Message: err.Error()}
}
