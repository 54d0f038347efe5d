//go:build !race && (darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package evio

import (
	"net"
	"testing"
	"time"
)

// TestTimeoutsAllocateNothing: once a connection has its timer and its
// deadlines, moving them (Timer.Reset, the deadline methods) allocates
// nothing, on either engine. Measured inside a Data event, on the loop,
// where the methods belong.
func TestTimeoutsAllocateNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		measured := make(chan float64, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				return nil, Options{IdleTimeout: time.Minute}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				tm := c.AfterFunc(time.Hour, func() ([]byte, Action) { return nil, None })
				c.SetDeadline(time.Now().Add(time.Hour))
				measured <- testing.AllocsPerRun(1000, func() {
					tm.Reset(time.Hour)
					tm.Stop()
					tm.Reset(time.Minute)
					now := time.Now()
					c.SetReadDeadline(now.Add(time.Minute))
					c.SetWriteDeadline(now.Add(time.Minute))
					c.SetDeadline(now.Add(time.Hour))
				})
				return nil, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		s.dial(0).Write([]byte("x"))
		select {
		case allocs := <-measured:
			// Another goroutine (the test server's Tick, say) may
			// allocate during the run; allow for a stray one.
			if allocs > 0.01 {
				t.Fatalf("moving a timer and the deadlines allocates %.3f times, want 0", allocs)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Data did not fire")
		}
	})
}

// TestTimeoutRoundTripAllocatesNothing: on a poll-engine loop, a request
// and its echo allocate nothing when the connection has an idle timeout
// and each request moves its read deadline and a timer.
func TestTimeoutRoundTripAllocatesNothing(t *testing.T) {
	s := startServer(t, timeoutEcho(), "tcp://127.0.0.1:0")
	c, err := net.Dial("tcp", s.addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, buf := make([]byte, 64), make([]byte, 64)
	for i := 0; i < 100; i++ { // warm up pools, buffers and the heap
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
		t.Fatalf("a round trip with timeouts allocates %.3f times, want 0", allocs)
	}
}
