package client

import (
	"fmt"
	"time"

	"github.com/raftmq/raftmq/wire"
)

// Message is a message to publish.
type Message struct {
	// ID identifies the message for de-duplication: the broker enqueues a
	// message ID at most once within its de-duplication window, so every
	// retry reuses it. "" makes the client generate a unique one.
	ID string
	// Headers are application headers (headers exchanges route on them).
	Headers map[string]string
	// Body is the content. The client does not copy it: do not modify it
	// until the publish is confirmed.
	Body []byte
	// TTL is how long the message may wait in a queue; 0 means forever. It
	// is sent with millisecond precision (rounded up).
	TTL time.Duration
	// Mandatory makes a message that routes to no queue fail with
	// ErrUnroutable instead of being dropped.
	Mandatory bool
}

// Publishing is one message of PublishBatch (or of the publish buffer),
// with its destination.
type Publishing struct {
	// Exchange is the exchange to publish to; "" is the default exchange.
	Exchange string
	// Key is the routing key.
	Key string
	// Message is the message.
	Message
}

// PublishStatus is the outcome of a confirmed publish.
type PublishStatus uint8

// Outcomes of a confirmed publish. Unroutable and rejected messages are not
// confirmed: they come back as ErrUnroutable and ErrRejected.
const (
	// Routed: enqueued in Confirm.Queues queues.
	Routed = PublishStatus(wire.Routed)
	// Duplicate: a message with the same ID was enqueued earlier within the
	// de-duplication window (typically by an earlier attempt of this very
	// publish); not enqueued again.
	Duplicate = PublishStatus(wire.Duplicate)
	// Dropped: not mandatory and routed to no queue (as in AMQP, this is
	// confirmed).
	Dropped = PublishStatus(wire.Dropped)
)

// String returns the status's name.
func (s PublishStatus) String() string { return wire.PublishStatus(s).String() }

// Confirm is the broker's confirmation of one message: it is on disk on a
// majority of the cluster and applied.
type Confirm struct {
	// ID is the message ID.
	ID string
	// Status is the outcome: Routed, Duplicate or Dropped.
	Status PublishStatus
	// Queues is the number of queues the message was enqueued in.
	Queues int
	// Term and Index locate the Raft log entry that holds the message.
	Term, Index uint64
	// Attempts is how many times the message was sent.
	Attempts int
}

// ExchangeKind is how an exchange routes.
type ExchangeKind string

// Exchange kinds.
const (
	// Direct routes to bindings whose key equals the routing key.
	Direct ExchangeKind = "direct"
	// Fanout routes to every binding.
	Fanout ExchangeKind = "fanout"
	// Topic routes by dot-separated patterns with * and #.
	Topic ExchangeKind = "topic"
	// Headers routes by matching message headers against binding headers.
	Headers ExchangeKind = "headers"
)

// Overflow is what a queue does when it reaches a length limit.
type Overflow string

// Overflow behaviours.
const (
	// DropHead drops (or dead-letters) the oldest ready message. The default.
	DropHead Overflow = "drop-head"
	// RejectPublish refuses new messages: their publish fails with
	// ErrRejected.
	RejectPublish Overflow = "reject-publish"
)

// QueueArgs are a queue's arguments, fixed when it is declared. Zero values
// mean "no limit" or "none".
type QueueArgs struct {
	// MessageTTL is how long a message may wait in the queue; 0 means
	// forever. Millisecond precision.
	MessageTTL time.Duration
	// MaxLength is the most ready messages the queue holds.
	MaxLength int64
	// MaxLengthBytes is the most body bytes of ready messages.
	MaxLengthBytes int64
	// Overflow is what happens at a limit; "" means DropHead.
	Overflow Overflow
	// DeadLetterExchange receives expired, dropped and rejected messages.
	DeadLetterExchange string
	// DeadLetterRoutingKey replaces the routing key of dead-lettered
	// messages; "" keeps it.
	DeadLetterRoutingKey string
	// DeliveryLimit is how many times a message may be delivered before it
	// is dead-lettered or dropped.
	DeliveryLimit int64
}

func (a QueueArgs) toWire() wire.QueueArgs {
	return wire.QueueArgs{
		MessageTTL:           millis(a.MessageTTL),
		MaxLength:            a.MaxLength,
		MaxLengthBytes:       a.MaxLengthBytes,
		Overflow:             string(a.Overflow),
		DeadLetterExchange:   a.DeadLetterExchange,
		DeadLetterRoutingKey: a.DeadLetterRoutingKey,
		DeliveryLimit:        a.DeliveryLimit,
	}
}

func queueArgsOf(a wire.QueueArgs) QueueArgs {
	return QueueArgs{
		MessageTTL:           time.Duration(a.MessageTTL) * time.Millisecond,
		MaxLength:            a.MaxLength,
		MaxLengthBytes:       a.MaxLengthBytes,
		Overflow:             Overflow(a.Overflow),
		DeadLetterExchange:   a.DeadLetterExchange,
		DeadLetterRoutingKey: a.DeadLetterRoutingKey,
		DeliveryLimit:        a.DeliveryLimit,
	}
}

// millis converts d to whole milliseconds, rounding a positive fraction up
// so that a short TTL does not become "forever".
func millis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// QueueInfo is a queue's state, as the leader sees it.
type QueueInfo struct {
	// Name is the queue's name.
	Name string
	// Args are its arguments.
	Args QueueArgs
	// Messages is Ready plus Unacked.
	Messages int64
	// Ready is the number of messages waiting for delivery.
	Ready int64
	// Unacked is the number of deliveries not yet settled.
	Unacked int64
	// Bytes is the body bytes of the queue's messages.
	Bytes int64
	// Consumers is the number of consumers subscribed on the leader.
	Consumers int
}

func queueInfoOf(q wire.QueueInfo) QueueInfo {
	return QueueInfo{
		Name: q.Name, Args: queueArgsOf(q.Args), Messages: q.Messages, Ready: q.Ready,
		Unacked: q.Unacked, Bytes: q.Bytes, Consumers: int(q.Consumers),
	}
}

// ExchangeInfo describes an exchange.
type ExchangeInfo struct {
	// Name is the exchange's name.
	Name string
	// Kind is how it routes.
	Kind ExchangeKind
	// AlternateExchange receives what it routes nowhere; "" for none.
	AlternateExchange string
}

// matchArg is the binding argument that says how a headers binding matches.
const matchArg = "x-match"

// Binding routes messages from an exchange to a queue or another exchange.
type Binding struct {
	// Source is the exchange messages come from.
	Source string
	// Dest is the queue, or with ToExchange the exchange, they go to.
	Dest string
	// ToExchange makes Dest an exchange.
	ToExchange bool
	// Key is the binding key (a pattern for topic exchanges).
	Key string
	// Headers are the headers a headers exchange matches messages against.
	Headers map[string]string
	// Match is "all" (the default) or "any" for headers exchanges; it is
	// sent as the "x-match" argument.
	Match string
}

func (b Binding) toWire() (*wire.Bind, error) {
	var args map[string]string
	if len(b.Headers) > 0 || b.Match != "" {
		args = make(map[string]string, len(b.Headers)+1)
		for k, v := range b.Headers {
			if k == matchArg {
				return nil, fmt.Errorf("binding header %q is reserved, use Binding.Match: %w", matchArg, ErrInvalidArgument)
			}
			args[k] = v
		}
		if b.Match != "" {
			args[matchArg] = b.Match
		}
	}
	return &wire.Bind{Source: b.Source, Dest: b.Dest, ToExchange: b.ToExchange, Key: b.Key, Args: args}, nil
}

func bindingOf(w wire.BindingInfo) Binding {
	b := Binding{Source: w.Source, Dest: w.Dest, ToExchange: w.ToExchange, Key: w.Key}
	for k, v := range w.Args {
		if k == matchArg {
			b.Match = v
			continue
		}
		if b.Headers == nil {
			b.Headers = make(map[string]string, len(w.Args))
		}
		b.Headers[k] = v
	}
	return b
}

// Member is one server of the cluster.
type Member struct {
	// ID is the node's stable ID.
	ID string
	// RaftAddr, ClientAddr and HTTPAddr are its addresses.
	RaftAddr, ClientAddr, HTTPAddr string
	// Voter reports whether it votes in Raft.
	Voter bool
	// Leader reports whether it leads.
	Leader bool
	// Alive reports whether gossip sees it alive.
	Alive bool
	// Suffrage is "voter", "nonvoter", "staging", or "" when known only from
	// gossip.
	Suffrage string
}

// Status is the cluster's state as one node sees it.
type Status struct {
	// NodeID is the answering node.
	NodeID string
	// State is its Raft state: "leader", "follower", "candidate" or
	// "shutdown".
	State string
	// LeaderID and LeaderAddr name the leader ("" when none is known).
	LeaderID, LeaderAddr string
	// Term is the node's Raft term.
	Term uint64
	// CommitIndex, AppliedIndex and LastLogIndex are its log positions.
	CommitIndex, AppliedIndex, LastLogIndex uint64
	// Members are the cluster's servers.
	Members []Member
}

func statusOf(s *wire.StatusInfo) Status {
	st := Status{
		NodeID: s.NodeID, State: s.State, LeaderID: s.LeaderID, LeaderAddr: s.LeaderAddr,
		Term: s.Term, CommitIndex: s.CommitIndex, AppliedIndex: s.AppliedIndex, LastLogIndex: s.LastLogIndex,
	}
	for _, m := range s.Members {
		st.Members = append(st.Members, Member{
			ID: m.ID, RaftAddr: m.RaftAddr, ClientAddr: m.ClientAddr, HTTPAddr: m.HTTPAddr,
			Voter: m.Voter, Leader: m.Leader, Alive: m.Alive, Suffrage: m.Suffrage,
		})
	}
	return st
}

// Death is one entry of a delivery's dead-letter history.
type Death struct {
	// Queue is the queue it was dead-lettered from.
	Queue string
	// Reason is "rejected", "expired", "maxlen" or "delivery-limit".
	Reason string
	// Count is how many times it died in this queue for this reason.
	Count int64
	// Time is when it last did.
	Time time.Time
	// Exchange and RoutingKey are what it had been published with.
	Exchange, RoutingKey string
}
