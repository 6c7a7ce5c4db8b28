package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

var sentinels = map[Code]error{
	CodeNotLeader:       ErrNotLeader,
	CodeNotFound:        ErrNotFound,
	CodePrecondition:    ErrPrecondition,
	CodeInvalidArgument: ErrInvalidArgument,
	CodeResourceLimit:   ErrResourceLimit,
	CodeInternal:        ErrInternal,
	CodeIndeterminate:   ErrIndeterminate,
	CodeUnavailable:     ErrUnavailable,
	CodeFrameTooLarge:   ErrFrameTooLarge,
	CodeProtocol:        ErrProtocol,
}

func TestErrorsIs(t *testing.T) {
	for code, sentinel := range sentinels {
		t.Run(code.String(), func(t *testing.T) {
			e := Errorf(code, "thing %q", "x")
			if !errors.Is(e, sentinel) {
				t.Fatalf("errors.Is(Errorf(%s), sentinel) = false", code)
			}
			wrapped := fmt.Errorf("declare queue: %w", e)
			if !errors.Is(wrapped, sentinel) {
				t.Fatal("errors.Is through a wrap = false")
			}
			// A decoded error from the wire matches too.
			b, _ := Marshal(e)
			var got Error
			if err := Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(&got, sentinel) {
				t.Fatal("decoded error does not match its sentinel")
			}
			for other, s := range sentinels {
				if other != code && errors.Is(wrapped, s) {
					t.Fatalf("%s error matches the %s sentinel", code, other)
				}
			}
			if CodeOf(wrapped) != code || CodeOf(sentinel) != code {
				t.Fatalf("CodeOf = %s / %s, want %s", CodeOf(wrapped), CodeOf(sentinel), code)
			}
		})
	}
	//lint:ignore SA1032 both orders are the point of the check
	if errors.Is(ErrNotFound, io.EOF) || errors.Is(io.EOF, ErrNotFound) {
		t.Fatal("a wire error matches an unrelated error")
	}
	var nilErr *Error
	if nilErr.Is(ErrNotFound) || ErrNotFound.Is(nilErr) {
		t.Fatal("a nil *Error matches")
	}
}

func TestRetryable(t *testing.T) {
	want := map[Code]bool{
		CodeNotLeader: true, CodeNotFound: false, CodePrecondition: false, CodeInvalidArgument: false,
		CodeResourceLimit: true, CodeInternal: false, CodeIndeterminate: true, CodeUnavailable: true,
		CodeFrameTooLarge: false, CodeProtocol: false, 0: false, 99: false,
	}
	for code, w := range want {
		if got := code.Retryable(); got != w {
			t.Errorf("%s.Retryable() = %v, want %v", code, got, w)
		}
		if got := (&Error{Code: code}).Retryable(); got != w {
			t.Errorf("(*Error{%s}).Retryable() = %v, want %v", code, got, w)
		}
	}
	for code := range sentinels {
		if got, want := code.ClosesConnection(), code == CodeFrameTooLarge || code == CodeProtocol; got != want {
			t.Errorf("%s.ClosesConnection() = %v", code, got)
		}
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want Code
	}{
		{nil, 0},
		{ErrNotLeader, CodeNotLeader},
		{&Error{Code: CodeUnavailable}, CodeUnavailable},
		{fmt.Errorf("a: %w", fmt.Errorf("b: %w", Errorf(CodePrecondition, "p"))), CodePrecondition},
		{fmt.Errorf("decode: %w", ErrMalformed), CodeProtocol},
		{io.EOF, CodeInternal},
		{context.Canceled, CodeInternal},
		{errors.Join(io.EOF, ErrNotFound), CodeNotFound},
	}
	for _, tt := range tests {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestToError(t *testing.T) {
	if ToError(nil) != nil {
		t.Fatal("ToError(nil) != nil")
	}
	e := &Error{Code: CodeNotLeader, Message: "m", LeaderAddr: "a:1"}
	if ToError(e) != e {
		t.Fatal("ToError of an *Error is not itself")
	}
	got := ToError(fmt.Errorf("publish: %w", e))
	if got.Code != CodeNotLeader || got.LeaderAddr != "a:1" || got.Message != "publish: not leader: m (leader at a:1)" {
		t.Fatalf("wrapped: %+v", got)
	}
	got = ToError(io.EOF)
	if got.Code != CodeInternal || got.Message != "EOF" {
		t.Fatalf("plain: %+v", got)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{ErrNotFound, "not found"},
		{Errorf(CodeNotFound, "queue %q", "q"), `not found: queue "q"`},
		{&Error{Code: CodeNotLeader, LeaderAddr: "10.0.0.1:6570"}, "not leader (leader at 10.0.0.1:6570)"},
		{&Error{Code: 77, Message: "future"}, "code(77): future"},
		{nil, "<nil>"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	names := map[string]bool{}
	for code := range sentinels {
		if names[code.String()] {
			t.Fatalf("duplicate name %q", code)
		}
		names[code.String()] = true
	}
}
