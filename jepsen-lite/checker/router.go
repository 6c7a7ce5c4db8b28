package checker

import (
	"fmt"
	"sort"
	"strings"
)

// Exchange kinds of the reference router.
const (
	Direct  = "direct"
	Fanout  = "fanout"
	Topic   = "topic"
	Headers = "headers"
)

// Exchange is one exchange of a topology.
type Exchange struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// Binding routes from an exchange to a queue.
type Binding struct {
	Exchange string            `json:"exchange"`
	Queue    string            `json:"queue"`
	Key      string            `json:"key,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	// Match is "all" (the default) or "any" for headers exchanges.
	Match string `json:"match,omitempty"`
}

// Topology is the fixed set of exchanges, queues and bindings a workload
// declares before it starts. The checker routes every publish through it to
// know where the message must end up.
type Topology struct {
	Exchanges []Exchange `json:"exchanges,omitempty"`
	Queues    []string   `json:"queues"`
	Bindings  []Binding  `json:"bindings,omitempty"`
	// FIFO names the queue whose order is checked (one consumer).
	FIFO string `json:"fifo,omitempty"`
}

// Route returns the sorted set of queues a message published to exchange
// with key and headers must reach. The default exchange "" routes to the
// queue named by the key. It is a deliberately small, separate
// implementation of AMQP routing, so that a bug in the broker's router is
// not mirrored here.
func (t *Topology) Route(exchange, key string, headers map[string]string) ([]string, error) {
	if exchange == "" {
		for _, q := range t.Queues {
			if q == key {
				return []string{q}, nil
			}
		}
		return nil, nil
	}
	kind := ""
	for _, x := range t.Exchanges {
		if x.Name == exchange {
			kind = x.Kind
		}
	}
	if kind == "" {
		return nil, fmt.Errorf("route: exchange %q is not in the topology", exchange)
	}
	set := make(map[string]bool)
	for _, b := range t.Bindings {
		if b.Exchange != exchange {
			continue
		}
		var hit bool
		switch kind {
		case Direct:
			hit = b.Key == key
		case Fanout:
			hit = true
		case Topic:
			hit = topicMatch(strings.Split(b.Key, "."), strings.Split(key, "."))
		case Headers:
			hit = headersMatch(b, headers)
		default:
			return nil, fmt.Errorf("route: exchange %q has unknown kind %q", exchange, kind)
		}
		if hit {
			set[b.Queue] = true
		}
	}
	out := make([]string, 0, len(set))
	for q := range set {
		out = append(out, q)
	}
	sort.Strings(out)
	return out, nil
}

// topicMatch matches dot-separated words against a pattern where "*" is
// exactly one word and "#" zero or more words.
func topicMatch(pat, words []string) bool {
	if len(pat) == 0 {
		return len(words) == 0
	}
	switch pat[0] {
	case "#":
		for i := 0; i <= len(words); i++ {
			if topicMatch(pat[1:], words[i:]) {
				return true
			}
		}
		return false
	case "*":
		return len(words) > 0 && topicMatch(pat[1:], words[1:])
	}
	return len(words) > 0 && words[0] == pat[0] && topicMatch(pat[1:], words[1:])
}

func headersMatch(b Binding, h map[string]string) bool {
	n := 0
	for k, v := range b.Headers {
		if hv, ok := h[k]; ok && hv == v {
			n++
		}
	}
	if b.Match == "any" {
		return n > 0
	}
	return n == len(b.Headers)
}
