package exchange

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pgregory.net/rapid"
)

// refMatch is the reference topic matcher: recursive, word by word, on the
// words of strings.Split (the empty key being zero words).
func refMatch(pattern, key string) bool {
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ".")
	}
	var rec func(p, k []string) bool
	rec = func(p, k []string) bool {
		if len(p) == 0 {
			return len(k) == 0
		}
		switch p[0] {
		case "#":
			// Zero words, or one word and "#" again.
			return rec(p[1:], k) || (len(k) > 0 && rec(p, k[1:]))
		case "*":
			return len(k) > 0 && rec(p[1:], k[1:])
		default:
			return len(k) > 0 && p[0] == k[0] && rec(p[1:], k[1:])
		}
	}
	return rec(split(pattern), split(key))
}

// refCheap reports whether refMatch runs in reasonable time: its cost grows
// as words^hashes.
func refCheap(pattern string) bool {
	n := 0
	for _, w := range strings.Split(pattern, ".") {
		if w == "#" {
			n++
		}
	}
	return n <= 3
}

func FuzzTopicMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"#", ""}, {"#.#", "a.b"}, {"a.#.b", "a.b"}, {"*", ""}, {"*", "."},
		{".a", "a"}, {"a.", "a."}, {"a.*.#.c", "a.b.c"}, {"#.*.#", "x"},
		{"", ""}, {"a..b", "a..b"}, {"*.*", "."},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, key string) {
		r := NewRouter()
		if err := r.Declare(Exchange{Name: "t", Kind: Topic}); err != nil {
			t.Fatal(err)
		}
		bindErr := r.Bind(qb("t", "q", pattern))
		validPattern := len(pattern) <= MaxNameLen && utf8.ValidString(pattern)
		if (bindErr == nil) != validPattern {
			t.Fatalf("Bind(%q) = %v", pattern, bindErr)
		}
		got, routeErr := r.Route("t", key, nil, nil)
		validKey := len(key) <= MaxNameLen && utf8.ValidString(key)
		if (routeErr == nil) != validKey {
			t.Fatalf("Route(%q) = %v", key, routeErr)
		}
		if !validPattern || !validKey {
			return
		}
		want := TopicMatch(pattern, key)
		if refCheap(pattern) {
			if ref := refMatch(pattern, key); ref != want {
				t.Fatalf("TopicMatch(%q, %q) = %v, reference %v", pattern, key, want, ref)
			}
		}
		if matched := len(got) == 1 && got[0] == "q"; matched != want || len(got) > 1 {
			t.Fatalf("trie %q routing %q: %v, want match=%v", pattern, key, got, want)
		}
		if err := r.Unbind(qb("t", "q", pattern)); err != nil {
			t.Fatal(err)
		}
		if !r.exchanges["t"].topic.root.empty() {
			t.Fatalf("trie not empty after unbinding %q", pattern)
		}
	})
}

func FuzzBindRoute(f *testing.F) {
	f.Add("topic", "x", "q", uint8(0), "a.*", "x-match", "any", "a.b", "h", "v")
	f.Add("headers", "x", "q", uint8(0), "", "x-match", "all-with-x", "", "x-a", "")
	f.Add("direct", "", "q", uint8(1), "k", "", "", "k", "", "")
	f.Add("fanout", "x", "x", uint8(1), "\xff", "a", "b", "\xff", "a", "b")
	f.Fuzz(func(t *testing.T, kind, src, dst string, dk uint8, bkey, argK, argV, rkey, hK, hV string) {
		r := NewRouter()
		_ = r.Declare(Exchange{Name: src, Kind: Kind(kind), AlternateExchange: dst})
		_ = r.Declare(Exchange{Name: dst, Kind: Fanout, AlternateExchange: src})
		b := Binding{Source: src, Dest: dst, DestKind: DestKind(dk), Key: bkey, Args: map[string]string{argK: argV}}
		if err := r.Bind(b); err == nil {
			if !r.HasBinding(b) {
				t.Fatalf("bound %+v but HasBinding is false", b)
			}
		} else if !errors.Is(err, ErrInvalidArgument) && !errors.Is(err, ErrInvalidName) && !errors.Is(err, ErrNotFound) {
			t.Fatalf("Bind error without a sentinel: %v", err)
		}
		_ = r.Bind(xb(dst, src, rkey))
		for _, name := range []string{src, dst, ""} {
			got, err := r.Route(name, rkey, map[string]string{hK: hV}, func(q string) bool { return q == dst })
			if err != nil {
				if !errors.Is(err, ErrInvalidArgument) && !errors.Is(err, ErrNotFound) {
					t.Fatalf("Route error without a sentinel: %v", err)
				}
				continue
			}
			if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Fatalf("Route result not sorted and unique: %q", got)
			}
		}
		_ = r.Unbind(b)
		r.RemoveQueue(dst)
		_ = r.Delete(dst)
		_ = r.Delete(src)
		if len(r.Bindings()) != 0 || len(r.byDest) != 0 {
			t.Fatalf("state left after deleting everything: %v", r.Bindings())
		}
	})
}

// TestTopicTrieProperty binds and unbinds random patterns and checks that
// Route always equals the reference matcher applied to every live binding.
func TestTopicTrieProperty(t *testing.T) {
	word := rapid.SampledFrom([]string{"a", "b", "", "*", "#"})
	keyWord := rapid.SampledFrom([]string{"a", "b", "", "c", "*", "#"})
	join := func(ws []string) string { return strings.Join(ws, ".") }
	pattern := rapid.Custom(func(t *rapid.T) string {
		return join(rapid.SliceOfN(word, 0, 5).Draw(t, "words"))
	})
	routingKey := rapid.Custom(func(t *rapid.T) string {
		return join(rapid.SliceOfN(keyWord, 0, 6).Draw(t, "words"))
	})
	queue := rapid.SampledFrom([]string{"q0", "q1", "q2", "q3"})

	rapid.Check(t, func(t *rapid.T) {
		r := NewRouter()
		if err := r.Declare(Exchange{Name: "t", Kind: Topic}); err != nil {
			t.Fatal(err)
		}
		type bk struct{ queue, pattern string }
		live := map[bk]bool{}
		check := func() {
			key := routingKey.Draw(t, "key")
			got, err := r.Route("t", key, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			set := map[string]bool{}
			for b := range live {
				if refMatch(b.pattern, key) {
					set[b.queue] = true
				}
			}
			want := slices.Sorted(maps.Keys(set))
			if len(want) == 0 {
				want = nil
			}
			if !slices.Equal(got, want) {
				t.Fatalf("Route(%q) = %v, want %v (bindings %v)", key, got, want, live)
			}
		}
		ops := rapid.IntRange(1, 40).Draw(t, "ops")
		for i := 0; i < ops; i++ {
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				b := bk{queue.Draw(t, "queue"), pattern.Draw(t, "pattern")}
				if err := r.Bind(qb("t", b.queue, b.pattern)); err != nil {
					t.Fatal(err)
				}
				live[b] = true
			case 1:
				var b bk
				if len(live) > 0 && rapid.Bool().Draw(t, "existing") {
					keys := slices.SortedFunc(maps.Keys(live), func(x, y bk) int {
						return strings.Compare(x.queue+"\x00"+x.pattern, y.queue+"\x00"+y.pattern)
					})
					b = rapid.SampledFrom(keys).Draw(t, "victim")
				} else {
					b = bk{queue.Draw(t, "queue"), pattern.Draw(t, "pattern")}
				}
				if err := r.Unbind(qb("t", b.queue, b.pattern)); err != nil {
					t.Fatal(err)
				}
				delete(live, b)
			case 2:
				q := queue.Draw(t, "queue")
				r.RemoveQueue(q)
				for b := range live {
					if b.queue == q {
						delete(live, b)
					}
				}
			}
			check()
		}
		if len(live) == 0 && !r.exchanges["t"].topic.root.empty() {
			t.Fatal("trie not empty with no live binding")
		}
	})
}
