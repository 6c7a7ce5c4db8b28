package exchange

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind is the routing algorithm of an exchange.
type Kind string

// The four exchange kinds, with the semantics of RabbitMQ's exchange types of
// the same names.
const (
	// Direct routes to every binding whose key equals the routing key.
	Direct Kind = "direct"
	// Fanout routes to every binding, ignoring the routing key.
	Fanout Kind = "fanout"
	// Topic routes to every binding whose key, a dot-separated pattern with
	// the wildcards "*" and "#", matches the routing key.
	Topic Kind = "topic"
	// Headers routes on the message headers, as the binding's "x-match"
	// argument says; the routing key is ignored.
	Headers Kind = "headers"
)

// Valid reports whether k is one of the four known kinds.
func (k Kind) Valid() bool {
	switch k {
	case Direct, Fanout, Topic, Headers:
		return true
	}
	return false
}

// ParseKind returns the Kind named by s (exactly "direct", "fanout", "topic"
// or "headers"), or an error wrapping ErrInvalidArgument.
func ParseKind(s string) (Kind, error) {
	k := Kind(s)
	if !k.Valid() {
		return "", fmt.Errorf("exchange kind %q: %w", truncate(s), ErrInvalidArgument)
	}
	return k, nil
}

// DestKind says whether a binding's destination is a queue or an exchange.
type DestKind uint8

const (
	// ToQueue is a binding whose destination is a queue.
	ToQueue DestKind = 0
	// ToExchange is an exchange-to-exchange binding.
	ToExchange DestKind = 1
)

// String returns "queue" or "exchange".
func (d DestKind) String() string {
	switch d {
	case ToQueue:
		return "queue"
	case ToExchange:
		return "exchange"
	}
	return fmt.Sprintf("DestKind(%d)", uint8(d))
}

// Exchange is the declared definition of an exchange. Two declarations are
// the same when all fields are equal.
type Exchange struct {
	// Name is 1 to MaxNameLen bytes of UTF-8; "" is the default exchange,
	// which cannot be declared.
	Name string `msgpack:"name"`
	// Kind is the routing algorithm.
	Kind Kind `msgpack:"kind"`
	// AlternateExchange, if not "", names the exchange that receives the
	// messages this exchange routes nowhere. It need not exist.
	AlternateExchange string `msgpack:"ae,omitempty"`
}

// Validate checks the declaration's own fields: a non-empty valid name, a
// known kind and a valid alternate exchange name.
func (e Exchange) Validate() error {
	if e.Name == "" {
		return fmt.Errorf("declare the default exchange: %w", ErrPrecondition)
	}
	if err := ValidateName(e.Name); err != nil {
		return fmt.Errorf("exchange name: %w", err)
	}
	if !e.Kind.Valid() {
		return fmt.Errorf("exchange %q: kind %q: %w", e.Name, truncate(string(e.Kind)), ErrInvalidArgument)
	}
	if err := ValidateName(e.AlternateExchange); err != nil {
		return fmt.Errorf("exchange %q: alternate exchange: %w", e.Name, err)
	}
	return nil
}

// Binding routes messages from the Source exchange to a queue or an exchange.
// Its identity is all of its fields: the same source and destination may be
// bound several times with different keys or arguments.
type Binding struct {
	// Source is the exchange the binding routes from.
	Source string `msgpack:"src"`
	// Dest is the name of the queue or exchange the binding routes to.
	Dest string `msgpack:"dst"`
	// DestKind says whether Dest names a queue or an exchange.
	DestKind DestKind `msgpack:"dk"`
	// Key is the binding key (direct, topic); ignored by fanout; for
	// headers it is only part of the binding's identity.
	Key string `msgpack:"key"`
	// Args are the binding arguments. For a headers exchange: "x-match"
	// (all, any, all-with-x, any-with-x; default all) plus the header
	// values to compare; a value "" matches on the presence of the header.
	// For other kinds they are only part of the binding's identity.
	Args map[string]string `msgpack:"args,omitempty"`
}

// Validate checks the binding's own fields: names, key, destination kind and
// the syntax of the arguments. Whether the exchanges exist, and the meaning
// of the arguments for the source's kind, are checked by Router.Bind.
func (b Binding) Validate() error {
	if b.Source == "" {
		return fmt.Errorf("bind from the default exchange: %w", ErrInvalidArgument)
	}
	if err := ValidateName(b.Source); err != nil {
		return fmt.Errorf("binding source: %w", err)
	}
	switch b.DestKind {
	case ToQueue:
		if err := ValidateNonEmptyName(b.Dest); err != nil {
			return fmt.Errorf("binding destination queue: %w", err)
		}
	case ToExchange:
		if b.Dest == "" {
			return fmt.Errorf("bind to the default exchange: %w", ErrInvalidArgument)
		}
		if err := ValidateName(b.Dest); err != nil {
			return fmt.Errorf("binding destination exchange: %w", err)
		}
	default:
		return fmt.Errorf("binding destination kind %d: %w", uint8(b.DestKind), ErrInvalidArgument)
	}
	if err := ValidateRoutingKey(b.Key); err != nil {
		return fmt.Errorf("binding key: %w", err)
	}
	for k, v := range b.Args {
		if k == "" || len(k) > MaxNameLen || !utf8.ValidString(k) {
			return fmt.Errorf("binding argument name %q: not 1 to %d bytes of UTF-8: %w", truncate(k), MaxNameLen, ErrInvalidArgument)
		}
		if len(v) > MaxArgValueLen || !utf8.ValidString(v) {
			return fmt.Errorf("binding argument %q: value is not at most %d bytes of UTF-8: %w", k, MaxArgValueLen, ErrInvalidArgument)
		}
	}
	return nil
}

// MaxNameLen is the longest exchange or queue name, and the longest routing
// key, in bytes (as AMQP's short strings).
const MaxNameLen = 255

// MaxArgValueLen is the longest binding argument value, in bytes.
const MaxArgValueLen = 65535

// Sentinel errors. Errors returned by this package wrap one of them, so
// callers test with errors.Is.
var (
	// ErrInvalidName: a name that is empty where that is not allowed,
	// longer than MaxNameLen bytes, or not valid UTF-8.
	ErrInvalidName = errors.New("invalid name")
	// ErrInvalidArgument: a bad kind, a bad x-match, a routing key that is
	// too long or not UTF-8, a binding to or from the default exchange, and
	// other malformed requests.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrNotFound: the exchange does not exist.
	ErrNotFound = errors.New("exchange not found")
	// ErrPrecondition: redeclaring an exchange with different arguments,
	// declaring or deleting the default exchange.
	ErrPrecondition = errors.New("precondition failed")
)

// ValidateName checks an exchange or queue name: at most MaxNameLen bytes of
// valid UTF-8. The empty name passes; callers that forbid it check it
// themselves or use ValidateNonEmptyName.
func ValidateName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("name of %d bytes (at most %d): %w", len(name), MaxNameLen, ErrInvalidName)
	}
	if !utf8.ValidString(name) {
		return fmt.Errorf("name %q is not valid UTF-8: %w", name, ErrInvalidName)
	}
	return nil
}

// ValidateNonEmptyName is ValidateName that also refuses the empty name.
func ValidateNonEmptyName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name: %w", ErrInvalidName)
	}
	return ValidateName(name)
}

// ValidateRoutingKey checks a routing or binding key: at most MaxNameLen
// bytes of valid UTF-8 (empty allowed). Errors wrap ErrInvalidArgument.
func ValidateRoutingKey(key string) error {
	if len(key) > MaxNameLen {
		return fmt.Errorf("routing key of %d bytes (at most %d): %w", len(key), MaxNameLen, ErrInvalidArgument)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("routing key %q is not valid UTF-8: %w", key, ErrInvalidArgument)
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return strings.ToValidUTF8(s[:max], "") + "..."
}
