package evio

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// TestCounters: the counters follow what the server did: connections
// accepted, open and closed (and why), bytes both ways, wakeups.
func TestCounters(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		woken := make(chan Conn, 1)
		h := startHandle(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				return nil, Options{MaxOutput: 64 << 10}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					return make([]byte, 1<<20), None // a push past the bound
				}
				if string(in) == "push" {
					woken <- c
					return nil, None
				}
				return in, None
			},
		}, e.addr("tcp", "127.0.0.1:0"))
		addr := h.Addrs()[0].String()

		// One echo, closed by the peer.
		c1, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c1.Write([]byte("hello"))
		c1.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.ReadFull(c1, make([]byte, 5))
		c1.Close()

		// One cut at its output bound: pushes to a peer that reads nothing.
		c2 := dialNonReader(t, addr)
		defer c2.Close()
		c2.Write([]byte("push"))
		c := <-woken
		for i := 0; i < 50; i++ {
			c.Wake()
			time.Sleep(5 * time.Millisecond)
		}

		waitFor(t, "the counters", func() bool {
			n := h.Counters()
			return n.Closed == 2 && n.ClosedByPeer == 1 && n.ClosedOutputLimit == 1
		})
		n := h.Counters()
		if n.Accepted != 2 || n.Open != 0 {
			t.Fatalf("accepted %d, open %d; want 2 and 0", n.Accepted, n.Open)
		}
		if n.BytesIn < 9 || n.BytesOut < 5 || n.Reads < 2 || n.Writes < 1 {
			t.Fatalf("bytes in %d, out %d, reads %d, writes %d: too few", n.BytesIn, n.BytesOut, n.Reads, n.Writes)
		}
		if n.Wakeups < 1 || n.Iterations == 0 {
			t.Fatalf("wakeups %d, iterations %d", n.Wakeups, n.Iterations)
		}
		if n.ClosedByError != 0 || n.ClosedTimeout != 0 {
			t.Fatalf("closed by error %d, by timeout %d; want 0", n.ClosedByError, n.ClosedTimeout)
		}
	})
}

// timeoutContext is a context that ends after 10 s or with the test.
func timeoutContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestCountersFromEvent: from an event, Counters includes what the event's
// own loop has just counted (an INFO command reports its own request).
func TestCountersFromEvent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var h *Handle
		ready := make(chan struct{})
		seen := make(chan Counters, 1)
		h = startHandle(t, Events{
			NumLoops: 2,
			Data: func(c Conn, in []byte) ([]byte, Action) {
				<-ready
				seen <- h.Counters()
				return nil, None
			},
		}, e.addr("tcp", "127.0.0.1:0"))
		close(ready)
		c, err := net.Dial("tcp", h.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("0123456789"))
		select {
		case n := <-seen:
			if n.BytesIn < 10 || n.Accepted < 1 || n.Open < 1 {
				t.Fatalf("from the event: bytes in %d, accepted %d, open %d; want at least 10, 1, 1", n.BytesIn, n.Accepted, n.Open)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Data did not fire")
		}
	})
}
