package wire

import "fmt"

// Version is the protocol version a client sends in Hello.
const Version uint16 = 1

// Type identifies what a frame carries. Types are part of the protocol:
// append new ones, never renumber or reuse a number.
type Type uint8

// Frame types. Append only; never renumber. A request's response echoes its
// request ID; server pushes (TDeliver, TCancelled) carry request ID 0.
const (
	// THello is the client's first frame (Hello).
	THello Type = 1
	// THelloOK accepts the handshake (HelloOK).
	THelloOK Type = 2
	// TError answers any request that failed (Error).
	TError Type = 3
	// TOK answers a request that succeeded without other data (OK).
	TOK Type = 4

	// TDeclareExchange creates an exchange (DeclareExchange); answered by TOK.
	TDeclareExchange Type = 10
	// TDeleteExchange removes an exchange (DeleteExchange); answered by TOK.
	TDeleteExchange Type = 11
	// TDeclareQueue creates a queue (DeclareQueue); answered by TOK.
	TDeclareQueue Type = 12
	// TDeleteQueue removes a queue (DeleteQueue); answered by TOK with the
	// number of messages deleted.
	TDeleteQueue Type = 13
	// TPurgeQueue empties a queue (PurgeQueue); answered by TOK with the number
	// of messages purged.
	TPurgeQueue Type = 14
	// TBind adds a binding (Bind); answered by TOK.
	TBind Type = 15
	// TUnbind removes a binding (Bind); answered by TOK.
	TUnbind Type = 16

	// TPublish publishes a batch of messages (Publish); answered by TConfirm.
	TPublish Type = 20
	// TConfirm reports the outcome of a Publish (Confirm).
	TConfirm Type = 21

	// TConsume subscribes to a queue (Consume); answered by TConsumeOK.
	TConsume Type = 30
	// TConsumeOK names the new consumer (ConsumeOK).
	TConsumeOK Type = 31
	// TDeliver pushes deliveries to a consumer (Deliver), request ID 0.
	TDeliver Type = 32
	// TAck settles deliveries (Ack); answered by TOK.
	TAck Type = 33
	// TNack rejects deliveries (Nack); answered by TOK.
	TNack Type = 34
	// TCancel ends a consumer (Cancel); answered by TOK.
	TCancel Type = 35
	// TCancelled tells a client the server ended its consumer (Cancelled),
	// request ID 0.
	TCancelled Type = 36

	// TInspectQueue asks for one queue's state (InspectQueue).
	TInspectQueue Type = 40
	// TQueueInfo answers TInspectQueue (QueueInfo).
	TQueueInfo Type = 41
	// TListExchanges asks for every exchange (ListExchanges).
	TListExchanges Type = 42
	// TExchangeList answers TListExchanges (ExchangeList).
	TExchangeList Type = 43
	// TListQueues asks for every queue (ListQueues).
	TListQueues Type = 44
	// TQueueList answers TListQueues (QueueList).
	TQueueList Type = 45
	// TListBindings asks for bindings (ListBindings).
	TListBindings Type = 46
	// TBindingList answers TListBindings (BindingList).
	TBindingList Type = 47

	// TStatus asks for the cluster's state (Status); any node answers.
	TStatus Type = 50
	// TStatusInfo answers TStatus (StatusInfo).
	TStatusInfo Type = 51
	// TRemoveNode removes a server from the cluster (RemoveNode); answered by
	// TOK.
	TRemoveNode Type = 52
)

var typeNames = [...]string{
	THello:           "hello",
	THelloOK:         "hello-ok",
	TError:           "error",
	TOK:              "ok",
	TDeclareExchange: "declare-exchange",
	TDeleteExchange:  "delete-exchange",
	TDeclareQueue:    "declare-queue",
	TDeleteQueue:     "delete-queue",
	TPurgeQueue:      "purge-queue",
	TBind:            "bind",
	TUnbind:          "unbind",
	TPublish:         "publish",
	TConfirm:         "confirm",
	TConsume:         "consume",
	TConsumeOK:       "consume-ok",
	TDeliver:         "deliver",
	TAck:             "ack",
	TNack:            "nack",
	TCancel:          "cancel",
	TCancelled:       "cancelled",
	TInspectQueue:    "inspect-queue",
	TQueueInfo:       "queue-info",
	TListExchanges:   "list-exchanges",
	TExchangeList:    "exchange-list",
	TListQueues:      "list-queues",
	TQueueList:       "queue-list",
	TListBindings:    "list-bindings",
	TBindingList:     "binding-list",
	TStatus:          "status",
	TStatusInfo:      "status-info",
	TRemoveNode:      "remove-node",
}

// String returns the type's name, or "type(N)" for a type this version does
// not know.
func (t Type) String() string {
	if t.Known() {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Known reports whether t is a frame type this version of the protocol
// defines. A server answers an unknown type with CodeProtocol.
func (t Type) Known() bool {
	return int(t) < len(typeNames) && typeNames[t] != ""
}
