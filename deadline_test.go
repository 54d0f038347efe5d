package evio

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// Timing tests here assert strict lower bounds (a timeout never fires
// early, measured from a time taken before the timeout was set or before
// the last activity) and generous upper bounds (CI has two cores and runs
// -race).
const timingSlack = time.Second

// closedAt is what a Closed event saw: its error and when it fired.
type closedAt struct {
	err error
	at  time.Time
}

// awaitClosed waits up to d for a Closed report.
func awaitClosed(t *testing.T, closed <-chan closedAt, d time.Duration) closedAt {
	t.Helper()
	select {
	case c := <-closed:
		return c
	case <-time.After(d):
		t.Fatalf("Closed did not fire within %v", d)
		return closedAt{}
	}
}

// notClosed fails if a Closed report arrives within d.
func notClosed(t *testing.T, closed <-chan closedAt, d time.Duration, why string) {
	t.Helper()
	select {
	case c := <-closed:
		t.Fatalf("%s: Closed fired with %v", why, c.err)
	case <-time.After(d):
	}
}

// checkTimeoutErr checks that err is want and, as for every timeout, wraps
// os.ErrDeadlineExceeded.
func checkTimeoutErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("Closed err = %v, want %v", err, want)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Closed err = %v does not wrap os.ErrDeadlineExceeded", err)
	}
}

// checkReset checks that the peer's read ends with a reset, not an end of
// stream: the server cut the stream.
func checkReset(t *testing.T, c net.Conn) {
	t.Helper()
	n, err := readUntilError(c, 10*time.Second)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the peer's read ended with %v after %d bytes, want ECONNRESET", err, n)
	}
}

// checkEOF checks that the peer's read ends with a clean end of stream.
func checkEOF(t *testing.T, c net.Conn) {
	t.Helper()
	n, err := readUntilError(c, 10*time.Second)
	if err != io.EOF {
		t.Errorf("the peer's read ended with %v after %d bytes, want EOF", err, n)
	}
}

// TestReadDeadlineFires: a read deadline set in Opened closes a connection
// whose peer sends nothing, not before the deadline and soon after it,
// with ErrReadDeadline and a reset.
func TestReadDeadlineFires(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const d = 300 * time.Millisecond
		set := make(chan time.Time, 1)
		closed := make(chan closedAt, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				t0 := time.Now()
				if err := c.SetReadDeadline(t0.Add(d)); err != nil {
					t.Errorf("SetReadDeadline: %v", err)
				}
				set <- t0
				return nil, Options{}, None
			},
			Closed: func(c Conn, err error) Action { closed <- closedAt{err, time.Now()}; return None },
		}
		s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		t0 := <-set
		got := awaitClosed(t, closed, 10*time.Second)
		within(t, "ErrReadDeadline", got.at.Sub(t0), d, d+timingSlack)
		checkTimeoutErr(t, got.err, ErrReadDeadline)
		checkReset(t, c)
	})
}

// TestReadDeadlinePushedByData: a Data event that moves the read deadline
// later keeps the connection open past the first deadline; once the peer
// stops, the last deadline closes it, not before.
func TestReadDeadlinePushedByData(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const d = 300 * time.Millisecond
		lastSet := make(chan time.Time, 100)
		closed := make(chan closedAt, 1)
		push := func(c Conn) {
			t0 := time.Now()
			if err := c.SetReadDeadline(t0.Add(d)); err != nil {
				t.Errorf("SetReadDeadline: %v", err)
			}
			lastSet <- t0
		}
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) { push(c); return nil, Options{}, None },
			Data: func(c Conn, in []byte) ([]byte, Action) {
				push(c)
				return in, None
			},
			Closed: func(c Conn, err error) Action { closed <- closedAt{err, time.Now()}; return None },
		}
		s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		r := bufio.NewReader(c)
		first := <-lastSet
		// Keep the connection busy for three times the deadline, sending
		// every third of it.
		for time.Since(first) < 3*d {
			time.Sleep(d / 3)
			c.Write([]byte("ping\n"))
			if got := readLine(t, r, c); got != "ping" {
				t.Fatalf("echo = %q", got)
			}
		}
		notClosed(t, closed, 0, "a connection whose deadline each request pushed later")
		var last time.Time
		for len(lastSet) > 0 {
			last = <-lastSet
		}
		got := awaitClosed(t, closed, 10*time.Second)
		within(t, "ErrReadDeadline after the last push", got.at.Sub(last), d, d+timingSlack)
		if open := got.at.Sub(first); open < 3*d {
			t.Errorf("closed %v after the first deadline was set, before the peer stopped", open)
		}
		checkTimeoutErr(t, got.err, ErrReadDeadline)
	})
}

// TestReadDeadlineCleared: the zero time clears a read deadline, and a
// cleared one never fires, through SetReadDeadline or SetDeadline.
func TestReadDeadlineCleared(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, via := range []string{"SetReadDeadline", "SetDeadline"} {
			closed := make(chan closedAt, 1)
			events := Events{
				Opened: func(c Conn) ([]byte, Options, Action) {
					c.SetDeadline(time.Now().Add(200 * time.Millisecond))
					return nil, Options{}, None
				},
				Data: func(c Conn, in []byte) ([]byte, Action) {
					if string(in) == "clear\n" {
						var err error
						if via == "SetDeadline" {
							err = c.SetDeadline(time.Time{})
						} else {
							err = c.SetReadDeadline(time.Time{})
							c.SetWriteDeadline(time.Time{})
						}
						if err != nil {
							t.Errorf("%s(zero): %v", via, err)
						}
					}
					return in, None
				},
				Closed: func(c Conn, err error) Action { closed <- closedAt{err, time.Now()}; return None },
			}
			s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))
			c := s.dial(0)
			r := bufio.NewReader(c)
			c.Write([]byte("clear\n"))
			if got := readLine(t, r, c); got != "clear" {
				t.Fatalf("echo = %q", got)
			}
			notClosed(t, closed, 800*time.Millisecond, via+"(zero time) cleared the deadline")
			c.Write([]byte("still open\n"))
			if got := readLine(t, r, c); got != "still open" {
				t.Fatalf("echo = %q", got)
			}
			s.Stop()
		}
	})
}

// TestWriteDeadlineWithQueuedOutput: a write deadline that passes while
// output waits for a peer that reads nothing closes the connection with
// ErrWriteDeadline, not before the deadline, and the peer sees a reset.
func TestWriteDeadlineWithQueuedOutput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const d = 300 * time.Millisecond
		reply := bytes.Repeat([]byte("w"), 8<<20)
		set := make(chan time.Time, 1)
		closed := make(chan closedAt, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				setSendBuffer(c, 64<<10)
				t0 := time.Now()
				if err := c.SetWriteDeadline(t0.Add(d)); err != nil {
					t.Errorf("SetWriteDeadline: %v", err)
				}
				set <- t0
				return reply, Options{}, None
			},
			Closed: func(c Conn, err error) Action { closed <- closedAt{err, time.Now()}; return None },
		}
		s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))
		c := dialNonReader(t, s.addrs[0].String())
		t0 := <-set
		got := awaitClosed(t, closed, 10*time.Second)
		within(t, "ErrWriteDeadline", got.at.Sub(t0), d, d+timingSlack)
		checkTimeoutErr(t, got.err, ErrWriteDeadline)
		checkReset(t, c)
	})
}

// TestWriteDeadlinePassedWithNothingQueued: a write deadline that passes
// with nothing queued does not close the connection; output returned
// after it does, with ErrWriteDeadline and a reset; setting the deadline
// again (here: clearing it) lets output through once more.
func TestWriteDeadlinePassedWithNothingQueued(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const d = 200 * time.Millisecond
		closed := make(chan closedAt, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				c.SetWriteDeadline(time.Now().Add(d))
				return nil, Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				switch string(in) {
				case "quiet\n":
					return nil, None
				case "renew\n":
					c.SetWriteDeadline(time.Time{})
				}
				return in, None
			},
			Closed: func(c Conn, err error) Action { closed <- closedAt{err, time.Now()}; return None },
		}
		s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))

		// Output before the deadline goes through.
		c := s.dial(0)
		r := bufio.NewReader(c)
		c.Write([]byte("early\n"))
		if got := readLine(t, r, c); got != "early" {
			t.Fatalf("echo = %q", got)
		}
		// The deadline passes with nothing queued: still open, and input
		// without output does not close it.
		time.Sleep(2 * d)
		c.Write([]byte("quiet\n"))
		notClosed(t, closed, 200*time.Millisecond, "the write deadline passed with nothing queued")
		// Output now fails.
		c.Write([]byte("late\n"))
		got := awaitClosed(t, closed, 10*time.Second)
		checkTimeoutErr(t, got.err, ErrWriteDeadline)
		checkReset(t, c)

		// Setting the deadline again lifts it.
		c = s.dial(0)
		r = bufio.NewReader(c)
		time.Sleep(2 * d)
		c.Write([]byte("renew\n"))
		if got := readLine(t, r, c); got != "renew" {
			t.Fatalf("echo after the deadline was set again = %q", got)
		}
		notClosed(t, closed, 0, "output after the write deadline was cleared")
	})
}

// TestIdleTimeout: a connection whose peer is silent is closed after
// IdleTimeout, not before, with ErrIdleTimeout; nothing was queued, so the
// close is graceful: the peer reads an end of stream.
func TestIdleTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const idle = 300 * time.Millisecond
		opened := make(chan time.Time, 1)
		closed := make(chan closedAt, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				opened <- time.Now() // before the timeout starts
				return nil, Options{IdleTimeout: idle}, None
			},
			Closed: func(c Conn, err error) Action { closed <- closedAt{err, time.Now()}; return None },
		}
		s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		t0 := <-opened
		got := awaitClosed(t, closed, 10*time.Second)
		within(t, "ErrIdleTimeout", got.at.Sub(t0), idle, idle+timingSlack)
		checkTimeoutErr(t, got.err, ErrIdleTimeout)
		checkEOF(t, c)
	})
}

// TestIdleTimeoutCountsFromLastInput: after a long silence, one request
// restarts the idle timeout: the connection closes IdleTimeout after that
// request at the earliest. The loop must stamp the activity with the time
// the input arrived, not with a clock reading from before it slept.
func TestIdleTimeoutCountsFromLastInput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const idle = 500 * time.Millisecond
		opened := make(chan time.Time, 1)
		closed := make(chan closedAt, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				opened <- time.Now()
				return nil, Options{IdleTimeout: idle}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) { return in, None },
			Closed: func(c Conn, err error) Action {
				closed <- closedAt{err, time.Now()}
				return Shutdown // its Tick never comes
			},
		}
		// No Tick but the first: the loop sleeps until the data or the
		// timeout.
		s := startQuietServer(t, events, time.Hour, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		r := bufio.NewReader(c)
		<-opened
		time.Sleep(idle * 7 / 10)
		sent := time.Now()
		c.Write([]byte("ping\n"))
		if got := readLine(t, r, c); got != "ping" {
			t.Fatalf("echo = %q", got)
		}
		got := awaitClosed(t, closed, 10*time.Second)
		within(t, "ErrIdleTimeout after the last request", got.at.Sub(sent), idle, idle+timingSlack)
		checkTimeoutErr(t, got.err, ErrIdleTimeout)
		if err := s.Wait(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestIdleTimeoutSparedByActivePeer: a peer that sends every 50 ms is not
// closed by an IdleTimeout of 200 ms, however long it keeps at it; once it
// stops, the timeout closes it.
func TestIdleTimeoutSparedByActivePeer(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const idle = 200 * time.Millisecond
		closed := make(chan closedAt, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				return nil, Options{IdleTimeout: idle}, None
			},
			Data:   func(c Conn, in []byte) ([]byte, Action) { return nil, None }, // input only
			Closed: func(c Conn, err error) Action { closed <- closedAt{err, time.Now()}; return None },
		}
		s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		var last time.Time
		for start := time.Now(); time.Since(start) < 600*time.Millisecond; {
			last = time.Now()
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-closed:
				t.Fatalf("closed with %v after %v while the peer sent every 50 ms", got.err, time.Since(start))
			case <-time.After(50 * time.Millisecond):
			}
		}
		got := awaitClosed(t, closed, 10*time.Second)
		within(t, "ErrIdleTimeout after the peer stopped", got.at.Sub(last), idle, idle+timingSlack)
		checkTimeoutErr(t, got.err, ErrIdleTimeout)
	})
}

// TestFarFutureTimeoutsNeverFire: a deadline, an idle timeout or a timer
// too far off to be reached (time.Now().Add(math.MaxInt64), an IdleTimeout
// or AfterFunc of math.MaxInt64) never fires, as for net.Conn and
// time.AfterFunc; it must not overflow the loop clock into the past.
func TestFarFutureTimeoutsNeverFire(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		cases := []string{"SetReadDeadline", "SetWriteDeadline", "SetDeadline", "IdleTimeout", "AfterFunc"}
		closed := make(chan string, len(cases))
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				far := time.Now().Add(math.MaxInt64)
				switch cases[c.AddrIndex()] {
				case "SetReadDeadline":
					c.SetReadDeadline(far)
				case "SetWriteDeadline":
					c.SetWriteDeadline(far)
				case "SetDeadline":
					c.SetDeadline(far)
				case "IdleTimeout":
					return nil, Options{IdleTimeout: math.MaxInt64}, None
				case "AfterFunc":
					tm := c.AfterFunc(math.MaxInt64, func() ([]byte, Action) { return []byte("fired\n"), None })
					tm.Reset(math.MaxInt64)
				}
				return nil, Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) { return in, None },
			Closed: func(c Conn, err error) Action {
				if err != nil {
					closed <- cases[c.AddrIndex()] + ": " + err.Error()
				}
				return None
			},
		}
		var addrs []string
		for range cases {
			addrs = append(addrs, e.addr("tcp", "127.0.0.1:0"))
		}
		s := startServer(t, events, addrs...)
		for i, name := range cases {
			c, err := net.DialTimeout("tcp", s.addrs[i].String(), 5*time.Second)
			if err != nil {
				// A connection closed as it opens can fail the handshake.
				t.Errorf("%s far in the future: dial: %v", name, err)
				continue
			}
			defer c.Close()
			time.Sleep(100 * time.Millisecond)
			c.Write([]byte("ping\n"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if line != "ping\n" {
				t.Errorf("%s far in the future: echo = %q, %v", name, line, err)
			}
		}
		for len(closed) > 0 {
			t.Errorf("closed by a timeout far in the future: %s", <-closed)
		}
	})
}

// TestDeadlineMethodErrors: the deadline methods return nil on an open
// connection, net.ErrClosed once it has ended (here in Closed), and an
// error for a UDP datagram's sender.
func TestDeadlineMethodErrors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		set := func(c Conn) []error {
			future := time.Now().Add(time.Hour)
			return []error{c.SetReadDeadline(future), c.SetWriteDeadline(future), c.SetDeadline(future)}
		}
		results := make(chan []error, 3)
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				results <- set(c)
				return in, None
			},
			Closed: func(c Conn, err error) Action { results <- set(c); return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"), e.addr("udp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("x"))
		for i, err := range <-results {
			if err != nil {
				t.Errorf("deadline method %d on an open connection = %v", i, err)
			}
		}
		c.Close()
		for i, err := range <-results {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("deadline method %d in Closed = %v, want net.ErrClosed", i, err)
			}
		}
		u, err := net.Dial("udp", s.addrs[1].String())
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		u.Write([]byte("x"))
		select {
		case errs := <-results:
			for i, err := range errs {
				if err == nil {
					t.Errorf("deadline method %d on a UDP sender = nil, want an error", i)
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no UDP datagram served")
		}
	})
}

// TestIdleTimeoutSparedByMovingOutput: output that keeps moving to a peer
// that reads slowly is activity: a 1 MiB reply read through a 4 KiB
// receive buffer, 4 KiB every 5 ms (over a second), is not cut by an
// IdleTimeout of 150 ms. Once the server has handed over the last byte
// the timeout may close the connection, but gracefully, nothing being
// queued: the peer reads every byte, then an end of stream.
func TestIdleTimeoutSparedByMovingOutput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const idle, total = 150 * time.Millisecond, 1 << 20
		closed := make(chan closedAt, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				setSendBuffer(c, 64<<10)
				return patterned(0, total), Options{IdleTimeout: idle}, None
			},
			Closed: func(c Conn, err error) Action { closed <- closedAt{err, time.Now()}; return None },
		}
		s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))
		c := dialNonReader(t, s.addrs[0].String())
		buf := make([]byte, 4<<10)
		got := 0
		for {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Read(buf)
			if off := checkPatterned(got, buf[:n]); off >= 0 {
				t.Fatalf("the reply is wrong at offset %d", off)
			}
			got += n
			if err == io.EOF && got == total {
				break
			}
			if err != nil {
				t.Fatalf("read %d of %d bytes, then %v", got, total, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
		res := awaitClosed(t, closed, 10*time.Second)
		checkTimeoutErr(t, res.err, ErrIdleTimeout)
	})
}
