//go:build !race && (darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package evio

import (
	"net"
	"testing"
)

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

// TestWriteRoundTripAllocatesNothing: an echo that answers with Conn.Write
// instead of out allocates nothing per round trip once warm (the outbox's
// two buffers are swapped, not replaced).
func TestWriteRoundTripAllocatesNothing(t *testing.T) {
	s := startServer(t, Events{
		Opened: func(c Conn) ([]byte, Options, Action) { return nil, Options{ReuseInputBuffer: true}, None },
		Data: func(c Conn, in []byte) ([]byte, Action) {
			if err := c.Write(in); err != nil {
				t.Error(err)
			}
			return nil, None
		},
	}, "tcp://127.0.0.1:0")
	c, err := net.Dial("tcp", s.addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, buf := make([]byte, 64), make([]byte, 64)
	for i := 0; i < 100; i++ {
		if err := roundTrip(c, msg, buf); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := roundTrip(c, msg, buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0.01 {
		t.Fatalf("a round trip answered with Write allocates %.3f times, want 0", allocs)
	}
}
