package queue

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Overflow is what a queue does with a publish that would exceed its
// maximum length.
type Overflow string

const (
	// DropHead drops the oldest messages (dead-lettered with reason MaxLen)
	// until the new one fits. It is the default.
	DropHead Overflow = "drop-head"
	// RejectPublish refuses the new message with ErrRejected.
	RejectPublish Overflow = "reject-publish"
)

// Args are a queue's declared arguments. The zero value is a queue with no
// limit, no TTL and no dead-lettering.
type Args struct {
	// MessageTTL is the queue's message TTL in milliseconds; 0 = none.
	MessageTTL int64 `msgpack:"ttl,omitempty"`
	// MaxLength is the maximum number of messages; 0 = unlimited.
	MaxLength int64 `msgpack:"maxlen,omitempty"`
	// MaxLengthBytes is the maximum sum of body sizes; 0 = unlimited.
	MaxLengthBytes int64 `msgpack:"maxbytes,omitempty"`
	// Overflow is the overflow behaviour; "" means DropHead.
	Overflow Overflow `msgpack:"overflow,omitempty"`
	// DeadLetterExchange receives dead-lettered messages; "" = none (they
	// are dropped).
	DeadLetterExchange string `msgpack:"dlx,omitempty"`
	// DeadLetterRoutingKey replaces the routing key of dead-lettered
	// messages; "" keeps the original one.
	DeadLetterRoutingKey string `msgpack:"dlrk,omitempty"`
	// DeliveryLimit is how many times a message may be returned before it
	// is dead-lettered with reason DeliveryLimitReached; 0 = unlimited.
	DeliveryLimit int64 `msgpack:"dlim,omitempty"`
}

// maxNameLen is the longest exchange name or routing key in bytes.
const maxNameLen = 255

// Sentinel errors, for errors.Is.
var (
	// ErrInvalidArgument: malformed queue arguments or a malformed request.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: no message with that sequence number in the queue.
	ErrNotFound = errors.New("message not found")
	// ErrRejected: the queue is full and its overflow is reject-publish.
	ErrRejected = errors.New("rejected: queue is full")
)

// Validate checks the arguments: no negative number, a known overflow, and
// dead-letter exchange and routing key of at most 255 bytes of UTF-8. A
// dead-letter routing key needs a dead-letter exchange (as RabbitMQ).
// Errors wrap ErrInvalidArgument.
func (a Args) Validate() error {
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"message-ttl", a.MessageTTL},
		{"max-length", a.MaxLength},
		{"max-length-bytes", a.MaxLengthBytes},
		{"delivery-limit", a.DeliveryLimit},
	} {
		if f.v < 0 {
			return fmt.Errorf("queue argument %s = %d is negative: %w", f.name, f.v, ErrInvalidArgument)
		}
	}
	switch a.Overflow {
	case "", DropHead, RejectPublish:
	default:
		return fmt.Errorf("queue argument overflow %q (want drop-head or reject-publish): %w", clip(string(a.Overflow)), ErrInvalidArgument)
	}
	if err := checkName(a.DeadLetterExchange); err != nil {
		return fmt.Errorf("queue argument dead-letter-exchange: %w", err)
	}
	if err := checkName(a.DeadLetterRoutingKey); err != nil {
		return fmt.Errorf("queue argument dead-letter-routing-key: %w", err)
	}
	if a.DeadLetterRoutingKey != "" && a.DeadLetterExchange == "" {
		return fmt.Errorf("queue argument dead-letter-routing-key without dead-letter-exchange: %w", ErrInvalidArgument)
	}
	return nil
}

// Equal reports whether a and b declare the same queue behaviour; an empty
// Overflow equals DropHead.
func (a Args) Equal(b Args) bool {
	return a.normal() == b.normal()
}

func (a Args) normal() Args {
	if a.Overflow == "" {
		a.Overflow = DropHead
	}
	return a
}

// DeadLetterTarget returns where a message dead-lettered from a queue with
// these arguments goes: the dead-letter exchange (ok is false when there is
// none: the message is dropped) and the routing key, DeadLetterRoutingKey or
// else the message's own.
func (a Args) DeadLetterTarget(m *Message) (exchange, routingKey string, ok bool) {
	if a.DeadLetterExchange == "" {
		return "", "", false
	}
	routingKey = a.DeadLetterRoutingKey
	if routingKey == "" && m != nil {
		routingKey = m.RoutingKey
	}
	return a.DeadLetterExchange, routingKey, true
}

func checkName(s string) error {
	if len(s) > maxNameLen {
		return fmt.Errorf("%d bytes (at most %d): %w", len(s), maxNameLen, ErrInvalidArgument)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%q is not valid UTF-8: %w", s, ErrInvalidArgument)
	}
	return nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "..."
}
