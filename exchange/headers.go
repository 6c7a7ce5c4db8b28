package exchange

import (
	"fmt"
	"slices"
	"strings"
)

// XMatch is the binding argument that selects how a headers binding matches.
const XMatch = "x-match"

// The values of the x-match binding argument.
const (
	// MatchAll: every compared binding header must match (the default).
	MatchAll = "all"
	// MatchAny: at least one compared binding header must match.
	MatchAny = "any"
	// MatchAllWithX is MatchAll that also compares "x-" headers.
	MatchAllWithX = "all-with-x"
	// MatchAnyWithX is MatchAny that also compares "x-" headers.
	MatchAnyWithX = "any-with-x"
)

// headerPair is one header a binding compares.
type headerPair struct {
	key, value string
}

// headerMatcher is a headers binding's arguments, parsed once at Bind.
type headerMatcher struct {
	any   bool
	pairs []headerPair // sorted by key; a value "" matches on presence
}

// parseHeaderArgs builds the matcher of a headers binding, or returns an
// error wrapping ErrInvalidArgument for a bad x-match.
func parseHeaderArgs(args map[string]string) (*headerMatcher, error) {
	mode, ok := args[XMatch]
	if !ok {
		mode = MatchAll
	}
	var withX bool
	m := &headerMatcher{}
	switch mode {
	case MatchAll:
	case MatchAny:
		m.any = true
	case MatchAllWithX:
		withX = true
	case MatchAnyWithX:
		m.any, withX = true, true
	default:
		return nil, fmt.Errorf("x-match %q (want all, any, all-with-x or any-with-x): %w", truncate(mode), ErrInvalidArgument)
	}
	for k, v := range args {
		if k == XMatch || (!withX && strings.HasPrefix(k, "x-")) {
			continue
		}
		m.pairs = append(m.pairs, headerPair{k, v})
	}
	slices.SortFunc(m.pairs, func(a, b headerPair) int { return strings.Compare(a.key, b.key) })
	return m, nil
}

// match reports whether message headers h satisfy the binding. A binding
// that compares no header matches everything under "all" and nothing under
// "any", as RabbitMQ does.
func (m *headerMatcher) match(h map[string]string) bool {
	for _, p := range m.pairs {
		v, ok := h[p.key]
		hit := ok && (p.value == "" || v == p.value)
		if m.any && hit {
			return true
		}
		if !m.any && !hit {
			return false
		}
	}
	return !m.any
}
