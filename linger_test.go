package evio

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

// lingeringServer serves two addresses: connections to the first get 64 KiB
// and are closed at once; the second echoes. A client of the first that
// reads nothing, with a small receive buffer, leaves the server's close
// unsettled (output not acknowledged) for the whole linger.
// echoing receives the server's Conn of each echo connection.
func lingeringServer(t testing.TB, e engine) (s *testServer, echoing <-chan Conn) {
	out := bytes.Repeat([]byte("L"), 64<<10)
	opened := make(chan Conn, 1)
	events := Events{
		Opened: func(c Conn) ([]byte, Options, Action) {
			if c.AddrIndex() == 0 {
				setSendBuffer(c, 1<<20) // all of out fits: the close is not delayed
				return out, Options{}, Close
			}
			opened <- c
			return nil, Options{}, None
		},
		Data: func(c Conn, in []byte) ([]byte, Action) { return in, None },
	}
	s = startServer(t, events, e.addr("tcp", "127.0.0.1:0"), e.addr("tcp", "127.0.0.1:0"))
	return s, opened
}

// dialNonReader connects a client that never reads, with a small receive
// buffer.
func dialNonReader(t testing.TB, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { setRecvBuffer(fd, 4096) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// lingeringNow counts the server's lingering connections; any goroutine.
func lingeringNow(c Conn) int64 {
	var n int64
	for _, l := range c.(*conn).loop.server.loops {
		n += l.lingering.Load()
	}
	return n
}

// TestLingerCostsNoWorkPerIteration (issue 8): each lingering close is
// checked on its own backed-off timer, not on every loop iteration. With
// 400 lingering connections, each check two ioctls, an echo round trip had
// become 20 times slower (29 µs to 600 µs).
func TestLingerCostsNoWorkPerIteration(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const lingering, roundTrips = 400, 500
		checks := countUnsettledChecks(t)
		s, echoing := lingeringServer(t, e)
		echo := s.dial(1)
		sc := <-echoing
		r := bufio.NewReader(echo)
		for i := 0; i < lingering; i++ {
			dialNonReader(t, s.addrs[0].String())
		}
		waitFor(t, "every close to linger", func() bool { return lingeringNow(sc) == lingering })
		before := checks.Load()
		for i := 0; i < roundTrips; i++ {
			echo.Write([]byte("ping\n"))
			if got := readLine(t, r, echo); got != "ping" {
				t.Fatalf("echo = %q", got)
			}
		}
		during := checks.Load() - before
		if n := lingeringNow(sc); n != lingering {
			t.Fatalf("%d of %d connections still lingering after the round trips: the test measured nothing", n, lingering)
		}
		// A lingering connection is checked about a dozen times in its
		// 2 s (after 1, 2, 4 ... 1024 ms): the round trips add nothing.
		if perConn := during / lingering; perConn > 12 {
			t.Fatalf("%d checks of %d lingering connections during %d round trips: %d each", during, lingering, roundTrips, perConn)
		}
	})
}

// TestLingerWaitsForUnacknowledgedOutput: a close whose output the peer has
// not yet acknowledged lingers, so that what the peer sends afterwards does
// not reset the connection and destroy that output. (Linux counts
// unacknowledged output with TIOCOUTQ, macOS with SO_NWRITE, FreeBSD and
// NetBSD with FIONWRITE; see docs/GUARANTEES.md.)
func TestLingerWaitsForUnacknowledgedOutput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		out := bytes.Repeat([]byte("u"), 1<<20)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				setSendBuffer(c, 4<<20) // all of out fits: Close runs at once
				return out, Options{}, Close
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := dialNonReader(t, s.addrs[0].String())
		time.Sleep(50 * time.Millisecond) // the server has closed by now
		// Send after the close: without lingering, the kernel answers
		// with a reset that destroys the output still in flight.
		c.Write([]byte("late request\n"))
		got := readAllWithin(t, c, 10*time.Second)
		if len(got) != len(out) {
			t.Fatalf("received %d of %d bytes", len(got), len(out))
		}
	})
}

// TestOpenedCloseLingers (issue 8): out returned with Close from Opened
// reaches a peer that is already sending. The portable engine closed at
// once when Opened asked for it, and the unread input reset the
// connection.
func TestOpenedCloseLingers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		out := bytes.Repeat([]byte("o"), 4<<20)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) { return out, Options{}, Close },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		stop := keepSending(c, bytes.Repeat([]byte("w"), 1024)) // from the start
		time.Sleep(20 * time.Millisecond)
		got := readAllWithin(t, c, 20*time.Second)
		stop()
		if len(got) != len(out) {
			t.Fatalf("received %d of %d bytes before the close", len(got), len(out))
		}
	})
}

// BenchmarkEchoWhileLingering is an echo round trip while 0 or 400 closed
// connections linger, their output unacknowledged. Lingering should cost
// the loop nothing per iteration: the two should be level. (Each lingers
// at most 2 s, so run it with -benchtime=5000x or so.)
func BenchmarkEchoWhileLingering(b *testing.B) {
	for _, e := range engines {
		for _, lingering := range []int{0, 400} {
			b.Run(fmt.Sprintf("%s/lingering=%d", e.name, lingering), func(b *testing.B) {
				s, echoing := lingeringServer(b, e)
				echo := s.dial(1)
				sc := <-echoing
				for i := 0; i < lingering; i++ {
					dialNonReader(b, s.addrs[0].String())
				}
				deadline := time.Now().Add(10 * time.Second)
				for lingeringNow(sc) != int64(lingering) && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				msg, buf := []byte("ping\n"), make([]byte, 5)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := roundTrip(echo, msg, buf); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				if n := lingeringNow(sc); n != int64(lingering) {
					b.Fatalf("%d of %d connections lingering at the end: run it shorter", n, lingering)
				}
			})
		}
	}
}
