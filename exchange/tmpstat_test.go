package exchange

import "testing"

func BenchmarkTmpStat(b *testing.B) {
	r, keys := topicBench(b, 10_000)
	x := r.exchanges["events"]
	s := new(routeScratch)
	total := 0
	for _, k := range keys[:1000] {
		s.words = splitWords(k, s.words[:0])
		s.matched = s.matched[:0]
		x.topic.match(s)
		total += len(s.matched)
	}
	b.Logf("matched/op %v", float64(total)/1000)
	var count func(n *tnode) (int, int, int)
	count = func(n *tnode) (nodes, maps, ends int) {
		nodes = 1
		if n.lits != nil {
			maps = 1
		}
		ends = len(n.ends)
		kids := append([]*tnode{}, n.kids...)
		for _, c := range n.lits {
			kids = append(kids, c)
		}
		if n.star != nil {
			kids = append(kids, n.star)
		}
		if n.hash != nil {
			kids = append(kids, n.hash)
		}
		for _, c := range kids {
			a, bb, cc := count(c)
			nodes += a
			maps += bb
			ends += cc
		}
		return
	}
	n, m, e := count(&x.topic.root)
	b.Logf("nodes %d maps %d ends %d", n, m, e)
}

func BenchmarkTmpMatchOnly(b *testing.B) {
	r, keys := topicBench(b, 10_000)
	x := r.exchanges["events"]
	s := new(routeScratch)
	i := 0
	for b.Loop() {
		s.words = splitWords(keys[i%len(keys)], s.words[:0])
		s.matched = s.matched[:0]
		x.topic.match(s)
		i++
	}
}
