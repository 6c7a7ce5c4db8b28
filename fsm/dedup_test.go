package fsm

import (
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// liveByLookup is what dedup.live returns, computed the slow way: every
// pair of order whose time is still its ID's time in seen.
func liveByLookup(d *dedup) []dedupEntry {
	var out []dedupEntry
	for _, e := range d.order[d.head:] {
		if t, ok := d.seen[e.id]; ok && t == e.t {
			out = append(out, e)
		}
	}
	return out
}

// TestDedupLiveProperty records and prunes IDs at random, some of them again
// after their window passed (which leaves stale pairs), and checks after every
// step that live returns exactly the pairs still current, and that every
// earlier result of live is unchanged by what came after it: a snapshot reads
// it while Apply goes on.
func TestDedupLiveProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		d := newDedup()
		const window = 10
		now := int64(0)
		type taken struct {
			got, want []dedupEntry
		}
		var snaps []taken
		steps := rapid.IntRange(1, 400).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			now += rapid.Int64Range(0, 3).Draw(rt, "dt")
			switch rapid.IntRange(0, 8).Draw(rt, "op") {
			case 0, 1, 2:
				// A few IDs recur, as a client's retries and reused IDs do.
				id := fmt.Sprint(rapid.IntRange(0, 40).Draw(rt, "id"))
				if !d.isDuplicate(id, now, window) {
					d.add(id, now)
				}
			case 3:
				// Many fresh IDs at once, so that prune compacts.
				for j := rapid.IntRange(0, 1500).Draw(rt, "burst"); j > 0; j-- {
					d.add(fmt.Sprintf("b%d-%d", i, j), now)
				}
			case 4, 6, 7, 8:
				d.prune(now - window)
			case 5:
				got := d.live()
				if want := liveByLookup(&d); !slices.Equal(got, want) {
					rt.Fatalf("live has %d pairs, want %d (order %d from %d, %d IDs)", len(got), len(want), len(d.order), d.head, len(d.seen))
				}
				snaps = append(snaps, taken{got: got, want: slices.Clone(got)})
			}
			// What live relies on, checked without calling it (a call would
			// share the array, and prune would never compact in place):
			// as many pairs as IDs means that no pair is stale.
			if w := d.order[d.head:]; len(w) == len(d.seen) && !slices.Equal(w, liveByLookup(&d)) {
				rt.Fatalf("%d pairs for as many IDs, but some are stale", len(w))
			}
			for k, s := range snaps {
				if !slices.Equal(s.got, s.want) {
					rt.Fatalf("the pairs live returned at snapshot %d changed afterwards", k)
				}
			}
		}
	})
}
