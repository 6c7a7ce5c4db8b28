package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// exactQuantile is WORKLOADS.md's nearest rank over sorted samples.
func exactQuantile(sorted []int64, q float64) int64 {
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	k = min(max(k, 0), len(sorted)-1)
	return sorted[k]
}

func TestHistogramMatchesNearestRank(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sets := map[string]func() int64{
		"uniform small": func() int64 { return r.Int64N(300) },
		"latency-like":  func() int64 { return int64(300e3 * math.Exp(r.NormFloat64()*0.6)) },
		"heavy tail":    func() int64 { return int64(1e5 / (r.Float64() + 1e-6)) },
		"huge":          func() int64 { return r.Int64N(math.MaxInt64) },
	}
	for name, gen := range sets {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{1, 2, 7, 1000, 50000} {
				var h Histogram
				vals := make([]int64, n)
				for i := range vals {
					vals[i] = gen()
					h.Record(vals[i])
				}
				slices.Sort(vals)
				for _, q := range []float64{0, 0.001, 0.5, 0.9, 0.99, 0.999, 1} {
					want := exactQuantile(vals, q)
					got := h.Quantile(q)
					if d := math.Abs(float64(got - want)); d > float64(want)/256+1 {
						t.Errorf("n=%d q=%v: got %d, want %d (error %.3f%%)", n, q, got, want, 100*d/float64(want))
					}
				}
				if h.Count() != uint64(n) || h.Max() != vals[n-1] {
					t.Errorf("n=%d: count %d max %d, want %d %d", n, h.Count(), h.Max(), n, vals[n-1])
				}
				var sum float64
				for _, v := range vals {
					sum += float64(v)
				}
				if m := h.Mean(); math.Abs(m-sum/float64(n)) > 1e-9*math.Abs(m)+1e-9 {
					t.Errorf("n=%d: mean %v, want %v", n, m, sum/float64(n))
				}
			}
		})
	}
}

func TestHistogramBucketsTileTheRange(t *testing.T) {
	// Every bucket starts right after the previous one ends, and a value's
	// bucket contains it, up to the largest int64.
	prevHi := int64(-1)
	last := histIndex(math.MaxInt64)
	if last >= histBuckets {
		t.Fatalf("index of MaxInt64 is %d, beyond %d buckets", last, histBuckets)
	}
	for i := 0; i <= last; i++ {
		lo, hi := histBounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d is [%d, %d] after %d", i, lo, hi, prevHi)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d [%d, %d]: its bounds index to %d and %d", i, lo, hi, histIndex(lo), histIndex(hi))
		}
		if lo >= histSub && float64(hi-lo+1)/float64(lo) > 1.0/128+1e-12 {
			t.Fatalf("bucket %d [%d, %d] is wider than 1/128 of its values", i, lo, hi)
		}
		prevHi = hi
	}
	if prevHi != math.MaxInt64 {
		t.Fatalf("last bucket ends at %d", prevHi)
	}
}

func TestHistogramEdgeCases(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Mean() != 0 || h.Max() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	h.Record(-5) // a clock step backwards counts as 0
	h.Record(1_000_000)
	if got := h.Quantile(0.5); got != 0 {
		t.Errorf("p50 of {0, 1e6} = %d, want 0 (rank 1)", got)
	}
	if got := h.Quantile(0.51); got != 1_000_000 {
		t.Errorf("p51 of {0, 1e6} = %d, want 1e6 (clamped to the exact max)", got)
	}

	var a, b, all Histogram
	for i := range int64(1000) {
		v := i * i * 37
		all.Record(v)
		if i%2 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	a.Merge(&b)
	a.Merge(&Histogram{})
	if a != all {
		t.Error("merging two halves differs from recording everything in one")
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	v := int64(123456)
	for b.Loop() {
		h.Record(v)
		v = v*7 + 13&0xfffffff
	}
}
