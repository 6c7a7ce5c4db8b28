package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"
)

// Type is the kind of a history entry.
type Type string

// Entry kinds. An operation is an Invoke followed, on the same process, by
// exactly one completion: Ok, Fail or Info.
const (
	// Invoke: the operation starts.
	Invoke Type = "invoke"
	// Ok: the operation took effect; its value is what it observed.
	Ok Type = "ok"
	// Fail: the operation certainly had no effect.
	Fail Type = "fail"
	// Info: the outcome is unknown (a timeout, a connection lost after
	// sending, leadership lost during commit). It may have taken effect, now
	// or later.
	Info Type = "info"
)

// NemesisProcess is the process of nemesis operations.
const NemesisProcess = -1

// Operation names (Op.F).
const (
	// FPublish publishes one message (Value.ID, Value.Exchange, Value.Key,
	// Value.Headers); the ok value adds Status, Term, Index.
	FPublish = "publish"
	// FDeliver is an observation: a consumer received a message (Value.ID,
	// Queue, Seq, Redelivered, DeliveryCount, Action). It is recorded as a
	// single Ok entry without an Invoke.
	FDeliver = "deliver"
	// FDrain is the final drain: invoke when it starts, ok when every queue
	// was empty and every confirmed message seen, info on a drain timeout.
	FDrain = "drain"
	// Metadata operations (Value.Queue, Value.Key; Value.Exists for reads).
	FDeclareQueue = "declare-queue"
	FDeleteQueue  = "delete-queue"
	FInspectQueue = "inspect-queue"
	FBind         = "bind"
	FUnbind       = "unbind"
	FHasBinding   = "has-binding"
	// FStartFault and FStopFault bracket a fault of the nemesis
	// (Value.Fault, Value.Nodes).
	FStartFault = "start-fault"
	FStopFault  = "stop-fault"
)

// Delivery actions (Value.Action).
const (
	// ActionAck: the consumer acked the delivery.
	ActionAck = "ack"
	// ActionAbandon: the consumer closed its connection without settling the
	// delivery, so that it must come back redelivered.
	ActionAbandon = "abandon"
)

// Value is the payload of an entry. Fields are set as the operation needs.
type Value struct {
	// ID is a message ID.
	ID string `json:"id,omitempty"`
	// Exchange, Key and Headers are what a message was published with.
	Exchange string            `json:"exchange,omitempty"`
	Key      string            `json:"key,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	// Queue is the queue of a delivery or a metadata operation.
	Queue string `json:"queue,omitempty"`
	// Seq is a delivery's sequence number in its queue.
	Seq uint64 `json:"seq,omitempty"`
	// Redelivered and DeliveryCount are a delivery's redelivery marks.
	Redelivered   bool `json:"redelivered,omitempty"`
	DeliveryCount int  `json:"delivery_count,omitempty"`
	// Action is what a consumer did with a delivery.
	Action string `json:"action,omitempty"`
	// Status, Queues, Term and Index are a confirm's fields.
	Status string `json:"status,omitempty"`
	Queues int    `json:"queues,omitempty"`
	Term   uint64 `json:"term,omitempty"`
	Index  uint64 `json:"index,omitempty"`
	// Exists is the answer of a metadata read.
	Exists *bool `json:"exists,omitempty"`
	// NotFound reports that a metadata write was answered "not found".
	NotFound bool `json:"not_found,omitempty"`
	// Fault and Nodes describe a nemesis operation.
	Fault string   `json:"fault,omitempty"`
	Nodes []string `json:"nodes,omitempty"`
	// Empty reports, on a drain, that every queue was seen empty at its end.
	Empty bool `json:"empty,omitempty"`
	// Missing is, on a drain, how many confirmed messages were not seen.
	Missing int `json:"missing,omitempty"`
}

// Op is one line of the history.
type Op struct {
	// Index is the entry's position in the history, from 0.
	Index int `json:"index"`
	// Type is invoke, ok, fail or info.
	Type Type `json:"type"`
	// Process is the logical process (a client or the nemesis). A process
	// has at most one operation in flight; after an info it is replaced by
	// a new process number.
	Process int `json:"process"`
	// Time is nanoseconds since the start of the run.
	Time int64 `json:"time"`
	// F is the operation's name.
	F string `json:"f"`
	// Value is the operation's payload.
	Value Value `json:"value"`
	// Attempts is how many times a request was sent (publishes).
	Attempts int `json:"attempts,omitempty"`
	// Error is the error text of a fail or info.
	Error string `json:"error,omitempty"`
}

// Completion reports whether the entry completes an operation.
func (o Op) Completion() bool { return o.Type == Ok || o.Type == Fail || o.Type == Info }

// Recorder appends operations to a history, in memory and, optionally, as
// JSON lines to a writer. It is safe for concurrent use.
type Recorder struct {
	start time.Time

	mu  sync.Mutex
	ops []Op
	w   *bufio.Writer
	enc *json.Encoder
	err error
}

// NewRecorder returns a recorder whose times count from start. w may be nil.
func NewRecorder(start time.Time, w io.Writer) *Recorder {
	r := &Recorder{start: start}
	if w != nil {
		r.w = bufio.NewWriterSize(w, 64<<10)
		r.enc = json.NewEncoder(r.w)
	}
	return r
}

// Start returns the instant times count from.
func (r *Recorder) Start() time.Time { return r.start }

// Now returns the current time of the history.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Append records op, stamping its index (and its time, when zero), and
// returns the stamped op.
func (r *Recorder) Append(op Op) Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	if op.Time == 0 {
		op.Time = int64(time.Since(r.start))
	}
	op.Index = len(r.ops)
	r.ops = append(r.ops, op)
	if r.enc != nil && r.err == nil {
		if err := r.enc.Encode(op); err != nil {
			r.err = fmt.Errorf("write history entry %d: %w", op.Index, err)
		}
	}
	return op
}

// Invoke records the start of an operation and returns its invocation.
func (r *Recorder) Invoke(process int, f string, v Value) Op {
	return r.Append(Op{Type: Invoke, Process: process, F: f, Value: v})
}

// Complete records the completion of inv with type t.
func (r *Recorder) Complete(inv Op, t Type, v Value, attempts int, err error) Op {
	op := Op{Type: t, Process: inv.Process, F: inv.F, Value: v, Attempts: attempts}
	if err != nil {
		op.Error = err.Error()
	}
	return r.Append(op)
}

// Ops returns a copy of the operations recorded so far.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Op(nil), r.ops...)
}

// Flush writes buffered lines out and returns the first write error.
func (r *Recorder) Flush() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w != nil && r.err == nil {
		if err := r.w.Flush(); err != nil {
			r.err = fmt.Errorf("flush history: %w", err)
		}
	}
	return r.err
}

// ErrMalformed reports a history that cannot be parsed or is not well
// formed.
var ErrMalformed = errors.New("malformed history")

// maxLine bounds one JSON line of a history.
const maxLine = 1 << 20

// Read parses a history written as JSON lines. Blank lines are skipped.
func Read(r io.Reader) ([]Op, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var ops []Op
	line := 0
	for sc.Scan() {
		line++
		b := sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(b, &op); err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrMalformed, line, err)
		}
		switch op.Type {
		case Invoke, Ok, Fail, Info:
		default:
			return nil, fmt.Errorf("%w: line %d: unknown type %q", ErrMalformed, line, op.Type)
		}
		if op.F == "" {
			return nil, fmt.Errorf("%w: line %d: no operation name", ErrMalformed, line)
		}
		ops = append(ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read history after line %d: %w", line, err)
	}
	return ops, nil
}

// Write writes ops as JSON lines.
func Write(w io.Writer, ops []Op) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, op := range ops {
		if err := enc.Encode(op); err != nil {
			return fmt.Errorf("write history entry %d: %w", op.Index, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

// Pair is one operation: its invocation and its completion. Observations
// (deliveries) have no invocation: Invoke is then the completion itself.
type Pair struct {
	Invoke     Op
	Completion Op
	// Open reports an invocation that never completed (the run ended
	// first); Completion is then a synthetic Info at the history's end.
	Open bool
}

// Pairs matches every invocation with its process's next completion and
// returns the operations in invocation order. Completions without an
// invocation (observations) are returned as pairs of themselves. It fails on
// a process that invokes twice without completing.
func Pairs(ops []Op) ([]Pair, error) {
	open := make(map[int]int) // process -> index into out
	var out []Pair
	var end int64
	for _, op := range ops {
		end = max(end, op.Time)
		switch op.Type {
		case Invoke:
			if i, ok := open[op.Process]; ok {
				return nil, fmt.Errorf("%w: process %d invokes %s (entry %d) while %s (entry %d) is open",
					ErrMalformed, op.Process, op.F, op.Index, out[i].Invoke.F, out[i].Invoke.Index)
			}
			open[op.Process] = len(out)
			out = append(out, Pair{Invoke: op})
		default:
			if i, ok := open[op.Process]; ok {
				if out[i].Invoke.F != op.F {
					return nil, fmt.Errorf("%w: process %d completes %s (entry %d) while %s is open",
						ErrMalformed, op.Process, op.F, op.Index, out[i].Invoke.F)
				}
				out[i].Completion = op
				delete(open, op.Process)
				continue
			}
			out = append(out, Pair{Invoke: op, Completion: op})
		}
	}
	for _, i := range open {
		inv := out[i].Invoke
		out[i].Completion = Op{Index: -1, Type: Info, Process: inv.Process, Time: end, F: inv.F, Value: inv.Value, Error: "never completed"}
		out[i].Open = true
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Invoke.Index < out[b].Invoke.Index })
	return out, nil
}
