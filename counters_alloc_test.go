//go:build !race

package evio

import "testing"

// Run without the race detector, which makes sync.Pool drop what it holds.

// TestCountersAllocateNothing: a snapshot allocates nothing.
func TestCountersAllocateNothing(t *testing.T) {
	h, err := Start(Events{}, "tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop(timeoutContext(t))
	if a := testing.AllocsPerRun(100, func() { _ = h.Counters() }); a != 0 {
		t.Fatalf("Counters allocates %.1f times", a)
	}
}
