package wire

// Payload types. Each is encoded as a msgpack array of its fields in the
// order declared here; a field added later goes at the end (see the package
// documentation on compatibility).

// Hello is the client's first frame (THello).
type Hello struct {
	// Version is the protocol version the client speaks (Version).
	Version uint16
	// Client names the client library and version, for logs.
	Client string
}

// HelloOK accepts a handshake (THelloOK).
type HelloOK struct {
	// Version is the protocol version the server speaks.
	Version uint16
	// NodeID is the answering node's ID.
	NodeID string
	// Leader reports whether the node leads the cluster now.
	Leader bool
	// LeaderAddr is the leader's client address, when known.
	LeaderAddr string
}

// OK answers a request that succeeded (TOK).
type OK struct {
	// Count is a request-specific count, such as the messages removed by
	// TPurgeQueue or TDeleteQueue; 0 when the request has none.
	Count int64
}

// DeclareExchange creates an exchange, or succeeds if one exists with the
// same kind and arguments (TDeclareExchange).
type DeclareExchange struct {
	// Name is the exchange's name.
	Name string
	// Kind is "direct", "fanout", "topic" or "headers".
	Kind string
	// AlternateExchange receives messages this exchange routes nowhere; ""
	// for none.
	AlternateExchange string
}

// DeleteExchange removes an exchange and its bindings (TDeleteExchange).
type DeleteExchange struct {
	// Name is the exchange's name.
	Name string
}

// QueueArgs are a queue's arguments, fixed when it is declared. Zero values
// mean "no limit" or "none".
type QueueArgs struct {
	// MessageTTL is how long a message may wait in the queue, in
	// milliseconds; 0 means forever.
	MessageTTL int64
	// MaxLength is the most ready messages the queue holds; 0 means no limit.
	MaxLength int64
	// MaxLengthBytes is the most body bytes of ready messages; 0 means no
	// limit.
	MaxLengthBytes int64
	// Overflow is what happens at a limit: "drop-head" (the default) or
	// "reject-publish".
	Overflow string
	// DeadLetterExchange receives expired, dropped and rejected messages; ""
	// for none.
	DeadLetterExchange string
	// DeadLetterRoutingKey replaces the routing key of dead-lettered
	// messages; "" keeps it.
	DeadLetterRoutingKey string
	// DeliveryLimit is how many times a message may be delivered before it is
	// dead-lettered or dropped; 0 means no limit.
	DeliveryLimit int64
}

// DeclareQueue creates a queue, or succeeds if one exists with the same
// arguments (TDeclareQueue).
type DeclareQueue struct {
	// Name is the queue's name.
	Name string
	// Args are the queue's arguments.
	Args QueueArgs
}

// DeleteQueue removes a queue, its messages and its bindings (TDeleteQueue).
type DeleteQueue struct {
	// Name is the queue's name.
	Name string
}

// PurgeQueue removes a queue's ready messages (TPurgeQueue).
type PurgeQueue struct {
	// Name is the queue's name.
	Name string
}

// Bind adds (TBind) or removes (TUnbind) a binding from an exchange to a
// queue or to another exchange.
type Bind struct {
	// Source is the exchange messages come from.
	Source string
	// Dest is the queue, or with ToExchange the exchange, they go to.
	Dest string
	// ToExchange makes Dest an exchange.
	ToExchange bool
	// Key is the binding key (a pattern for topic exchanges).
	Key string
	// Args are the binding's arguments (headers exchanges match on them).
	Args map[string]string
}

// Consume subscribes the connection to a queue (TConsume).
type Consume struct {
	// Queue is the queue's name.
	Queue string
	// Prefetch is the most unacknowledged deliveries the consumer holds at
	// once; 0 lets the server choose.
	Prefetch uint32
	// Tag is a client-chosen label, for listings and logs.
	Tag string
}

// ConsumeOK names a new consumer (TConsumeOK).
type ConsumeOK struct {
	// ConsumerID identifies the consumer on this connection: in Deliver,
	// Cancel and Cancelled.
	ConsumerID uint64
}

// Cancel ends a consumer (TCancel).
type Cancel struct {
	// ConsumerID is the consumer to end.
	ConsumerID uint64
}

// Cancelled tells the client that the server ended one of its consumers
// (TCancelled, request ID 0): the queue was deleted, the node lost
// leadership, and so on. The client may subscribe again.
type Cancelled struct {
	// ConsumerID is the consumer that ended.
	ConsumerID uint64
	// Reason says why.
	Reason string
}

// InspectQueue asks for one queue's state (TInspectQueue).
type InspectQueue struct {
	// Name is the queue's name.
	Name string
}

// QueueInfo is one queue's state (TQueueInfo, and in QueueList).
type QueueInfo struct {
	// Name is the queue's name.
	Name string
	// Args are the queue's arguments.
	Args QueueArgs
	// Messages is Ready plus Unacked.
	Messages int64
	// Ready is the number of messages waiting for delivery.
	Ready int64
	// Unacked is the number of deliveries not yet acknowledged.
	Unacked int64
	// Bytes is the body bytes of all the queue's messages.
	Bytes int64
	// Consumers is the number of consumers subscribed on the leader.
	Consumers int32
}

// ListExchanges asks for every exchange (TListExchanges).
type ListExchanges struct{}

// ExchangeInfo describes one exchange.
type ExchangeInfo struct {
	// Name is the exchange's name.
	Name string
	// Kind is "direct", "fanout", "topic" or "headers".
	Kind string
	// AlternateExchange is the alternate exchange, or "".
	AlternateExchange string
}

// ExchangeList answers TListExchanges (TExchangeList).
type ExchangeList struct {
	// Exchanges are the declared exchanges.
	Exchanges []ExchangeInfo
}

// ListQueues asks for every queue (TListQueues).
type ListQueues struct{}

// QueueList answers TListQueues (TQueueList).
type QueueList struct {
	// Queues are the declared queues.
	Queues []QueueInfo
}

// ListBindings asks for bindings (TListBindings).
type ListBindings struct {
	// Exchange limits the list to bindings whose source is this exchange; ""
	// lists all.
	Exchange string
}

// BindingInfo describes one binding.
type BindingInfo struct {
	// Source is the exchange messages come from.
	Source string
	// Dest is the queue, or with ToExchange the exchange, they go to.
	Dest string
	// ToExchange makes Dest an exchange.
	ToExchange bool
	// Key is the binding key.
	Key string
	// Args are the binding's arguments.
	Args map[string]string
}

// BindingList answers TListBindings (TBindingList).
type BindingList struct {
	// Bindings are the matching bindings.
	Bindings []BindingInfo
}

// Status asks for the cluster's state (TStatus). Any node answers, leader or
// not.
type Status struct{}

// Member is one server of the cluster, as the answering node sees it.
type Member struct {
	// ID is the node's stable ID.
	ID string
	// RaftAddr is its Raft address.
	RaftAddr string
	// ClientAddr is its client-protocol address.
	ClientAddr string
	// HTTPAddr is its HTTP address.
	HTTPAddr string
	// Voter reports whether it votes in Raft.
	Voter bool
	// Leader reports whether it leads.
	Leader bool
	// Alive reports whether gossip sees it as alive.
	Alive bool
	// Suffrage is its Raft suffrage: "voter", "nonvoter" or "staging", or ""
	// when it is known only from gossip.
	Suffrage string
}

// StatusInfo answers TStatus (TStatusInfo).
type StatusInfo struct {
	// NodeID is the answering node's ID.
	NodeID string
	// State is its Raft state: "leader", "follower", "candidate" or
	// "shutdown".
	State string
	// LeaderID is the leader's node ID, or "" when no leader is known.
	LeaderID string
	// LeaderAddr is the leader's client address, or "".
	LeaderAddr string
	// Term is the node's current Raft term.
	Term uint64
	// CommitIndex is the node's commit index.
	CommitIndex uint64
	// AppliedIndex is the last index applied to its state machine.
	AppliedIndex uint64
	// LastLogIndex is the last index in its log.
	LastLogIndex uint64
	// Members are the cluster's servers.
	Members []Member
}

// RemoveNode removes a server from the cluster's Raft configuration for good
// (TRemoveNode, an admin operation).
type RemoveNode struct {
	// ID is the node to remove.
	ID string
}
