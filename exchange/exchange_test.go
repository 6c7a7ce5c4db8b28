package exchange

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func mustDeclare(t testing.TB, r *Router, e Exchange) {
	t.Helper()
	if err := r.Declare(e); err != nil {
		t.Fatalf("Declare(%+v): %v", e, err)
	}
}

func mustBind(t testing.TB, r *Router, b Binding) {
	t.Helper()
	if err := r.Bind(b); err != nil {
		t.Fatalf("Bind(%+v): %v", b, err)
	}
}

func qb(src, queue, key string) Binding {
	return Binding{Source: src, Dest: queue, DestKind: ToQueue, Key: key}
}

func xb(src, dst, key string) Binding {
	return Binding{Source: src, Dest: dst, DestKind: ToExchange, Key: key}
}

func mustRoute(t testing.TB, r *Router, name, key string, h map[string]string) []string {
	t.Helper()
	got, err := r.Route(name, key, h, nil)
	if err != nil {
		t.Fatalf("Route(%q, %q): %v", name, key, err)
	}
	return got
}

func TestTopicRouting(t *testing.T) {
	long := strings.Repeat("a.", 127) + "a" // 255 bytes, 128 words
	stars128 := strings.Repeat("*.", 127) + "*"
	cases := []struct {
		pattern, key string
		want         bool
	}{
		// "#" alone matches everything, including zero words.
		{"#", "", true},
		{"#", "a", true},
		{"#", "a.b.c", true},
		{"#", ".", true},
		{"#.#", "", true},
		{"#.#", "a", true},
		{"#.#", "a.b.c", true},
		{"#.#.#", "a.b", true},
		// "a.#.b" against "a.b": "#" may match zero words.
		{"a.#.b", "a.b", true},
		{"a.#.b", "a.x.b", true},
		{"a.#.b", "a.x.y.b", true},
		{"a.#.b", "a.b.c", false},
		{"a.#.b", "b.a.b", false},
		{"a.#", "a", true},
		{"a.#", "a.", true},
		{"a.#", "ab", false},
		{"#.a", "a", true},
		{"#.a", "x.y.a", true},
		{"#.a", "a.x", false},
		{"#.*", "", false},
		{"#.*", "a", true},
		{"a.*.#", "a", false},
		{"a.*.#", "a.b", true},
		// "*" is exactly one word; an empty word is a word, the empty key has none.
		{"*", "", false},
		{"*", "a", true},
		{"*", "a.b", false},
		{"*", ".", false},
		{"*.*", ".", true},
		{"a.*", "a.", true},
		{"a.*", "a", false},
		{"a.*.b", "a..b", true},
		{"a..b", "a..b", true},
		{"a..b", "a.b", false},
		{"*.a", ".a", true},
		// Leading and trailing dots are empty words.
		{".a", ".a", true},
		{".a", "a", false},
		{"a.", "a.", true},
		{"a.", "a", false},
		{".", ".", true},
		{".", "", false},
		// The empty binding key matches only the empty routing key.
		{"", "", true},
		{"", "a", false},
		{"", ".", false},
		// Routing key words "*" and "#" are plain words.
		{"*", "*", true},
		{"a", "*", false},
		{"#", "#", true},
		{"a", "#", false},
		// Long keys.
		{"#.a", long, true},
		{"a.#", long, true},
		{"*.#", long, true},
		{stars128, long, true},
		{stars128[2:], long, false},
		{stars128, long[2:], false},
		{"#.*.#.*.#.*.#", long, true},
		{"#.b.#", long, false},
		{long, long, true},
		// Literals.
		{"stock.usd.nyse", "stock.usd.nyse", true},
		{"stock.usd.nyse", "stock.usd", false},
		{"stock.*.nyse", "stock.eur.nyse", true},
	}
	for _, c := range cases {
		if got := TopicMatch(c.pattern, c.key); got != c.want {
			t.Errorf("TopicMatch(%q, %q) = %v, want %v", c.pattern, c.key, got, c.want)
		}
		if got := refMatch(c.pattern, c.key); got != c.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v", c.pattern, c.key, got, c.want)
		}
		r := NewRouter()
		mustDeclare(t, r, Exchange{Name: "t", Kind: Topic})
		mustBind(t, r, qb("t", "q", c.pattern))
		got := mustRoute(t, r, "t", c.key, nil)
		if want := c.want; (len(got) == 1 && got[0] == "q") != want || len(got) > 1 {
			t.Errorf("topic %q routing %q: got %v, want match=%v", c.pattern, c.key, got, want)
		}
	}
}

func TestTopicSeveralBindings(t *testing.T) {
	r := NewRouter()
	mustDeclare(t, r, Exchange{Name: "t", Kind: Topic})
	for _, b := range []Binding{
		qb("t", "all", "#"),
		qb("t", "orders", "*.orders.#"),
		qb("t", "eu", "eu.#"),
		qb("t", "eu", "eu.orders.*"), // same queue twice: listed once
		qb("t", "created", "#.created"),
		qb("t", "exact", "eu.orders.created"),
	} {
		mustBind(t, r, b)
	}
	cases := []struct {
		key  string
		want []string
	}{
		{"eu.orders.created", []string{"all", "created", "eu", "exact", "orders"}},
		{"us.orders.deleted", []string{"all", "orders"}},
		{"eu", []string{"all", "eu"}},
		{"", []string{"all"}},
	}
	for _, c := range cases {
		if got := mustRoute(t, r, "t", c.key, nil); !slices.Equal(got, c.want) {
			t.Errorf("route %q = %v, want %v", c.key, got, c.want)
		}
	}
	// Unbinding one of two bindings of "eu" keeps the other.
	if err := r.Unbind(qb("t", "eu", "eu.#")); err != nil {
		t.Fatal(err)
	}
	if got := mustRoute(t, r, "t", "eu", nil); !slices.Equal(got, []string{"all"}) {
		t.Errorf("after unbind: %v", got)
	}
	if got := mustRoute(t, r, "t", "eu.orders.x", nil); !slices.Equal(got, []string{"all", "eu", "orders"}) {
		t.Errorf("after unbind: %v", got)
	}
}

func TestDirectRouting(t *testing.T) {
	r := NewRouter()
	mustDeclare(t, r, Exchange{Name: "d", Kind: Direct})
	mustBind(t, r, qb("d", "q2", "k"))
	mustBind(t, r, qb("d", "q1", "k"))
	mustBind(t, r, qb("d", "q3", "k"))
	mustBind(t, r, qb("d", "q3", "other"))
	mustBind(t, r, qb("d", "empty", ""))
	cases := []struct {
		key  string
		want []string
	}{
		{"k", []string{"q1", "q2", "q3"}},
		{"other", []string{"q3"}},
		{"", []string{"empty"}},
		{"K", nil},
		{"k.x", nil},
	}
	for _, c := range cases {
		if got := mustRoute(t, r, "d", c.key, nil); !slices.Equal(got, c.want) {
			t.Errorf("direct route %q = %v, want %v", c.key, got, c.want)
		}
	}
	if err := r.Unbind(qb("d", "q2", "k")); err != nil {
		t.Fatal(err)
	}
	if got := mustRoute(t, r, "d", "k", nil); !slices.Equal(got, []string{"q1", "q3"}) {
		t.Errorf("after unbind: %v", got)
	}
}

func TestFanoutRouting(t *testing.T) {
	r := NewRouter()
	mustDeclare(t, r, Exchange{Name: "f", Kind: Fanout})
	if got := mustRoute(t, r, "f", "x", nil); got != nil {
		t.Fatalf("no bindings: %v", got)
	}
	mustBind(t, r, qb("f", "b", "ignored"))
	mustBind(t, r, qb("f", "a", ""))
	for _, key := range []string{"", "x", "ignored", "a.b.#"} {
		if got := mustRoute(t, r, "f", key, nil); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("fanout %q = %v", key, got)
		}
	}
}

func TestHeadersRouting(t *testing.T) {
	r := NewRouter()
	mustDeclare(t, r, Exchange{Name: "h", Kind: Headers})
	bind := func(queue string, args map[string]string) {
		t.Helper()
		mustBind(t, r, Binding{Source: "h", Dest: queue, Args: args})
	}
	bind("all", map[string]string{"format": "pdf", "type": "report"})
	bind("default-all", map[string]string{"format": "pdf", "type": "log"})
	bind("any", map[string]string{XMatch: MatchAny, "format": "zip", "type": "report"})
	bind("present", map[string]string{XMatch: MatchAll, "tenant": ""})
	bind("all-ignores-x", map[string]string{XMatch: MatchAll, "x-trace": "1", "format": "pdf"})
	bind("all-with-x", map[string]string{XMatch: MatchAllWithX, "x-trace": "1", "format": "pdf"})
	bind("any-with-x", map[string]string{XMatch: MatchAnyWithX, "x-trace": "1"})
	bind("any-only-x", map[string]string{XMatch: MatchAny, "x-trace": "1"}) // compares nothing: never
	bind("empty-all", nil)                                                  // compares nothing: always
	bind("empty-any", map[string]string{XMatch: MatchAny})                  // never

	cases := []struct {
		name string
		h    map[string]string
		want []string
	}{
		{"nil headers", nil, []string{"empty-all"}},
		{"all match", map[string]string{"format": "pdf", "type": "report"},
			[]string{"all", "all-ignores-x", "any", "empty-all"}},
		{"all needs every header", map[string]string{"format": "pdf"},
			[]string{"all-ignores-x", "empty-all"}},
		{"any one", map[string]string{"type": "report"}, []string{"any", "empty-all"}},
		{"value mismatch", map[string]string{"format": "doc", "type": "other"}, []string{"empty-all"}},
		{"presence", map[string]string{"tenant": "acme"}, []string{"empty-all", "present"}},
		{"presence empty value", map[string]string{"tenant": ""}, []string{"empty-all", "present"}},
		{"with-x", map[string]string{"x-trace": "1", "format": "pdf"},
			[]string{"all-ignores-x", "all-with-x", "any-with-x", "empty-all"}},
		{"with-x mismatch", map[string]string{"x-trace": "2", "format": "pdf"},
			[]string{"all-ignores-x", "empty-all"}},
	}
	for _, c := range cases {
		// The routing key plays no part.
		for _, key := range []string{"", "anything"} {
			if got := mustRoute(t, r, "h", key, c.h); !slices.Equal(got, c.want) {
				t.Errorf("%s (key %q): got %v, want %v", c.name, key, got, c.want)
			}
		}
	}

	err := r.Bind(Binding{Source: "h", Dest: "q", Args: map[string]string{XMatch: "some"}})
	if !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad x-match: %v, want ErrInvalidArgument", err)
	}
	// x-match is not checked on other kinds: it is only part of the identity.
	mustDeclare(t, r, Exchange{Name: "d", Kind: Direct})
	mustBind(t, r, Binding{Source: "d", Dest: "q", Args: map[string]string{XMatch: "some"}})
}

func TestExchangeToExchange(t *testing.T) {
	r := NewRouter()
	for _, n := range []string{"top", "left", "right", "bottom"} {
		mustDeclare(t, r, Exchange{Name: n, Kind: Fanout})
	}
	// Diamond: top -> left -> bottom, top -> right -> bottom.
	mustBind(t, r, xb("top", "left", ""))
	mustBind(t, r, xb("top", "right", ""))
	mustBind(t, r, xb("left", "bottom", ""))
	mustBind(t, r, xb("right", "bottom", ""))
	mustBind(t, r, qb("bottom", "q", ""))
	mustBind(t, r, qb("left", "q", ""))
	mustBind(t, r, qb("right", "r", ""))
	if got := mustRoute(t, r, "top", "k", nil); !slices.Equal(got, []string{"q", "r"}) {
		t.Errorf("diamond: %v", got)
	}
	// Cycle: bottom -> top closes a loop; routing terminates.
	mustBind(t, r, xb("bottom", "top", ""))
	mustBind(t, r, xb("bottom", "bottom", "")) // self loop too
	if got := mustRoute(t, r, "left", "k", nil); !slices.Equal(got, []string{"q", "r"}) {
		t.Errorf("cycle from left: %v", got)
	}
	// Deleting an exchange removes the bindings into and out of it.
	if err := r.Delete("bottom"); err != nil {
		t.Fatal(err)
	}
	if r.HasBinding(xb("left", "bottom", "")) || r.HasBinding(xb("right", "bottom", "")) {
		t.Error("bindings into a deleted exchange remain")
	}
	if got := r.BindingsTo(ToExchange, "top"); got != nil {
		t.Errorf("bindings out of a deleted exchange remain: %v", got)
	}
	if got := mustRoute(t, r, "top", "k", nil); !slices.Equal(got, []string{"q", "r"}) {
		t.Errorf("after delete: %v", got)
	}
	// Topic to direct with the same key.
	mustDeclare(t, r, Exchange{Name: "t", Kind: Topic})
	mustDeclare(t, r, Exchange{Name: "d", Kind: Direct})
	mustBind(t, r, xb("t", "d", "a.*"))
	mustBind(t, r, qb("d", "da", "a.b"))
	if got := mustRoute(t, r, "t", "a.b", nil); !slices.Equal(got, []string{"da"}) {
		t.Errorf("topic->direct: %v", got)
	}
	if got := mustRoute(t, r, "t", "a.c", nil); got != nil {
		t.Errorf("topic->direct miss: %v", got)
	}
}

func TestExchangeToExchangeDeep(t *testing.T) {
	// A long chain and a wide fan of exchanges exercise the visited set
	// beyond its linear part.
	r := NewRouter()
	const n = 100
	name := func(i int) string { return "x" + strings.Repeat("!", i) }
	for i := 0; i < n; i++ {
		mustDeclare(t, r, Exchange{Name: name(i), Kind: Fanout})
	}
	for i := 0; i < n; i++ {
		mustBind(t, r, xb(name(i), name((i+1)%n), ""))
		mustBind(t, r, xb(name(i), name((i*7+3)%n), ""))
	}
	mustBind(t, r, qb(name(n-1), "end", ""))
	mustBind(t, r, qb(name(n/2), "mid", ""))
	if got := mustRoute(t, r, name(0), "", nil); !slices.Equal(got, []string{"end", "mid"}) {
		t.Errorf("chain: %v", got)
	}
}

func TestAlternateExchange(t *testing.T) {
	r := NewRouter()
	mustDeclare(t, r, Exchange{Name: "main", Kind: Direct, AlternateExchange: "ae1"}) // ae1 does not exist yet
	mustBind(t, r, qb("main", "q", "k"))
	if got := mustRoute(t, r, "main", "nope", nil); got != nil {
		t.Errorf("missing AE: %v", got)
	}
	mustDeclare(t, r, Exchange{Name: "ae1", Kind: Direct, AlternateExchange: "ae2"})
	mustDeclare(t, r, Exchange{Name: "ae2", Kind: Fanout, AlternateExchange: "main"}) // AE cycle
	mustBind(t, r, qb("ae1", "special", "special"))
	cases := []struct {
		key  string
		want []string
	}{
		{"k", []string{"q"}},             // matched: AE not used
		{"special", []string{"special"}}, // unmatched in main, matched in ae1
		{"other", nil},                   // chain main -> ae1 -> ae2 (empty) -> main: ends
	}
	for _, c := range cases {
		if got := mustRoute(t, r, "main", c.key, nil); !slices.Equal(got, c.want) {
			t.Errorf("AE route %q = %v, want %v", c.key, got, c.want)
		}
	}
	mustBind(t, r, qb("ae2", "unrouted", ""))
	if got := mustRoute(t, r, "main", "other", nil); !slices.Equal(got, []string{"unrouted"}) {
		t.Errorf("AE chain: %v", got)
	}
	// Only an exchange that matched nothing uses its AE: here main matches
	// a binding to an exchange that routes nowhere, so main's AE is unused
	// but that exchange's own AE is.
	mustDeclare(t, r, Exchange{Name: "sink", Kind: Direct, AlternateExchange: "sinkae"})
	mustDeclare(t, r, Exchange{Name: "sinkae", Kind: Fanout})
	mustBind(t, r, qb("sinkae", "sinkq", ""))
	mustBind(t, r, xb("main", "sink", "to-sink"))
	if got := mustRoute(t, r, "main", "to-sink", nil); !slices.Equal(got, []string{"sinkq"}) {
		t.Errorf("AE of inner exchange: %v", got)
	}
	// An exchange may be its own AE.
	mustDeclare(t, r, Exchange{Name: "self", Kind: Direct, AlternateExchange: "self"})
	if got := mustRoute(t, r, "self", "x", nil); got != nil {
		t.Errorf("self AE: %v", got)
	}
}

func TestDefaultExchange(t *testing.T) {
	r := NewRouter()
	exists := func(q string) bool { return q == "orders" || q == "a.b" }
	for _, c := range []struct {
		key  string
		want []string
	}{
		{"orders", []string{"orders"}},
		{"a.b", []string{"a.b"}},
		{"missing", nil},
		{"", nil},
	} {
		got, err := r.Route("", c.key, nil, exists)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("default route %q = %v, %v; want %v", c.key, got, err, c.want)
		}
	}
	if got, err := r.Route("", "orders", nil, nil); err != nil || got != nil {
		t.Errorf("nil queueExists: %v, %v", got, err)
	}
	if e, ok := r.Get(""); !ok || e.Kind != Direct || e.Name != "" {
		t.Errorf("Get default = %+v, %v", e, ok)
	}
	if err := r.Declare(Exchange{Name: "", Kind: Direct}); !errors.Is(err, ErrPrecondition) {
		t.Errorf("declare default: %v", err)
	}
	if err := r.Delete(""); !errors.Is(err, ErrPrecondition) {
		t.Errorf("delete default: %v", err)
	}
	mustDeclare(t, r, Exchange{Name: "x", Kind: Fanout})
	if err := r.Bind(qb("", "q", "q")); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bind from default: %v", err)
	}
	if err := r.Bind(xb("x", "", "")); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bind to default: %v", err)
	}
	if len(r.Exchanges()) != 1 {
		t.Errorf("Exchanges lists the default: %v", r.Exchanges())
	}
}

func TestNameValidation(t *testing.T) {
	n255 := strings.Repeat("n", 255)
	n256 := strings.Repeat("n", 256)
	bad := "a\xffb"
	if err := ValidateName(n255); err != nil {
		t.Errorf("255 bytes: %v", err)
	}
	if err := ValidateName(""); err != nil {
		t.Errorf("empty: %v", err)
	}
	if err := ValidateNonEmptyName(""); !errors.Is(err, ErrInvalidName) {
		t.Errorf("empty non-empty: %v", err)
	}
	for _, n := range []string{n256, bad} {
		if err := ValidateName(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("ValidateName(%q) = %v", n, err)
		}
		if err := ValidateRoutingKey(n); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("ValidateRoutingKey(%q) = %v", n, err)
		}
	}
	// A multi-byte rune that crosses byte 255 still counts bytes.
	if err := ValidateName(strings.Repeat("é", 128)); !errors.Is(err, ErrInvalidName) {
		t.Errorf("256 bytes of 2-byte runes: %v", err)
	}

	r := NewRouter()
	mustDeclare(t, r, Exchange{Name: n255, Kind: Topic})
	for _, n := range []string{n256, bad} {
		if err := r.Declare(Exchange{Name: n, Kind: Direct}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Declare(%q) = %v", n, err)
		}
		if err := r.Declare(Exchange{Name: "ok", Kind: Direct, AlternateExchange: n}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Declare AE %q = %v", n, err)
		}
		if err := r.Delete(n); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Delete(%q) = %v", n, err)
		}
		if err := r.Bind(qb(n255, n, "")); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Bind to queue %q = %v", n, err)
		}
		if err := r.Bind(qb(n, "q", "")); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Bind from %q = %v", n, err)
		}
		if err := r.Bind(qb(n255, "q", n)); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Bind key %q = %v", n, err)
		}
		if _, err := r.Route(n255, n, nil, nil); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Route key %q = %v", n, err)
		}
		if _, err := r.Route("", n, nil, func(string) bool { return true }); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Route default key %q = %v", n, err)
		}
		if err := r.Bind(Binding{Source: n255, Dest: "q", Args: map[string]string{n: "v"}}); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("Bind arg name %q = %v", n, err)
		}
	}
	if err := r.Bind(qb(n255, "", "")); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Bind to empty queue name: %v", err)
	}
	if err := r.Bind(Binding{Source: n255, Dest: "q", Args: map[string]string{"k": bad}}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Bind bad arg value: %v", err)
	}
	if err := r.Bind(Binding{Source: n255, Dest: "q", DestKind: 7}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Bind bad dest kind: %v", err)
	}
	if _, err := ParseKind("Direct"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("ParseKind(Direct): %v", err)
	}
	for _, k := range []Kind{Direct, Fanout, Topic, Headers} {
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	if err := r.Declare(Exchange{Name: "k", Kind: "x-delayed"}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestRedeclare(t *testing.T) {
	r := NewRouter()
	e := Exchange{Name: "x", Kind: Topic, AlternateExchange: "ae"}
	mustDeclare(t, r, e)
	mustBind(t, r, qb("x", "q", "a.#"))
	mustDeclare(t, r, e) // same: no error, bindings kept
	if !r.HasBinding(qb("x", "q", "a.#")) {
		t.Error("redeclare dropped a binding")
	}
	for _, d := range []Exchange{
		{Name: "x", Kind: Direct, AlternateExchange: "ae"},
		{Name: "x", Kind: Topic},
		{Name: "x", Kind: Topic, AlternateExchange: "other"},
	} {
		if err := r.Declare(d); !errors.Is(err, ErrPrecondition) {
			t.Errorf("Declare(%+v) = %v, want ErrPrecondition", d, err)
		}
	}
	if got, _ := r.Get("x"); got != e {
		t.Errorf("failed redeclare changed the exchange: %+v", got)
	}
	if got := mustRoute(t, r, "x", "a.b", nil); !slices.Equal(got, []string{"q"}) {
		t.Errorf("route after failed redeclare: %v", got)
	}
}

func TestBindUnbindDelete(t *testing.T) {
	r := NewRouter()
	if err := r.Bind(qb("nope", "q", "")); !errors.Is(err, ErrNotFound) {
		t.Errorf("bind from missing: %v", err)
	}
	mustDeclare(t, r, Exchange{Name: "x", Kind: Direct})
	if err := r.Bind(xb("x", "nope", "")); !errors.Is(err, ErrNotFound) {
		t.Errorf("bind to missing exchange: %v", err)
	}
	b := Binding{Source: "x", Dest: "q", Key: "k", Args: map[string]string{"a": "1"}}
	mustBind(t, r, b)
	mustBind(t, r, b) // twice: no-op
	if got := r.Bindings(); len(got) != 1 {
		t.Errorf("binding twice stored %d", len(got))
	}
	// Args are part of the identity.
	b2 := Binding{Source: "x", Dest: "q", Key: "k", Args: map[string]string{"a": "2"}}
	if r.HasBinding(b2) {
		t.Error("HasBinding ignores args")
	}
	mustBind(t, r, b2)
	if got := mustRoute(t, r, "x", "k", nil); !slices.Equal(got, []string{"q"}) {
		t.Errorf("two bindings, one queue: %v", got)
	}
	// The stored binding does not alias the caller's map.
	b.Args["a"] = "changed"
	if !r.HasBinding(Binding{Source: "x", Dest: "q", Key: "k", Args: map[string]string{"a": "1"}}) {
		t.Error("stored binding aliases the caller's Args")
	}
	got := r.Bindings()
	got[0].Args["a"] = "mutated"
	if r.HasBinding(got[0]) {
		t.Error("Bindings returned an aliased Args map")
	}
	if err := r.Unbind(qb("x", "q", "none")); err != nil {
		t.Errorf("unbind missing binding: %v", err)
	}
	if err := r.Unbind(qb("nope", "q", "")); !errors.Is(err, ErrNotFound) {
		t.Errorf("unbind from missing exchange: %v", err)
	}
	r.RemoveQueue("q")
	if got := r.Bindings(); len(got) != 0 {
		t.Errorf("RemoveQueue left %v", got)
	}
	if got := mustRoute(t, r, "x", "k", nil); got != nil {
		t.Errorf("route after RemoveQueue: %v", got)
	}
	if err := r.Delete("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete missing: %v", err)
	}
	mustBind(t, r, qb("x", "q", "k"))
	if err := r.Delete("x"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Route("x", "k", nil, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("route deleted: %v", err)
	}
	if got := r.BindingsTo(ToQueue, "q"); got != nil {
		t.Errorf("bindings of a deleted exchange remain: %v", got)
	}
	// Redeclared with another kind, it starts empty.
	mustDeclare(t, r, Exchange{Name: "x", Kind: Fanout})
	if got := mustRoute(t, r, "x", "k", nil); got != nil {
		t.Errorf("redeclared exchange kept bindings: %v", got)
	}
}

func TestTopicUnbindPrunes(t *testing.T) {
	r := NewRouter()
	mustDeclare(t, r, Exchange{Name: "t", Kind: Topic})
	keys := []string{"a.#", "a.#.b", "#", "#.#", "*.b", "a..b", "", "a.*.#.c"}
	for i := 0; i < 3; i++ {
		for _, k := range keys {
			mustBind(t, r, qb("t", "q", k))
		}
		for _, k := range keys {
			if err := r.Unbind(qb("t", "q", k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	tr := r.exchanges["t"].topic
	if !tr.root.empty() {
		t.Errorf("trie not pruned: %+v", tr.root)
	}
	if int(tr.nextID) != len(tr.freeIDs) {
		t.Errorf("hash ids leaked: next %d, free %d", tr.nextID, len(tr.freeIDs))
	}
	if tr.nextID > 4 {
		t.Errorf("hash ids not reused: %d allocated", tr.nextID)
	}
}

func TestListings(t *testing.T) {
	r := NewRouter()
	for _, n := range []string{"c", "a", "b"} {
		mustDeclare(t, r, Exchange{Name: n, Kind: Headers})
	}
	mustBind(t, r, Binding{Source: "b", Dest: "q", Key: "k", Args: map[string]string{"z": "1"}})
	mustBind(t, r, Binding{Source: "b", Dest: "q", Key: "k", Args: map[string]string{"a": "1"}})
	mustBind(t, r, Binding{Source: "b", Dest: "q", Key: "k"})
	mustBind(t, r, Binding{Source: "b", Dest: "c", DestKind: ToExchange})
	mustBind(t, r, Binding{Source: "b", Dest: "p", Key: "z"})
	mustBind(t, r, Binding{Source: "a", Dest: "q"})
	names := func(es []Exchange) (out []string) {
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	if got := names(r.Exchanges()); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Exchanges: %v", got)
	}
	want := []Binding{
		{Source: "a", Dest: "q"},
		{Source: "b", Dest: "p", Key: "z"},
		{Source: "b", Dest: "q", Key: "k"},
		{Source: "b", Dest: "q", Key: "k", Args: map[string]string{"a": "1"}},
		{Source: "b", Dest: "q", Key: "k", Args: map[string]string{"z": "1"}},
		{Source: "b", Dest: "c", DestKind: ToExchange},
	}
	got := r.Bindings()
	if len(got) != len(want) {
		t.Fatalf("Bindings: %v", got)
	}
	for i := range want {
		if CompareBindings(got[i], want[i]) != 0 {
			t.Errorf("Bindings[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got := r.BindingsFor("b"); len(got) != 5 || CompareBindings(got[0], want[1]) != 0 {
		t.Errorf("BindingsFor(b) = %v", got)
	}
	if got := r.BindingsFor("missing"); got != nil {
		t.Errorf("BindingsFor(missing) = %v", got)
	}
	if got := r.BindingsTo(ToQueue, "q"); len(got) != 4 {
		t.Errorf("BindingsTo(q) = %v", got)
	}
	if got := r.BindingsTo(ToExchange, "c"); len(got) != 1 || got[0].Source != "b" {
		t.Errorf("BindingsTo(c) = %v", got)
	}
}

func TestRouteConcurrentReaders(t *testing.T) {
	r := NewRouter()
	mustDeclare(t, r, Exchange{Name: "t", Kind: Topic})
	mustBind(t, r, qb("t", "q1", "a.#"))
	mustBind(t, r, qb("t", "q2", "*.b"))
	done := make(chan struct{})
	for i := 0; i < 4; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := 0; j < 500; j++ {
				got, err := r.Route("t", "a.b", nil, nil)
				if err != nil || !slices.Equal(got, []string{"q1", "q2"}) {
					t.Errorf("concurrent route: %v %v", got, err)
					return
				}
			}
		}()
	}
	for i := 0; i < 4; i++ {
		<-done
	}
}

func TestSortQueueRefs(t *testing.T) {
	names := []string{"q10", "q2", "", "a", "a\x00", "abcdefgh", "abcdefgh2", "abcdefgh1", "abcdefg", "\xff", "q2", "zz", "Z"}
	for n := 0; n <= 40; n++ {
		var refs []queueRef
		var want []string
		for i := 0; i < n; i++ {
			name := names[(i*7)%len(names)] + strings.Repeat("x", i%3)
			refs = append(refs, newQueueRef(name))
			want = append(want, name)
		}
		sortQueueRefs(refs)
		slices.Sort(want)
		for i := range refs {
			if refs[i].name != want[i] {
				t.Fatalf("n=%d: position %d is %q, want %q", n, i, refs[i].name, want[i])
			}
		}
	}
}
