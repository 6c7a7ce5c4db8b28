package exchange

// The topic trie. A binding key is split into words on "."; each word is an
// edge: a literal word, "*" or "#". A node holds the bindings whose key ends
// there. Matching walks the trie word by word; a "#" edge may absorb zero or
// more words, so from a "#" node the walk resumes at every later position.
// Several "#" (as in "#.*.#") could make that walk exponential in the number
// of words, so each ("#" node, position) pair is expanded at most once per
// match: a small memo indexed by the node's id records the lowest position
// already expanded. The work of one match is thus bounded by
// nodes × (words + 1), whatever the patterns.

const (
	wordStar = "*"
	wordHash = "#"
)

// tnode is one node of the topic trie.
type tnode struct {
	parent *tnode
	word   string            // edge label from the parent: a literal, "*" or "#"
	kids   []*tnode          // literal children while there are few of them
	lits   map[string]*tnode // literal children once there are many
	star   *tnode
	hash   *tnode
	hashID int32    // index into the match memo; only for "#" nodes
	ends   []target // the bindings whose key ends here
}

func (n *tnode) empty() bool {
	return len(n.ends) == 0 && len(n.kids) == 0 && len(n.lits) == 0 && n.star == nil && n.hash == nil
}

// maxKids is how many literal children a node keeps in a slice before it
// moves them to a map: a short scan of words beats hashing the word.
const maxKids = 8

// lit returns the literal child of n along word w, or nil.
func (n *tnode) lit(w string) *tnode {
	if n.lits != nil {
		return n.lits[w]
	}
	for _, c := range n.kids {
		if c.word == w {
			return c
		}
	}
	return nil
}

// addLit adds literal child c.
func (n *tnode) addLit(c *tnode) {
	if n.lits != nil {
		n.lits[c.word] = c
		return
	}
	if len(n.kids) < maxKids {
		n.kids = append(n.kids, c)
		return
	}
	n.lits = make(map[string]*tnode, 2*maxKids)
	for _, k := range n.kids {
		n.lits[k.word] = k
	}
	n.lits[c.word] = c
	n.kids = nil
}

// removeLit removes literal child c.
func (n *tnode) removeLit(c *tnode) {
	if n.lits != nil {
		delete(n.lits, c.word)
		if len(n.lits) == 0 {
			n.lits = nil
		}
		return
	}
	for i, k := range n.kids {
		if k == c {
			last := len(n.kids) - 1
			n.kids[i] = n.kids[last]
			n.kids[last] = nil
			n.kids = n.kids[:last]
			break
		}
	}
	if len(n.kids) == 0 {
		n.kids = nil
	}
}

// trie indexes the bindings of one topic exchange.
type trie struct {
	root    tnode
	nextID  int32
	freeIDs []int32
}

// nextWord returns the word of s starting at byte i, and the index just past
// its terminating dot (len(s)+1 after the last word).
func nextWord(s string, i int) (string, int) {
	for j := i; j < len(s); j++ {
		if s[j] == '.' {
			return s[i:j], j + 1
		}
	}
	return s[i:], len(s) + 1
}

// child returns the child of n along word, creating it when create is set.
func (t *trie) child(n *tnode, word string, create bool) *tnode {
	switch word {
	case wordStar:
		if n.star == nil && create {
			n.star = &tnode{parent: n, word: word}
		}
		return n.star
	case wordHash:
		if n.hash == nil && create {
			c := &tnode{parent: n, word: word}
			if k := len(t.freeIDs); k > 0 {
				c.hashID = t.freeIDs[k-1]
				t.freeIDs = t.freeIDs[:k-1]
			} else {
				c.hashID = t.nextID
				t.nextID++
			}
			n.hash = c
		}
		return n.hash
	}
	c := n.lit(word)
	if c == nil && create {
		c = &tnode{parent: n, word: word}
		n.addLit(c)
	}
	return c
}

// find returns the node of binding key key, creating the path if create.
// The empty key (zero words) is the root.
func (t *trie) find(key string, create bool) *tnode {
	n := &t.root
	if key == "" {
		return n
	}
	for i := 0; i <= len(key); {
		var w string
		w, i = nextWord(key, i)
		if n = t.child(n, w, create); n == nil {
			return nil
		}
	}
	return n
}

func (t *trie) insert(key string, be *bindingEntry) {
	n := t.find(key, true)
	n.ends = append(n.ends, be.target())
}

func (t *trie) remove(key string, be *bindingEntry) {
	n := t.find(key, false)
	if n == nil {
		return
	}
	n.ends = removeTarget(n.ends, be)
	// Prune the now-empty path back towards the root.
	for n != &t.root && n.empty() {
		p := n.parent
		switch {
		case p.star == n:
			p.star = nil
		case p.hash == n:
			p.hash = nil
			t.freeIDs = append(t.freeIDs, n.hashID)
		default:
			p.removeLit(n)
		}
		n.parent = nil
		n = p
	}
}

// hashMemo records, for one "#" node in the current match generation, the
// lowest position from which it has been expanded.
type hashMemo struct {
	gen uint32
	low int32
}

// match appends to s.matched every binding of t whose key matches the
// routing key already split into s.words.
func (t *trie) match(s *routeScratch) {
	if n := int(t.nextID); len(s.memo) < n {
		s.memo = append(s.memo, make([]hashMemo, n-len(s.memo))...)
	}
	s.gen++
	if s.gen == 0 { // wrapped: old entries could look current
		clear(s.memo)
		s.gen = 1
	}
	s.walk(&t.root, 0)
}

// walk matches node n against the words from position i on.
func (s *routeScratch) walk(n *tnode, i int) {
	if n.hash != nil {
		s.expandHash(n.hash, i)
	}
	if i == len(s.words) {
		s.matched = append(s.matched, n.ends...)
		return
	}
	if c := n.lit(s.words[i]); c != nil {
		s.walk(c, i+1)
	}
	if n.star != nil {
		s.walk(n.star, i+1)
	}
}

// expandHash lets "#" node h absorb zero or more words from position i on,
// skipping positions already expanded in this match.
func (s *routeScratch) expandHash(h *tnode, i int) {
	hi := len(s.words) + 1
	m := &s.memo[h.hashID]
	if m.gen == s.gen {
		if i >= int(m.low) {
			return
		}
		hi = int(m.low)
	}
	m.gen, m.low = s.gen, int32(i)
	for j := i; j < hi; j++ {
		s.walk(h, j)
	}
}

// splitWords splits routing key key into words, reusing buf. The empty key
// has zero words (as RabbitMQ); otherwise every dot separates two words, so
// "a..b" has three and "." has two empty words.
func splitWords(key string, buf []string) []string {
	buf = buf[:0]
	if key == "" {
		return buf
	}
	for i := 0; i <= len(key); {
		var w string
		w, i = nextWord(key, i)
		buf = append(buf, w)
	}
	return buf
}

// TopicMatch reports whether routing key key matches topic binding key
// pattern, with the rules of the topic exchange. It is a plain dynamic
// program over (pattern word, key word), independent of the trie, meant for
// tests and tools rather than for routing (it allocates); its cost is
// bounded by words(pattern) × words(key).
func TopicMatch(pattern, key string) bool {
	p, k := splitWords(pattern, nil), splitWords(key, nil)
	// prev[j]: the pattern words seen so far match the first j key words.
	prev := make([]bool, len(k)+1)
	cur := make([]bool, len(k)+1)
	prev[0] = true
	for _, pw := range p {
		for j := range cur {
			switch pw {
			case wordHash:
				cur[j] = prev[j] || (j > 0 && cur[j-1])
			case wordStar:
				cur[j] = j > 0 && prev[j-1]
			default:
				cur[j] = j > 0 && prev[j-1] && k[j-1] == pw
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(k)]
}
