package exchange

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
)

// bindingEntry is a stored binding and what routing needs of it.
type bindingEntry struct {
	b      Binding        // owned copy (Args cloned)
	id     string         // identity within the source exchange
	hdr    *headerMatcher // headers exchanges only
	destEx *exState       // ToExchange only; valid while the binding exists
	queue  queueRef       // ToQueue only
}

// exState is one exchange and the index of its bindings for its kind.
type exState struct {
	ex       Exchange
	bindings map[string]*bindingEntry // by identity
	direct   map[string][]target      // direct: by key
	list     []target                 // fanout, headers
	topic    *trie                    // topic
}

// target is where a binding routes to, as routing reads it. Indexes hold
// targets by value, next to one another, so that routing does not chase a
// pointer to each matched binding.
type target struct {
	queue queueRef      // ToQueue
	ex    *exState      // ToExchange; nil for a queue
	be    *bindingEntry // the binding, for removal and header matching
}

func (be *bindingEntry) target() target {
	return target{queue: be.queue, ex: be.destEx, be: be}
}

// removeTarget deletes the target of be from l, keeping the order of the
// others, and returns the shortened list (nil once empty).
func removeTarget(l []target, be *bindingEntry) []target {
	i := slices.IndexFunc(l, func(t target) bool { return t.be == be })
	if i < 0 {
		return l
	}
	l = slices.Delete(l, i, i+1)
	if len(l) == 0 {
		return nil
	}
	return l
}

// destRef names a binding destination.
type destRef struct {
	kind DestKind
	name string
}

// Router holds all exchanges and bindings and routes messages.
//
// It is not safe for concurrent use: the caller serialises mutations. The
// read-only methods (Get, HasBinding, Route, Exchanges, Bindings,
// BindingsFor, BindingsTo) may run concurrently with one another, but not
// with a mutation.
type Router struct {
	exchanges map[string]*exState
	byDest    map[destRef]map[*bindingEntry]struct{}
	scratch   sync.Pool // *routeScratch
}

// NewRouter returns a Router holding only the default exchange "" (direct),
// to which every queue is implicitly bound by its own name.
func NewRouter() *Router {
	r := &Router{
		exchanges: make(map[string]*exState),
		byDest:    make(map[destRef]map[*bindingEntry]struct{}),
	}
	r.scratch.New = func() any { return new(routeScratch) }
	return r
}

// defaultExchange is what Get("") returns.
var defaultExchange = Exchange{Name: "", Kind: Direct}

// Declare creates exchange e. Declaring an existing exchange with the same
// definition succeeds and changes nothing; with a different one it fails
// with ErrPrecondition. Declaring the default exchange "" fails with
// ErrPrecondition. The alternate exchange need not exist yet.
func (r *Router) Declare(e Exchange) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("declare exchange: %w", err)
	}
	if x, ok := r.exchanges[e.Name]; ok {
		if x.ex != e {
			return fmt.Errorf("redeclare exchange %q as %+v, declared as %+v: %w", e.Name, e, x.ex, ErrPrecondition)
		}
		return nil
	}
	x := &exState{ex: e, bindings: make(map[string]*bindingEntry)}
	switch e.Kind {
	case Direct:
		x.direct = make(map[string][]target)
	case Topic:
		x.topic = &trie{}
	}
	r.exchanges[e.Name] = x
	return nil
}

// Delete removes exchange name and every binding of which it is the source
// or the destination. Exchanges naming it as their alternate keep the name.
// It returns ErrNotFound if the exchange does not exist and ErrPrecondition
// for the default exchange.
func (r *Router) Delete(name string) error {
	if name == "" {
		return fmt.Errorf("delete the default exchange: %w", ErrPrecondition)
	}
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("delete exchange: %w", err)
	}
	x, ok := r.exchanges[name]
	if !ok {
		return fmt.Errorf("delete exchange %q: %w", name, ErrNotFound)
	}
	for _, be := range x.bindings {
		r.unindexDest(be)
	}
	r.dropDest(destRef{ToExchange, name})
	delete(r.exchanges, name)
	return nil
}

// Get returns the definition of exchange name. Get("") returns the default
// exchange.
func (r *Router) Get(name string) (Exchange, bool) {
	if name == "" {
		return defaultExchange, true
	}
	x, ok := r.exchanges[name]
	if !ok {
		return Exchange{}, false
	}
	return x.ex, true
}

// Bind adds binding b. The source exchange must exist (ErrNotFound), and so
// must the destination exchange of an exchange-to-exchange binding; the
// existence of a destination queue is the caller's to check. Binding from or
// to the default exchange is ErrInvalidArgument, as is a bad x-match on a
// headers exchange. Adding a binding that exists already is a no-op.
func (r *Router) Bind(b Binding) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	src, ok := r.exchanges[b.Source]
	if !ok {
		return fmt.Errorf("bind from exchange %q: %w", b.Source, ErrNotFound)
	}
	var dst *exState
	if b.DestKind == ToExchange {
		if dst, ok = r.exchanges[b.Dest]; !ok {
			return fmt.Errorf("bind to exchange %q: %w", b.Dest, ErrNotFound)
		}
	}
	var hdr *headerMatcher
	if src.ex.Kind == Headers {
		var err error
		if hdr, err = parseHeaderArgs(b.Args); err != nil {
			return fmt.Errorf("bind from headers exchange %q: %w", b.Source, err)
		}
	}
	id := bindingID(&b)
	if _, ok := src.bindings[id]; ok {
		return nil
	}
	be := &bindingEntry{b: cloneBinding(b), id: id, hdr: hdr, destEx: dst}
	if b.DestKind == ToQueue {
		be.queue = newQueueRef(b.Dest)
	}
	src.add(be)
	ref := destRef{b.DestKind, b.Dest}
	set := r.byDest[ref]
	if set == nil {
		set = make(map[*bindingEntry]struct{})
		r.byDest[ref] = set
	}
	set[be] = struct{}{}
	return nil
}

// Unbind removes binding b. Removing a binding that does not exist succeeds
// (as RabbitMQ); the source exchange must exist (ErrNotFound).
func (r *Router) Unbind(b Binding) error {
	if err := b.Validate(); err != nil {
		return fmt.Errorf("unbind: %w", err)
	}
	src, ok := r.exchanges[b.Source]
	if !ok {
		return fmt.Errorf("unbind from exchange %q: %w", b.Source, ErrNotFound)
	}
	be, ok := src.bindings[bindingID(&b)]
	if !ok {
		return nil
	}
	src.remove(be)
	r.unindexDest(be)
	return nil
}

// HasBinding reports whether binding b exists.
func (r *Router) HasBinding(b Binding) bool {
	src, ok := r.exchanges[b.Source]
	if !ok {
		return false
	}
	_, ok = src.bindings[bindingID(&b)]
	return ok
}

// RemoveQueue drops every binding whose destination is queue (called when
// the queue is deleted).
func (r *Router) RemoveQueue(queue string) {
	r.dropDest(destRef{ToQueue, queue})
}

// dropDest removes every binding to ref from its source exchange.
func (r *Router) dropDest(ref destRef) {
	for be := range r.byDest[ref] {
		if src, ok := r.exchanges[be.b.Source]; ok {
			src.remove(be)
		}
	}
	delete(r.byDest, ref)
}

// unindexDest removes be from the destination index.
func (r *Router) unindexDest(be *bindingEntry) {
	ref := destRef{be.b.DestKind, be.b.Dest}
	if set := r.byDest[ref]; set != nil {
		delete(set, be)
		if len(set) == 0 {
			delete(r.byDest, ref)
		}
	}
}

func (x *exState) add(be *bindingEntry) {
	x.bindings[be.id] = be
	switch x.ex.Kind {
	case Direct:
		x.direct[be.b.Key] = append(x.direct[be.b.Key], be.target())
	case Topic:
		x.topic.insert(be.b.Key, be)
	default:
		x.list = append(x.list, be.target())
	}
}

func (x *exState) remove(be *bindingEntry) {
	delete(x.bindings, be.id)
	switch x.ex.Kind {
	case Direct:
		l := removeTarget(x.direct[be.b.Key], be)
		if l == nil {
			delete(x.direct, be.b.Key)
		} else {
			x.direct[be.b.Key] = l
		}
	case Topic:
		x.topic.remove(be.b.Key, be)
	default:
		x.list = removeTarget(x.list, be)
	}
}

// routeScratch is the reusable working memory of one Route call.
type routeScratch struct {
	words   []string
	split   bool
	memo    []hashMemo
	gen     uint32
	matched []target
	work    []*exState
	seen    []*exState
	seenSet map[*exState]struct{}
	queues  []queueRef
}

// seenLinear is how many exchanges one Route tracks in a slice before it
// switches to a set.
const seenLinear = 16

// visit marks x seen and reports whether it was new.
func (s *routeScratch) visit(x *exState) bool {
	if len(s.seenSet) > 0 {
		if _, ok := s.seenSet[x]; ok {
			return false
		}
		s.seenSet[x] = struct{}{}
		return true
	}
	if slices.Contains(s.seen, x) {
		return false
	}
	s.seen = append(s.seen, x)
	if len(s.seen) > seenLinear {
		if s.seenSet == nil {
			s.seenSet = make(map[*exState]struct{})
		}
		for _, y := range s.seen {
			s.seenSet[y] = struct{}{}
		}
	}
	return true
}

func (s *routeScratch) reset() {
	clear(s.words)
	s.words = s.words[:0]
	s.split = false
	clear(s.matched)
	s.matched = s.matched[:0]
	clear(s.work)
	s.work = s.work[:0]
	clear(s.seen)
	s.seen = s.seen[:0]
	clear(s.seenSet)
	clear(s.queues)
	s.queues = s.queues[:0]
}

// Route returns the sorted, de-duplicated names of the queues a message
// with routing key key and headers reaches from exchange name. It follows
// exchange-to-exchange bindings, visiting each exchange at most once (so
// cycles terminate and a queue reached by several paths appears once), and
// the alternate exchange of every exchange on the way whose own bindings
// matched nothing (as RabbitMQ). Missing alternate exchanges are skipped.
// queueExists is consulted only for the default exchange "", which routes
// to the queue named key if it exists; it may be nil (no queue exists).
//
// The result is nil when the message routes nowhere. Route returns an
// error wrapping ErrNotFound if exchange name does not exist and
// ErrInvalidArgument for a bad routing key.
func (r *Router) Route(name, key string, headers map[string]string, queueExists func(string) bool) ([]string, error) {
	if err := ValidateRoutingKey(key); err != nil {
		return nil, fmt.Errorf("route: %w", err)
	}
	if name == "" {
		if key != "" && queueExists != nil && queueExists(key) {
			return []string{key}, nil
		}
		return nil, nil
	}
	x, ok := r.exchanges[name]
	if !ok {
		return nil, fmt.Errorf("route to exchange %q: %w", name, ErrNotFound)
	}
	s := r.scratch.Get().(*routeScratch)
	s.visit(x)
	s.work = append(s.work, x)
	for len(s.work) > 0 {
		x = s.work[len(s.work)-1]
		s.work = s.work[:len(s.work)-1]
		s.matched = s.matched[:0]
		x.match(key, headers, s)
		if len(s.matched) == 0 {
			if ae := x.ex.AlternateExchange; ae != "" {
				if y, ok := r.exchanges[ae]; ok && s.visit(y) {
					s.work = append(s.work, y)
				}
			}
			continue
		}
		for _, t := range s.matched {
			if t.ex == nil {
				s.queues = append(s.queues, t.queue)
			} else if s.visit(t.ex) {
				s.work = append(s.work, t.ex)
			}
		}
	}
	var out []string
	if len(s.queues) > 0 {
		sortQueueRefs(s.queues)
		out = make([]string, 0, len(s.queues))
		for i, q := range s.queues {
			if p := s.queues[max(i-1, 0)]; i == 0 || q.prefix != p.prefix || q.name != p.name {
				out = append(out, q.name)
			}
		}
	}
	s.reset()
	r.scratch.Put(s)
	return out, nil
}

// queueRef is a destination queue name with its first eight bytes as a
// big-endian integer, so that sorting the few queues of a route mostly
// compares integers.
type queueRef struct {
	prefix uint64
	name   string
}

func newQueueRef(name string) queueRef {
	var p [8]byte
	copy(p[:], name)
	return queueRef{prefix: binary.BigEndian.Uint64(p[:]), name: name}
}

// lessQueueRef orders by name: the prefix decides unless it ties.
func lessQueueRef(a, b *queueRef) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	return a.name < b.name
}

// sortQueueRefs sorts by name. A route reaches few queues, for which an
// insertion sort with an inlined comparison beats the generic sort.
func sortQueueRefs(l []queueRef) {
	if len(l) > 24 {
		slices.SortFunc(l, compareQueueRefs)
		return
	}
	for i := 1; i < len(l); i++ {
		v := l[i]
		j := i
		for ; j > 0 && lessQueueRef(&v, &l[j-1]); j-- {
			l[j] = l[j-1]
		}
		l[j] = v
	}
}

// compareQueueRefs orders by name: the prefix decides unless it ties.
func compareQueueRefs(a, b queueRef) int {
	if a.prefix != b.prefix {
		if a.prefix < b.prefix {
			return -1
		}
		return 1
	}
	return strings.Compare(a.name, b.name)
}

// match appends to s.matched the bindings of x that the message matches.
func (x *exState) match(key string, headers map[string]string, s *routeScratch) {
	switch x.ex.Kind {
	case Direct:
		s.matched = append(s.matched, x.direct[key]...)
	case Fanout:
		s.matched = append(s.matched, x.list...)
	case Topic:
		if !s.split {
			s.words = splitWords(key, s.words)
			s.split = true
		}
		x.topic.match(s)
	case Headers:
		for _, t := range x.list {
			if t.be.hdr.match(headers) {
				s.matched = append(s.matched, t)
			}
		}
	}
}

// Exchanges returns every declared exchange sorted by name, without the
// default exchange.
func (r *Router) Exchanges() []Exchange {
	out := make([]Exchange, 0, len(r.exchanges))
	for _, x := range r.exchanges {
		out = append(out, x.ex)
	}
	slices.SortFunc(out, func(a, b Exchange) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Bindings returns every binding, ordered by Source, DestKind, Dest, Key and
// then Args (as sorted key/value pairs). The result is the caller's.
func (r *Router) Bindings() []Binding {
	var out []Binding
	for _, x := range r.exchanges {
		out = x.appendBindings(out)
	}
	slices.SortFunc(out, CompareBindings)
	return out
}

// BindingsFor returns the bindings whose source is exchange, in the order of
// Bindings.
func (r *Router) BindingsFor(exchange string) []Binding {
	x, ok := r.exchanges[exchange]
	if !ok {
		return nil
	}
	out := x.appendBindings(nil)
	slices.SortFunc(out, CompareBindings)
	return out
}

// BindingsTo returns the bindings whose destination is the queue (ToQueue)
// or exchange (ToExchange) dest, in the order of Bindings.
func (r *Router) BindingsTo(kind DestKind, dest string) []Binding {
	set := r.byDest[destRef{kind, dest}]
	if len(set) == 0 {
		return nil
	}
	out := make([]Binding, 0, len(set))
	for be := range set {
		out = append(out, cloneBinding(be.b))
	}
	slices.SortFunc(out, CompareBindings)
	return out
}

func (x *exState) appendBindings(out []Binding) []Binding {
	for _, be := range x.bindings {
		out = append(out, cloneBinding(be.b))
	}
	return out
}

// CompareBindings orders bindings by Source, DestKind, Dest, Key and then
// Args compared as sorted key/value pairs. It returns -1, 0 or +1, and 0
// exactly when the bindings are the same binding.
func CompareBindings(a, b Binding) int {
	if c := strings.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	if c := cmp.Compare(a.DestKind, b.DestKind); c != 0 {
		return c
	}
	if c := strings.Compare(a.Dest, b.Dest); c != 0 {
		return c
	}
	if c := strings.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	ak, bk := slices.Sorted(maps.Keys(a.Args)), slices.Sorted(maps.Keys(b.Args))
	for i := 0; i < len(ak) && i < len(bk); i++ {
		if c := strings.Compare(ak[i], bk[i]); c != 0 {
			return c
		}
		if c := strings.Compare(a.Args[ak[i]], b.Args[bk[i]]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(ak), len(bk))
}

// bindingID encodes the identity of b within its source exchange:
// destination, key and arguments, each length-prefixed, arguments sorted.
func bindingID(b *Binding) string {
	buf := make([]byte, 0, 8+len(b.Dest)+len(b.Key))
	buf = append(buf, byte(b.DestKind))
	buf = appendLP(buf, b.Dest)
	buf = appendLP(buf, b.Key)
	if len(b.Args) > 0 {
		for _, k := range slices.Sorted(maps.Keys(b.Args)) {
			buf = appendLP(buf, k)
			buf = appendLP(buf, b.Args[k])
		}
	}
	return string(buf)
}

func appendLP(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// cloneBinding copies b so that the Args map is not shared.
func cloneBinding(b Binding) Binding {
	if len(b.Args) == 0 {
		b.Args = nil
	} else {
		b.Args = maps.Clone(b.Args)
	}
	return b
}
