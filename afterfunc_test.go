package evio

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// TestAfterFuncFires: a timer fires once d has passed from the call, never
// before, on the connection's loop: its output reaches the peer after what
// the events before it returned, and its Close action closes the
// connection. The events and the timers share a counter without locking:
// under -race, a timer run on another goroutine is reported.
func TestAfterFuncFires(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const d = 200 * time.Millisecond
		scheduled := make(chan time.Time, 1)
		fired := make(chan time.Time, 1)
		closed := make(chan error, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				shared := 0 // the loop's only
				c.SetContext(&shared)
				t0 := time.Now()
				c.AfterFunc(d, func() ([]byte, Action) {
					fired <- time.Now()
					shared++
					return []byte("tick\n"), None
				})
				scheduled <- t0
				return []byte("opened\n"), Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				shared := c.Context().(*int)
				*shared++
				if string(in) == "bye\n" {
					c.AfterFunc(50*time.Millisecond, func() ([]byte, Action) {
						*shared++
						return []byte("bye " + string(rune('0'+*shared)) + "\n"), Close
					})
				}
				return nil, None
			},
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		r := bufio.NewReader(c)
		t0 := <-scheduled
		if got := readLine(t, r, c); got != "opened" {
			t.Fatalf("first line = %q, want Opened's", got)
		}
		if got := readLine(t, r, c); got != "tick" {
			t.Fatalf("second line = %q, want the timer's", got)
		}
		within(t, "the timer", (<-fired).Sub(t0), d, d+timingSlack)
		c.Write([]byte("bye\n"))
		if got := readLine(t, r, c); got != "bye 3" {
			t.Fatalf("the closing timer wrote %q, want %q", got, "bye 3")
		}
		checkEOF(t, c)
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("Closed after a timer's Close = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a timer's Close action did not close the connection")
		}
	})
}

// TestTimerStop: Stop before a timer fires keeps it from firing and
// reports true; Stop of a timer that has fired, or been stopped, reports
// false.
func TestTimerStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var stoppedFired, otherFired atomic.Int32
		results := make(chan [3]bool, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				stopped := c.AfterFunc(150*time.Millisecond, func() ([]byte, Action) {
					stoppedFired.Add(1)
					return []byte("stopped timer fired\n"), None
				})
				other := c.AfterFunc(20*time.Millisecond, func() ([]byte, Action) {
					otherFired.Add(1)
					return nil, None
				})
				c.AfterFunc(60*time.Millisecond, func() ([]byte, Action) {
					results <- [3]bool{stopped.Stop(), stopped.Stop(), other.Stop()}
					return nil, None
				})
				return nil, Options{}, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		got := <-results
		if !got[0] {
			t.Error("Stop of a timer still to fire = false, want true")
		}
		if got[1] {
			t.Error("Stop of a stopped timer = true, want false")
		}
		if got[2] {
			t.Error("Stop of a timer that fired = true, want false")
		}
		time.Sleep(400 * time.Millisecond) // well past the stopped timer's time
		if n := stoppedFired.Load(); n != 0 {
			t.Errorf("a stopped timer fired %d times", n)
		}
		if n := otherFired.Load(); n != 1 {
			t.Errorf("a timer fired %d times, want once", n)
		}
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, _ := c.Read(make([]byte, 64)); n > 0 {
			t.Error("the stopped timer's output reached the peer")
		}
	})
}

// TestTimerReset: Reset moves a timer, later or earlier, and reports
// whether it was still to fire; a timer that has fired fires again after
// Reset, d after it, never before.
func TestTimerReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		type fire struct {
			name    string
			elapsed time.Duration // since the Reset that scheduled it
			pending bool          // what that Reset reported
		}
		fires := make(chan fire, 4)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				var later *Timer
				var resetAt time.Time
				var pendingAtReset bool
				count := 0
				later = c.AfterFunc(100*time.Millisecond, func() ([]byte, Action) {
					count++
					fires <- fire{"later", time.Since(resetAt), pendingAtReset}
					if count == 1 {
						// Fired: Reset schedules it again and reports false.
						resetAt = time.Now()
						pendingAtReset = later.Reset(100 * time.Millisecond)
					}
					return nil, None
				})
				resetAt = time.Now()
				pendingAtReset = later.Reset(400 * time.Millisecond)

				var earlier *Timer
				var earlierAt time.Time
				earlier = c.AfterFunc(time.Hour, func() ([]byte, Action) {
					fires <- fire{"earlier", time.Since(earlierAt), true}
					return nil, None
				})
				earlierAt = time.Now()
				if !earlier.Reset(50 * time.Millisecond) {
					t.Error("Reset of a timer still to fire = false")
				}
				return nil, Options{}, None
			},
		}
		s := startQuietServer(t, events, 250*time.Millisecond, e.addr("tcp", "127.0.0.1:0"))
		s.dial(0)
		want := []struct {
			name    string
			d       time.Duration
			pending bool
		}{
			{"earlier", 50 * time.Millisecond, true},
			{"later", 400 * time.Millisecond, true},
			{"later", 100 * time.Millisecond, false},
		}
		for i, w := range want {
			select {
			case f := <-fires:
				if f.name != w.name {
					t.Fatalf("fire %d was %q, want %q", i, f.name, w.name)
				}
				within(t, w.name+" timer", f.elapsed, w.d, w.d+timingSlack)
				if f.pending != w.pending {
					t.Errorf("fire %d: its Reset reported %v, want %v", i, f.pending, w.pending)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("fire %d (%s) did not come", i, w.name)
			}
		}
		select {
		case f := <-fires:
			t.Fatalf("an extra fire: %+v", f)
		case <-time.After(300 * time.Millisecond):
		}
	})
}

// TestTimersOfEndedConnNeverFire: the timers of a connection that closed,
// by its peer or by an event's Close, never fire; Stop and Reset of them
// report false; AfterFunc after the end (in Closed) returns a timer that
// never fires.
func TestTimersOfEndedConnNeverFire(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var fired atomic.Int32
		closedResults := make(chan [4]bool, 2)
		count := func() ([]byte, Action) { fired.Add(1); return nil, None }
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				c.SetContext(c.AfterFunc(200*time.Millisecond, count))
				return nil, Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) { return []byte("closing\n"), Close },
			Closed: func(c Conn, err error) Action {
				tm := c.Context().(*Timer)
				late := c.AfterFunc(10*time.Millisecond, count)
				closedResults <- [4]bool{tm.Stop(), tm.Reset(10 * time.Millisecond), late.Reset(10 * time.Millisecond), late.Stop()}
				return None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		byPeer := s.dial(0)
		byPeer.Close()
		byServer := s.dial(0)
		byServer.Write([]byte("close me\n"))
		readAllWithin(t, byServer, 5*time.Second)
		for i := 0; i < 2; i++ {
			select {
			case got := <-closedResults:
				for j, name := range []string{"Stop of its timer", "Reset of its timer", "Reset of a timer made in Closed", "Stop of a timer made in Closed"} {
					if got[j] {
						t.Errorf("%s in Closed = true, want false", name)
					}
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Closed did not fire")
			}
		}
		time.Sleep(500 * time.Millisecond)
		if n := fired.Load(); n != 0 {
			t.Fatalf("timers of ended connections fired %d times", n)
		}
	})
}

// TestTimersDoNotFireDuringShutdown: once the server shuts down, a
// connection still writing its queued output in the drain does not have
// its timers fired.
func TestTimersDoNotFireDuringShutdown(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var fired atomic.Int32
		reply := bytes.Repeat([]byte("s"), 8<<20)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				setSendBuffer(c, 64<<10)
				c.AfterFunc(50*time.Millisecond, func() ([]byte, Action) {
					fired.Add(1)
					return nil, None
				})
				return reply, Options{}, Shutdown // the drain waits for the reader
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := dialNonReader(t, s.addrs[0].String())
		time.Sleep(400 * time.Millisecond)
		c.Close() // the drain's write fails: Serve returns
		if err := s.Wait(); err != nil {
			t.Fatal(err)
		}
		if n := fired.Load(); n != 0 {
			t.Fatalf("a timer fired %d times during the shutdown drain", n)
		}
	})
}

// TestAfterFuncUDP: a timer of a UDP datagram's sender sends its output to
// that sender.
func TestAfterFuncUDP(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				msg := append([]byte("later "), in...)
				c.AfterFunc(30*time.Millisecond, func() ([]byte, Action) { return msg, None })
				return nil, None
			},
		}
		s := startServer(t, events, e.addr("udp", "127.0.0.1:0"))
		c, err := net.Dial("udp", s.addrs[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 64)
		for attempt := 0; ; attempt++ {
			c.Write([]byte("x"))
			c.SetReadDeadline(time.Now().Add(time.Second))
			n, err := c.Read(buf)
			if err == nil {
				if got := string(buf[:n]); got != "later x" {
					t.Fatalf("got %q, want %q", got, "later x")
				}
				return
			}
			if attempt == 5 {
				t.Fatalf("no datagram from the timer: %v", err)
			}
		}
	})
}

// TestPanicsInFlowEvents: a panic in a timer's function, in Drained or in
// HalfClosed closes that connection with a *PanicError naming the event,
// as a panic in Data does.
func TestPanicsInFlowEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 3)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				switch c.AddrIndex() {
				case 0:
					c.AfterFunc(10*time.Millisecond, func() ([]byte, Action) { panic(errBoom) })
				case 1:
					return bytes.Repeat([]byte("d"), 64<<10), Options{OutputHighWater: 1024}, None
				}
				return nil, Options{}, None
			},
			Drained:    func(c Conn) ([]byte, Action) { panic(errBoom) },
			HalfClosed: func(c Conn) ([]byte, Action) { panic(errBoom) },
			Closed:     func(c Conn, err error) Action { closed <- err; return None },
		}
		addr := e.addr("tcp", "127.0.0.1:0")
		s := startServer(t, events, addr, addr, addr)
		for i, event := range []string{"Timer", "Drained", "HalfClosed"} {
			c := s.dial(i)
			if i == 2 {
				c.(*net.TCPConn).CloseWrite()
			}
			var pe *PanicError
			select {
			case err := <-closed:
				if !errors.As(err, &pe) || pe.Event != event || !errors.Is(err, errBoom) {
					t.Errorf("Closed got %v, want a *PanicError from %s wrapping errBoom", err, event)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("a panic in %s did not close the connection", event)
			}
		}
	})
}
