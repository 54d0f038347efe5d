package hist

import (
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	var h H
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {0, time.Microsecond}} {
		got := h.Quantile(c.q)
		if diff := float64(got-c.want) / float64(c.want); diff > 0.02 || diff < -0.02 {
			t.Errorf("q%v = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestIndexMonotonic(t *testing.T) {
	prev := -1
	for ns := uint64(0); ns < 1<<20; ns += 7 {
		i := index(ns)
		if i < prev || lowest(i) > ns {
			t.Fatalf("ns %d: index %d (prev %d) lowest %d", ns, i, prev, lowest(i))
		}
		prev = i
	}
}
