package bench

import (
	"math"
	"math/bits"
)

// Histogram is a log-linear bucketed histogram of non-negative int64 values
// (latencies in ns), in the manner of HdrHistogram: values below 256 have a
// bucket each, and every power of two above is split into 128 equal
// buckets, so a bucket is at most 1/128 of its values wide and a reported
// percentile (the bucket's midpoint) is within 0.4% of the true sample.
// Recording is O(1) with no allocation; memory is fixed (about 60 KB),
// whatever the number of samples. The minimum, maximum, count and sum are
// exact. It is not safe for concurrent use: give each goroutine its own and
// Merge them.
type Histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      float64
	min, max int64
}

const (
	histSubBits = 8
	histSub     = 1 << histSubBits // values below this are exact
	histHalf    = histSub / 2
	// histBuckets covers every int64: the largest shift is 63-histSubBits.
	histBuckets = (63-histSubBits+1)*histHalf + histSub
)

// histIndex returns v's bucket.
func histIndex(v int64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - histSubBits
	return shift*histHalf + int(v>>shift)
}

// histBounds returns the lowest and highest value of bucket i.
func histBounds(i int) (lo, hi int64) {
	if i < histSub {
		return int64(i), int64(i)
	}
	shift := i/histHalf - 1
	mant := int64(i - shift*histHalf)
	return mant << shift, (mant+1)<<shift - 1
}

// Record adds one value; negative values count as 0.
func (h *Histogram) Record(v int64) {
	v = max(v, 0)
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.counts[histIndex(v)]++
	h.n++
	h.sum += float64(v)
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.n }

// Max returns the largest sample (0 when empty).
func (h *Histogram) Max() int64 { return h.max }

// Mean returns the arithmetic mean (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile returns the nearest-rank q-quantile: the sample of rank
// ceil(q·n) (1-based, clamped to 1..n), as its bucket's midpoint clamped to
// the exact minimum and maximum; q >= 1 gives the exact maximum. It returns
// 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := histBounds(i)
			mid := lo + (hi-lo)/2
			return min(max(mid, h.min), h.max)
		}
	}
	return h.max
}
