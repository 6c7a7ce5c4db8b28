package fsm

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/raftmq/raftmq/exchange"
	"github.com/raftmq/raftmq/queue"
)

// DefaultDedupWindow is the de-duplication window of a new cluster.
const DefaultDedupWindow = 2 * time.Minute

// Limits on a published message's fields.
const (
	// MaxMessageIDSize is the longest message ID accepted, in bytes.
	MaxMessageIDSize = 255
	// MaxHeaders is the largest number of headers on one message.
	MaxHeaders = 256
	// maxTTL bounds a message TTL (ms) so that now+TTL cannot overflow.
	maxTTL = int64(100 * 365 * 24 * time.Hour / time.Millisecond)
	// maxDeadLetterHops bounds the dead-letter work one command may cause.
	maxDeadLetterHops = 100000
)

// FSM is the replicated state machine. It implements raft.FSM and
// raft.BatchingFSM. Apply, ApplyBatch, Snapshot and Restore are called by
// Raft from one goroutine; View may be called from any goroutine.
type FSM struct {
	mu sync.RWMutex
	s  *state // guarded by mu; replaced whole by Restore

	notify atomic.Pointer[func(queue string)]

	appliedIndex atomic.Uint64
	messages     atomic.Int64
	bytes        atomic.Int64

	// bodies reads message bodies back from the Raft log; nil keeps every
	// body in memory. Set by UseLog before the first Apply.
	bodies *bodyReader
}

// state is everything that is replicated and snapshotted.
type state struct {
	now    int64 // the state machine's clock: max of the times it was given
	window int64 // de-duplication window, ns
	router *exchange.Router
	queues map[string]*queue.Queue
	dedup  dedup
	// keys interns routing keys, which repeat across messages, so queued
	// messages share one copy of each. Not replicated state: it only
	// saves memory.
	keys map[string]string
	// entry is the index of the Raft log entry being applied when message
	// bodies are kept in the log (see UseLog), else 0. Not replicated
	// state: it only says where a body can be read back.
	entry uint64
	// tally is the queues' total messages and bytes, which every queue of
	// queues keeps up to date (see addQueue).
	tally queue.Tally
}

// addQueue stores q under name, counted in the state's tally, in place of
// any queue of that name.
func (s *state) addQueue(name string, q *queue.Queue) {
	if old, ok := s.queues[name]; ok {
		old.SetTally(nil)
	}
	q.SetTally(&s.tally)
	s.queues[name] = q
}

// maxInternedKeys bounds the routing-key intern table.
const maxInternedKeys = 4096

// internKey returns the shared copy of a routing key.
func (s *state) internKey(k string) string {
	if v, ok := s.keys[k]; ok {
		return v
	}
	if len(s.keys) < maxInternedKeys {
		s.keys[k] = k
	}
	return k
}

func newState() *state {
	return &state{
		window: int64(DefaultDedupWindow),
		router: exchange.NewRouter(),
		queues: make(map[string]*queue.Queue),
		dedup:  newDedup(),
		keys:   make(map[string]string),
	}
}

// New returns an empty state machine: the default exchange, no queues.
func New() *FSM {
	f := &FSM{s: newState()}
	return f
}

var (
	_ raft.FSM         = (*FSM)(nil)
	_ raft.BatchingFSM = (*FSM)(nil)
)

// SetNotify registers fn to be called after each applied command with the
// name of every queue that gained messages, lost messages or was deleted, and
// with "" after a Restore (every queue may have changed). fn runs on Raft's
// apply goroutine: it must not block nor call back into the FSM's writers.
func (f *FSM) SetNotify(fn func(queue string)) {
	if fn == nil {
		f.notify.Store(nil)
		return
	}
	f.notify.Store(&fn)
}

// AppliedIndex returns the index of the last log entry applied.
func (f *FSM) AppliedIndex() uint64 { return f.appliedIndex.Load() }

// Totals returns the number of messages held in all queues and the sum of
// their body sizes, as of the last applied command.
func (f *FSM) Totals() (messages, bytes int64) { return f.messages.Load(), f.bytes.Load() }

// Apply applies one Raft log entry. It returns a *Result for commands, nil for
// other entries.
func (f *FSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies several entries under one lock acquisition.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	touched := make(map[string]struct{})
	f.mu.Lock()
	s := f.s
	for i, l := range logs {
		if l.Type == raft.LogCommand {
			if f.bodies != nil {
				s.entry = l.Index
			}
			out[i] = applyHook(s, l, touched)
			s.entry = 0
		}
		f.appliedIndex.Store(l.Index)
	}
	f.updateTotals(s)
	f.mu.Unlock()
	f.signal(touched)
	return out
}

// ApplyCommand applies command bytes outside Raft, for tests and tools that
// replay a log. It is Apply without the log entry.
func (f *FSM) ApplyCommand(data []byte) *Result {
	touched := make(map[string]struct{})
	f.mu.Lock()
	r := f.s.apply(data, touched)
	f.updateTotals(f.s)
	f.mu.Unlock()
	f.signal(touched)
	return r
}

func (f *FSM) updateTotals(s *state) {
	f.messages.Store(s.tally.Messages)
	f.bytes.Store(s.tally.Bytes)
}

func (f *FSM) signal(touched map[string]struct{}) {
	fn := f.notify.Load()
	if fn == nil || len(touched) == 0 {
		return
	}
	names := make([]string, 0, len(touched))
	for q := range touched {
		names = append(names, q)
	}
	sort.Strings(names)
	for _, q := range names {
		(*fn)(q)
	}
}

// View runs fn with read access to the state. The *queue.Queue values it
// hands out must not be used after fn returns, but the *queue.Message values
// may: messages are immutable once enqueued.
func (f *FSM) View(fn func(v View)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	fn(View{s: f.s, bodies: f.bodies})
}

// View is read access to the state machine, valid only inside FSM.View.
type View struct {
	s      *state
	bodies *bodyReader
}

// Queue returns the named queue.
func (v View) Queue(name string) (*queue.Queue, bool) {
	q, ok := v.s.queues[name]
	return q, ok
}

// QueueNames returns the names of all queues, sorted.
func (v View) QueueNames() []string {
	names := make([]string, 0, len(v.s.queues))
	for n := range v.s.queues {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Exchange returns the named exchange.
func (v View) Exchange(name string) (exchange.Exchange, bool) { return v.s.router.Get(name) }

// Exchanges returns every declared exchange, sorted by name.
func (v View) Exchanges() []exchange.Exchange { return v.s.router.Exchanges() }

// Bindings returns the bindings whose source is the named exchange, or every
// binding when name is "".
func (v View) Bindings(name string) []exchange.Binding {
	if name == "" {
		return v.s.router.Bindings()
	}
	return v.s.router.BindingsFor(name)
}

// HasBinding reports whether the binding exists.
func (v View) HasBinding(b exchange.Binding) bool { return v.s.router.HasBinding(b) }

// Now returns the state machine's clock, in Unix nanoseconds.
func (v View) Now() int64 { return v.s.now }

// DedupWindow returns the de-duplication window.
func (v View) DedupWindow() time.Duration { return time.Duration(v.s.window) }

// DedupSize returns how many message IDs are remembered.
func (v View) DedupSize() int { return v.s.dedup.len() }

// NextExpiry returns the earliest expiry time of any message, or 0.
func (v View) NextExpiry() int64 {
	var min int64
	for _, q := range v.s.queues {
		if e := q.NextExpiry(); e > 0 && (min == 0 || e < min) {
			min = e
		}
	}
	return min
}

// apply decodes and applies one command. It recovers from a panic so that a
// bug triggered by one command cannot take the node down; the command then
// counts as failed. The recovery is a last line of defence, not a mechanism:
// every known bad input is rejected before it can panic.
func (s *state) apply(data []byte, touched map[string]struct{}) (res *Result) {
	defer func() {
		if r := recover(); r != nil {
			res = &Result{Err: fmt.Errorf("internal error applying command: %v", r)}
		}
	}()
	op, body, err := decode(data, s.entry != 0)
	if err != nil {
		return &Result{Err: err}
	}
	switch c := body.(type) {
	case *DeclareExchange:
		return s.declareExchange(c)
	case *DeleteExchange:
		return s.deleteExchange(c)
	case *DeclareQueue:
		return s.declareQueue(c)
	case *DeleteQueue:
		return s.deleteQueue(c, touched)
	case *PurgeQueue:
		return s.purgeQueue(c, touched)
	case *Bind:
		if op == OpUnbind {
			return s.unbind(c)
		}
		return s.bind(c)
	case *Publish:
		return s.publish(c, touched)
	case *Settle:
		return s.settle(c, touched)
	case *Return:
		return s.ret(c, touched)
	case *Tick:
		return s.tick(c, touched)
	case *Configure:
		return s.configure(c)
	}
	return &Result{Err: fmt.Errorf("%w: %s", ErrUnknownOp, op)}
}

func (s *state) advance(t int64) {
	if t > s.now {
		s.now = t
	}
}

// mapErr translates the leaf packages' sentinels into this package's. The
// result matches both sentinels with errors.Is and keeps the leaf's message.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var kind error
	switch {
	case errors.Is(err, exchange.ErrNotFound), errors.Is(err, queue.ErrNotFound):
		kind = ErrNotFound
	case errors.Is(err, exchange.ErrPrecondition):
		kind = ErrPrecondition
	case errors.Is(err, exchange.ErrInvalidName), errors.Is(err, exchange.ErrInvalidArgument), errors.Is(err, queue.ErrInvalidArgument):
		kind = ErrInvalidArgument
	default:
		return err
	}
	return &domainError{kind: kind, err: err}
}

// domainError is a leaf package's error classified as one of this
// package's sentinels.
type domainError struct {
	kind error
	err  error
}

func (e *domainError) Error() string   { return e.err.Error() }
func (e *domainError) Unwrap() []error { return []error{e.kind, e.err} }

func (s *state) declareExchange(c *DeclareExchange) *Result {
	if c.Exchange.AlternateExchange != "" {
		if err := exchange.ValidateName(c.Exchange.AlternateExchange); err != nil {
			return &Result{Err: mapErr(fmt.Errorf("alternate exchange: %w", err))}
		}
	}
	return &Result{Err: mapErr(s.router.Declare(c.Exchange))}
}

func (s *state) deleteExchange(c *DeleteExchange) *Result {
	return &Result{Err: mapErr(s.router.Delete(c.Name))}
}

func (s *state) declareQueue(c *DeclareQueue) *Result {
	if c.Name == "" {
		return &Result{Err: fmt.Errorf("%w: a queue needs a name", ErrInvalidArgument)}
	}
	if err := exchange.ValidateName(c.Name); err != nil {
		return &Result{Err: mapErr(fmt.Errorf("queue name: %w", err))}
	}
	if err := c.Args.Validate(); err != nil {
		return &Result{Err: mapErr(err)}
	}
	if q, ok := s.queues[c.Name]; ok {
		if !q.Args().Equal(c.Args) {
			return &Result{Err: fmt.Errorf("%w: queue %q exists with other arguments", ErrPrecondition, c.Name)}
		}
		return &Result{}
	}
	s.addQueue(c.Name, queue.New(c.Name, c.Args))
	return &Result{}
}

func (s *state) deleteQueue(c *DeleteQueue, touched map[string]struct{}) *Result {
	q, ok := s.queues[c.Name]
	if !ok {
		return &Result{Err: fmt.Errorf("%w: queue %q", ErrNotFound, c.Name)}
	}
	n := q.Len()
	q.SetTally(nil)
	delete(s.queues, c.Name)
	s.router.RemoveQueue(c.Name)
	touched[c.Name] = struct{}{}
	return &Result{Count: int64(n)}
}

func (s *state) purgeQueue(c *PurgeQueue, touched map[string]struct{}) *Result {
	q, ok := s.queues[c.Name]
	if !ok {
		return &Result{Err: fmt.Errorf("%w: queue %q", ErrNotFound, c.Name)}
	}
	touched[c.Name] = struct{}{}
	return &Result{Count: int64(q.Purge())}
}

func (s *state) bind(c *Bind) *Result {
	b := c.Binding
	if b.DestKind == exchange.ToQueue {
		if _, ok := s.queues[b.Dest]; !ok {
			return &Result{Err: fmt.Errorf("%w: queue %q", ErrNotFound, b.Dest)}
		}
	}
	return &Result{Err: mapErr(s.router.Bind(b))}
}

func (s *state) unbind(c *Bind) *Result {
	return &Result{Err: mapErr(s.router.Unbind(c.Binding))}
}

func (s *state) queueExists(name string) bool {
	_, ok := s.queues[name]
	return ok
}

func validateMessage(m *PublishMessage) error {
	if len(m.ID) > MaxMessageIDSize {
		return fmt.Errorf("%w: message ID of %d bytes (at most %d)", ErrInvalidArgument, len(m.ID), MaxMessageIDSize)
	}
	if err := exchange.ValidateName(m.Exchange); err != nil {
		return mapErr(fmt.Errorf("exchange: %w", err))
	}
	if err := exchange.ValidateRoutingKey(m.RoutingKey); err != nil {
		return mapErr(fmt.Errorf("routing key: %w", err))
	}
	if len(m.Headers) > MaxHeaders {
		return fmt.Errorf("%w: %d headers (at most %d)", ErrInvalidArgument, len(m.Headers), MaxHeaders)
	}
	if m.TTL < 0 || m.TTL > maxTTL {
		return fmt.Errorf("%w: ttl %d ms out of range", ErrInvalidArgument, m.TTL)
	}
	return nil
}

func (s *state) publish(c *Publish, touched map[string]struct{}) *Result {
	s.advance(c.Time)
	now := s.now
	res := &Result{Messages: make([]MessageResult, len(c.Messages))}
	for i := range c.Messages {
		res.Messages[i] = s.publishOne(&c.Messages[i], now, touched)
	}
	return res
}

func (s *state) publishOne(pm *PublishMessage, now int64, touched map[string]struct{}) MessageResult {
	if err := validateMessage(pm); err != nil {
		return MessageResult{Status: Failed, Err: err}
	}
	if pm.ID != "" && s.dedup.isDuplicate(pm.ID, now, s.window) {
		return MessageResult{Status: Duplicate}
	}
	x, ok := s.router.Get(pm.Exchange)
	if !ok && pm.Exchange != "" {
		return MessageResult{Status: Failed, Err: fmt.Errorf("%w: exchange %q", ErrNotFound, pm.Exchange)}
	}
	targets, err := s.router.Route(pm.Exchange, pm.RoutingKey, pm.Headers, s.queueExists)
	if err != nil {
		return MessageResult{Status: Failed, Err: mapErr(err)}
	}
	if len(targets) == 0 {
		if pm.Mandatory {
			return MessageResult{Status: Unroutable}
		}
		return MessageResult{Status: Dropped}
	}
	var expires int64
	if pm.TTL > 0 {
		expires = now + pm.TTL*int64(time.Millisecond)
	}
	body, ref := s.keepBody(pm)
	rk := s.internKey(pm.RoutingKey)
	var accepted int32
	// One allocation for the copies of all target queues.
	slab := make([]queue.Message, len(targets))
	for i, name := range targets {
		q := s.queues[name]
		m := &slab[i]
		*m = queue.Message{
			ID:          pm.ID,
			Exchange:    x.Name, // the router's copy: one string per exchange, not per message
			RoutingKey:  rk,
			Headers:     pm.Headers,
			Body:        body,
			Ref:         ref,
			PublishedAt: now,
			ExpiresAt:   expires,
		}
		dls, err := q.Push(m, now)
		if err != nil {
			continue // reject-publish: this queue refused it
		}
		accepted++
		touched[name] = struct{}{}
		s.deadLetter(q, dls, touched)
	}
	if accepted == 0 {
		return MessageResult{Status: Rejected}
	}
	if pm.ID != "" {
		s.dedup.add(pm.ID, now)
	}
	return MessageResult{Status: Routed, Queues: accepted}
}

func (s *state) settle(c *Settle, touched map[string]struct{}) *Result {
	var n int64
	for _, e := range c.Entries {
		q, ok := s.queues[e.Queue]
		if !ok {
			continue
		}
		for _, seq := range e.Seqs {
			if q.Settle(seq) {
				n++
			}
		}
		touched[e.Queue] = struct{}{}
	}
	return &Result{Count: n}
}

func (s *state) ret(c *Return, touched map[string]struct{}) *Result {
	s.advance(c.Time)
	var n int64
	for _, e := range c.Entries {
		q, ok := s.queues[e.Queue]
		if !ok {
			continue
		}
		for _, seq := range e.Seqs {
			dl, found := q.Return(seq, c.Requeue, s.now)
			if !found {
				continue
			}
			n++
			if dl != nil {
				s.deadLetter(q, []queue.DeadLetter{*dl}, touched)
			}
		}
		touched[e.Queue] = struct{}{}
	}
	return &Result{Count: n}
}

func (s *state) tick(c *Tick, touched map[string]struct{}) *Result {
	s.advance(c.Time)
	var n int64
	for _, name := range sortedQueueNames(s.queues) {
		q := s.queues[name]
		if e := q.NextExpiry(); e == 0 || e > s.now {
			continue
		}
		dls := q.Expire(s.now)
		if len(dls) == 0 {
			continue
		}
		n += int64(len(dls))
		touched[name] = struct{}{}
		s.deadLetter(q, dls, touched)
	}
	s.dedup.prune(s.now - s.window)
	return &Result{Count: n}
}

func (s *state) configure(c *Configure) *Result {
	if c.DedupWindow < 0 {
		return &Result{Err: fmt.Errorf("%w: negative de-duplication window", ErrInvalidArgument)}
	}
	if c.DedupWindow > 0 {
		s.window = c.DedupWindow
	}
	return &Result{}
}

// deadLetter routes the messages a queue removed to its dead-letter exchange.
// Dead letters are not de-duplicated (they keep their ID) and may cascade:
// a target queue's own overflow dead-letters further, through a worklist
// bounded by maxDeadLetterHops. As in RabbitMQ, a message is not
// dead-lettered into a queue it already died in unless one of its deaths was
// a rejection, so an expiry cycle cannot loop forever.
func (s *state) deadLetter(from *queue.Queue, dls []queue.DeadLetter, touched map[string]struct{}) {
	type item struct {
		q  *queue.Queue
		dl queue.DeadLetter
	}
	work := make([]item, 0, len(dls))
	for _, dl := range dls {
		work = append(work, item{from, dl})
	}
	for hops := 0; len(work) > 0 && hops < maxDeadLetterHops; hops++ {
		it := work[0]
		work = work[1:]
		args := it.q.Args()
		if args.DeadLetterExchange == "" {
			continue
		}
		key := args.DeadLetterRoutingKey
		if key == "" {
			key = it.dl.Msg.RoutingKey
		}
		targets, err := s.router.Route(args.DeadLetterExchange, key, it.dl.Msg.Headers, s.queueExists)
		if err != nil {
			continue // the dead-letter exchange does not exist: dropped, as RabbitMQ does
		}
		x, _ := s.router.Get(args.DeadLetterExchange)
		for _, name := range targets {
			if isCycle(it.dl.Msg.Deaths, name) {
				continue
			}
			q := s.queues[name]
			m := &queue.Message{
				ID:          it.dl.Msg.ID,
				Exchange:    x.Name,
				RoutingKey:  key,
				Headers:     it.dl.Msg.Headers,
				Body:        it.dl.Msg.Body,
				Ref:         it.dl.Msg.Ref,
				PublishedAt: it.dl.Msg.PublishedAt,
				Deaths:      slices.Clip(slices.Clone(it.dl.Msg.Deaths)),
			}
			more, err := q.Push(m, s.now)
			if err != nil {
				continue
			}
			touched[name] = struct{}{}
			for _, dl := range more {
				work = append(work, item{q, dl})
			}
		}
	}
}

// isCycle reports whether dead-lettering into queue would close a cycle that
// no rejection broke.
func isCycle(deaths []queue.Death, target string) bool {
	seen := false
	for _, d := range deaths {
		if d.Reason == queue.Rejected {
			return false
		}
		if d.Queue == target {
			seen = true
		}
	}
	return seen
}

func sortedQueueNames(m map[string]*queue.Queue) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// DedupOldest returns the time of the oldest remembered message ID, or 0. It
// may be older than the oldest live entry (a lower bound), which only makes
// the leader tick a little early.
func (v View) DedupOldest() int64 {
	d := &v.s.dedup
	if d.head < len(d.order) {
		return d.order[d.head].t
	}
	return 0
}
