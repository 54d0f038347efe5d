// Package hist is a log-linear latency histogram: 64 buckets per power of
// two, so any quantile is within 1/64 (1.6%) of the true value. Recording is
// an index computation and an increment, cheap enough for the load
// generator's hot path; each goroutine keeps its own and they are merged at
// the end.
package hist

import (
	"math/bits"
	"time"
)

const (
	subBits = 6
	sub     = 1 << subBits
	// buckets covers durations up to 2^45 ns (about 9.8 hours).
	buckets = (45 - subBits + 1) * sub
)

// H counts durations. The zero value is empty and ready to use.
type H struct {
	counts [buckets]uint64
	n      uint64
}

func index(ns uint64) int {
	if ns < sub {
		return int(ns)
	}
	shift := bits.Len64(ns) - subBits - 1 // ns>>shift is in [sub, 2*sub)
	i := (shift+1)*sub + int(ns>>shift) - sub
	if i >= buckets {
		return buckets - 1
	}
	return i
}

// lowest returns the smallest duration that falls into bucket i.
func lowest(i int) uint64 {
	if i < sub {
		return uint64(i)
	}
	shift := i/sub - 1
	return uint64(i%sub+sub) << shift
}

// Record counts one duration.
func (h *H) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[index(uint64(d))]++
	h.n++
}

// Merge adds o's counts to h.
func (h *H) Merge(o *H) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// Count returns how many durations were recorded.
func (h *H) Count() uint64 { return h.n }

// Quantile returns the duration below which the fraction q of the recorded
// durations lie (the middle of its bucket), or 0 when nothing was recorded.
func (h *H) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q*float64(h.n-1)) + 1
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo := lowest(i)
			hi := lo
			if i+1 < buckets {
				hi = lowest(i + 1)
			}
			return time.Duration((lo + hi) / 2)
		}
	}
	return time.Duration(lowest(buckets - 1))
}
