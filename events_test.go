package evio

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestServingShutdown: Shutdown from Serving returns nil at once, fires no
// other event and leaves nothing listening.
func TestServingShutdown(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var other atomic.Int32
		var addr net.Addr
		err := Serve(Events{
			Serving: func(s Server) Action { addr = s.Addrs[0]; return Shutdown },
			Tick:    func() (time.Duration, Action) { other.Add(1); return time.Second, None },
			Opened:  func(Conn) ([]byte, Options, Action) { other.Add(1); return nil, Options{}, None },
		}, e.addr("tcp", "127.0.0.1:0"))
		if err != nil {
			t.Fatalf("Serve = %v, want nil", err)
		}
		if other.Load() != 0 {
			t.Fatal("events fired after Serving returned Shutdown")
		}
		if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
			c.Close()
			t.Fatalf("%s still accepts connections after Serve returned", addr)
		}
	})
}

// TestEventOrder: Serving first, then Tick, then for a connection Opened
// (whose out arrives first), Data and Closed, all serially.
func TestEventOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var mu sync.Mutex
		var log []string
		record := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
		var stop atomic.Bool
		done := make(chan error, 1)
		addrCh := make(chan net.Addr, 1)
		go func() {
			done <- Serve(Events{
				Serving: func(s Server) Action { record("serving"); addrCh <- s.Addrs[0]; return None },
				Tick: func() (time.Duration, Action) {
					mu.Lock()
					first := len(log) == 1
					mu.Unlock()
					if first {
						record("tick")
					}
					if stop.Load() {
						return 0, Shutdown
					}
					return 5 * time.Millisecond, None
				},
				Opened: func(c Conn) ([]byte, Options, Action) { record("opened"); return []byte("welcome\n"), Options{}, None },
				Data: func(c Conn, in []byte) ([]byte, Action) {
					record("data " + string(in))
					return in, None
				},
				Closed: func(c Conn, err error) Action { record("closed"); return None },
			}, e.addr("tcp", "127.0.0.1:0"))
		}()
		addr := <-addrCh
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hi\n")) // sent before the welcome is read
		r := bufio.NewReader(c)
		if got := readLine(t, r, c); got != "welcome" {
			t.Fatalf("first line = %q, want Opened's out first", got)
		}
		if got := readLine(t, r, c); got != "hi" {
			t.Fatalf("second line = %q, want the echo", got)
		}
		c.Close()
		waitFor(t, "Closed", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(log) > 0 && log[len(log)-1] == "closed"
		})
		stop.Store(true)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := "serving,tick,opened,data hi\n,closed"
		if got := strings.Join(log, ","); got != want {
			t.Fatalf("events fired as %q, want %q", got, want)
		}
	})
}

// TestTick: the first Tick fires right after start, the next ones delay
// after each return, and Shutdown from Tick makes Serve return nil.
func TestTick(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var times []time.Time
		start := time.Now()
		err := Serve(Events{Tick: func() (time.Duration, Action) {
			times = append(times, time.Now())
			if len(times) == 5 {
				return 0, Shutdown
			}
			return 20 * time.Millisecond, None
		}}, e.addr("tcp", "127.0.0.1:0"))
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
		if len(times) != 5 {
			t.Fatalf("Tick fired %d times, want 5", len(times))
		}
		if first := times[0].Sub(start); first > time.Second {
			t.Errorf("first Tick came %v after Serve started, want right away", first)
		}
		for i := 1; i < len(times); i++ {
			if gap := times[i].Sub(times[i-1]); gap < 20*time.Millisecond {
				t.Errorf("Tick %d came %v after the previous one, before its 20ms delay", i, gap)
			}
		}
	})
}

// TestDataInput: in is a private copy by default and aliases the loop's
// buffer with ReuseInputBuffer.
func TestDataInput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, reuse := range []bool{false, true} {
			var mu sync.Mutex
			var kept [][]byte
			var snapshot []string
			events := Events{
				Opened: func(c Conn) ([]byte, Options, Action) {
					return nil, Options{ReuseInputBuffer: reuse}, None
				},
				Data: func(c Conn, in []byte) ([]byte, Action) {
					mu.Lock()
					kept = append(kept, in)
					snapshot = append(snapshot, string(in))
					mu.Unlock()
					return []byte("k"), None // ask for the next message
				},
			}
			s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
			c := s.dial(0)
			b := make([]byte, 1)
			for _, msg := range []string{"first", "SECOND"} {
				c.Write([]byte(msg))
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadFull(c, b); err != nil {
					t.Fatal(err)
				}
			}
			s.Stop()
			if len(kept) != 2 {
				t.Fatalf("reuse=%v: %d Data events, want 2", reuse, len(kept))
			}
			aliased := &kept[0][0] == &kept[1][0]
			if reuse && !aliased {
				t.Errorf("ReuseInputBuffer: successive in slices do not share the loop's buffer")
			}
			if !reuse {
				if aliased || string(kept[0]) != snapshot[0] {
					t.Errorf("default in was overwritten by a later read: %q, want %q", kept[0], snapshot[0])
				}
			}
		}
	})
}

// TestCloseWithOut: out returned with Close is delivered, then the
// connection closes and Closed gets a nil error.
func TestCloseWithOut(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, more than a socket buffer
		closed := make(chan error, 1)
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) { return big, Close },
			Closed: func(c Conn, err error) Action {
				closed <- err
				return None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("bye"))
		got := readAllWithin(t, c, 10*time.Second)
		if !bytes.Equal(got, big) {
			t.Fatalf("received %d bytes before close, want all %d", len(got), len(big))
		}
		if err := <-closed; err != nil {
			t.Fatalf("Closed err = %v, want nil after a Close action", err)
		}
	})
}

// TestClosedErrors: Closed gets nil for the peer's EOF and a socket error
// for a reset.
func TestClosedErrors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 2)
		var seen atomic.Int32
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) { seen.Add(1); return nil, None },
			Closed: func(c Conn, err error) Action {
				closed <- err
				return None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))

		eof := s.dial(0)
		eof.Close()
		if err := <-closed; err != nil {
			t.Fatalf("Closed after the peer's EOF = %v, want nil", err)
		}

		reset := s.dial(0).(*net.TCPConn)
		reset.Write([]byte("x"))
		waitFor(t, "the data to arrive", func() bool { return seen.Load() == 1 })
		reset.SetLinger(0)
		reset.Close() // sends RST
		err := <-closed
		// evio passes the bare errno, so programs compare it with ==.
		if err != syscall.ECONNRESET {
			t.Fatalf("Closed after a reset = %#v, want syscall.ECONNRESET itself", err)
		}
	})
}

// TestDetach: out returned with Detach arrives first, then Detached gets a
// working blocking stream and Closed never fires.
func TestDetach(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var closedFired atomic.Bool
		detached := make(chan error, 1)
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				return []byte("detaching\n"), Detach
			},
			Detached: func(c Conn, rwc io.ReadWriteCloser) Action {
				go func() {
					defer rwc.Close()
					r := bufio.NewReader(rwc)
					line, err := r.ReadString('\n')
					if err != nil {
						detached <- err
						return
					}
					_, err = rwc.Write([]byte("detached got " + line))
					detached <- err
				}()
				return None
			},
			Closed: func(c Conn, err error) Action { closedFired.Store(true); return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		r := bufio.NewReader(c)
		c.Write([]byte("go\n"))
		if got := readLine(t, r, c); got != "detaching" {
			t.Fatalf("first line = %q, want Data's out before the detach", got)
		}
		c.Write([]byte("over to you\n"))
		if got := readLine(t, r, c); got != "detached got over to you" {
			t.Fatalf("reply from the detached stream = %q", got)
		}
		if err := <-detached; err != nil {
			t.Fatalf("detached stream: %v", err)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Fatalf("after the detached side closed, read = %v, want EOF", err)
		}
		s.Stop()
		if closedFired.Load() {
			t.Fatal("Closed fired for a detached connection")
		}
	})
}

// TestDetachWithoutHandler closes the connection like evio does.
func TestDetachWithoutHandler(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 1)
		events := Events{
			Data:   func(c Conn, in []byte) ([]byte, Action) { return []byte("bye"), Detach },
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("x"))
		if got := readAllWithin(t, c, 5*time.Second); string(got) != "bye" {
			t.Fatalf("got %q, want %q then EOF", got, "bye")
		}
		if err := <-closed; err != nil {
			t.Fatalf("Closed = %v", err)
		}
	})
}

// TestPreWrite: PreWrite runs after Data and before its reply leaves.
func TestPreWrite(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		release := make(chan struct{})
		var calls atomic.Int32
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) { return in, None },
			PreWrite: func() {
				if calls.Add(1) == 1 {
					<-release // hold the first batch back
				}
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("x"))
		waitFor(t, "PreWrite", func() bool { return calls.Load() == 1 })
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		b := make([]byte, 1)
		if n, _ := c.Read(b); n != 0 {
			t.Fatal("the reply left before PreWrite returned")
		}
		close(release)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(b); err != nil || b[0] != 'x' {
			t.Fatalf("reply after PreWrite = %q, %v", b, err)
		}
	})
}

// TestShutdownFromEvents: Shutdown returned from Data, Closed, Opened or
// Detached stops the server and Serve returns nil.
func TestShutdownFromEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		cases := map[string]func(*Events){
			"Data": func(ev *Events) {
				ev.Data = func(Conn, []byte) ([]byte, Action) { return nil, Shutdown }
			},
			"Opened": func(ev *Events) {
				ev.Opened = func(Conn) ([]byte, Options, Action) { return nil, Options{}, Shutdown }
			},
			"Closed": func(ev *Events) {
				ev.Data = func(Conn, []byte) ([]byte, Action) { return nil, Close }
				ev.Closed = func(Conn, error) Action { return Shutdown }
			},
			"Detached": func(ev *Events) {
				ev.Data = func(Conn, []byte) ([]byte, Action) { return nil, Detach }
				ev.Detached = func(c Conn, rwc io.ReadWriteCloser) Action { rwc.Close(); return Shutdown }
			},
		}
		for name, set := range cases {
			events := Events{Tick: func() (time.Duration, Action) { return time.Hour, None }}
			set(&events)
			s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
			c := s.dial(0)
			c.Write([]byte("x"))
			if err := s.Wait(); err != nil {
				t.Fatalf("Shutdown from %s: Serve = %v, want nil", name, err)
			}
		}
	})
}

// TestShutdownDrains: Shutdown writes what every connection has queued,
// fires Closed for each with a nil error, and returns nil.
func TestShutdownDrains(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		big := bytes.Repeat([]byte("x"), 8<<20)
		var closedCount, sends atomic.Int32
		var closedErr atomic.Value
		events := Events{
			NumLoops: 2,
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if string(in) == "stop" {
					return nil, Shutdown
				}
				sends.Add(1)
				return big, None
			},
			Closed: func(c Conn, err error) Action {
				closedCount.Add(1)
				if err != nil {
					closedErr.Store(err)
				}
				return None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		slow := make([]net.Conn, 3)
		for i := range slow {
			slow[i] = s.dial(0)
			slow[i].Write([]byte("send"))
		}
		// Let the replies queue up unread.
		waitFor(t, "all requests served", func() bool { return sends.Load() == int32(len(slow)) })
		s.dial(0).Write([]byte("stop"))
		var wg sync.WaitGroup
		for i, c := range slow {
			wg.Add(1)
			go func(i int, c net.Conn) {
				defer wg.Done()
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				got, err := io.ReadAll(c)
				if err != nil || len(got) != len(big) {
					t.Errorf("slow reader %d got %d of %d bytes before close (%v)", i, len(got), len(big), err)
				}
			}(i, c)
		}
		wg.Wait()
		if err := s.Wait(); err != nil {
			t.Fatalf("Serve = %v", err)
		}
		if n := closedCount.Load(); n != 4 {
			t.Errorf("Closed fired %d times, want 4", n)
		}
		if err := closedErr.Load(); err != nil {
			t.Errorf("Closed at shutdown got %v, want nil", err)
		}
	})
}
