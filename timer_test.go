package evio

import (
	"math/rand"
	"sort"
	"testing"
)

// testTimer records when it fired.
type testTimer struct {
	index int32
	fired []int64
}

func (t *testTimer) timerIndex() *int32              { return &t.index }
func (t *testTimer) onTimer(l *loop, now, arg int64) { t.fired = append(t.fired, arg) }

// TestTimerHeapOrder: timers come out due-first, whatever the order they
// were scheduled, moved or cancelled in.
func TestTimerHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var h timerHeap
	timers := make([]*testTimer, 1000)
	when := make(map[*testTimer]int64)
	for i := range timers {
		timers[i] = &testTimer{}
		w := rng.Int63n(1e6)
		h.schedule(timers[i], w, w)
		when[timers[i]] = w
	}
	for i := 0; i < 500; i++ { // move some, cancel some
		tt := timers[rng.Intn(len(timers))]
		if rng.Intn(2) == 0 {
			h.cancel(tt)
			delete(when, tt)
		} else {
			w := rng.Int63n(1e6)
			h.schedule(tt, w, w)
			when[tt] = w
		}
	}
	var want []int64
	for _, w := range when {
		want = append(want, w)
	}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	if h.len() != len(want) {
		t.Fatalf("heap holds %d timers, want %d", h.len(), len(want))
	}
	for i, w := range want {
		tt, arg, ok := h.popDue(1e6)
		if !ok || arg != w {
			t.Fatalf("pop %d: %v %d, want the timer due at %d", i, ok, arg, w)
		}
		if *tt.timerIndex() != 0 {
			t.Fatalf("a popped timer still has heap index %d", *tt.timerIndex())
		}
	}
	if _, _, ok := h.popDue(1e6); ok {
		t.Fatal("heap not empty after popping every timer")
	}
}

// TestTimersNotDueCostNothing: with many timers scheduled later, popping
// the due ones looks at the earliest entry only.
func TestTimersNotDueCostNothing(t *testing.T) {
	var h timerHeap
	for i := 0; i < 100000; i++ {
		h.schedule(&testTimer{}, int64(1000+i), 0)
	}
	due := &testTimer{}
	h.schedule(due, 10, 42)
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, ok := h.popDue(5); ok {
			t.Fatal("popped a timer that is not due")
		}
	})
	if allocs != 0 {
		t.Fatalf("looking for due timers allocates %.0f times", allocs)
	}
	if tt, arg, ok := h.popDue(10); !ok || tt != due || arg != 42 {
		t.Fatal("the due timer did not come out first")
	}
}

// BenchmarkTimersNotDue is a loop iteration's timer work with 100,000
// timers that are not due (idle timeouts, say): one look at the earliest.
func BenchmarkTimersNotDue(b *testing.B) {
	var h timerHeap
	for i := 0; i < 100000; i++ {
		h.schedule(&testTimer{}, 1e12+int64(i), 0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, ok := h.popDue(int64(i)); ok {
			b.Fatal("popped a timer that is not due")
		}
	}
}
