package evio

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// pauseState is a paused connection's record, kept by its events on its
// loop.
type pauseState struct {
	paused   bool
	received int
}

// sendPatterned writes n patterned bytes to c on a goroutine and reports
// the result.
func sendPatterned(c net.Conn, n int) <-chan error {
	sent := make(chan error, 1)
	go func() {
		c.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := c.Write(patterned(0, n))
		sent <- err
	}()
	return sent
}

// TestPauseReadHoldsInput: a paused connection gets no Data with input
// while its peer's data waits, and every byte, in order, once resumed:
// paused in Opened and resumed by a timer, or paused in Data and resumed
// by a Wake.
func TestPauseReadHoldsInput(t *testing.T) {
	const total = 1 << 20
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, how := range []string{"Opened/AfterFunc", "Data/Wake"} {
			t.Run(how, func(t *testing.T) {
				var whilePaused, badOffset atomic.Int64
				badOffset.Store(-1)
				conns := make(chan Conn, 1)
				pausedCh := make(chan struct{}, 1)
				done := make(chan struct{})
				events := Events{
					Opened: func(c Conn) ([]byte, Options, Action) {
						st := &pauseState{}
						c.SetContext(st)
						conns <- c
						if how == "Opened/AfterFunc" {
							c.PauseRead()
							st.paused = true
							c.AfterFunc(400*time.Millisecond, func() ([]byte, Action) {
								st.paused = false
								c.ResumeRead()
								return nil, None
							})
						}
						return nil, Options{}, None
					},
					Data: func(c Conn, in []byte) ([]byte, Action) {
						st := c.Context().(*pauseState)
						if in == nil { // the Wake
							st.paused = false
							c.ResumeRead()
							return nil, None
						}
						if st.paused {
							whilePaused.Add(int64(len(in)))
						}
						if off := checkPatterned(st.received, in); off >= 0 && badOffset.Load() < 0 {
							badOffset.Store(int64(off))
						}
						st.received += len(in)
						if how == "Data/Wake" && st.received == len(in) {
							c.PauseRead() // after the first input
							st.paused = true
							pausedCh <- struct{}{}
						}
						if st.received == total {
							close(done)
						}
						return nil, None
					},
				}
				s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
				c := s.dial(0)
				sc := <-conns
				sent := sendPatterned(c, total)
				if how == "Data/Wake" {
					<-pausedCh
					time.Sleep(400 * time.Millisecond)
					sc.Wake()
				}
				select {
				case <-done:
				case <-time.After(20 * time.Second):
					t.Fatal("not every byte arrived after ResumeRead")
				}
				if n := whilePaused.Load(); n > 0 {
					t.Errorf("Data got %d bytes while reading was paused", n)
				}
				if off := badOffset.Load(); off >= 0 {
					t.Errorf("input out of order at offset %d", off)
				}
				if err := <-sent; err != nil {
					t.Errorf("the peer's write: %v", err)
				}
			})
		}
	})
}

// TestPausedResetDoesNotSpin: a paused connection whose peer resets it
// does not make its loop spin on readiness it will not serve; once
// resumed, it sees the reset and closes.
func TestPausedResetDoesNotSpin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		opened := make(chan Conn, 1)
		closed := make(chan error, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				c.PauseRead()
				opened <- c
				return nil, Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					c.ResumeRead()
				}
				return nil, None
			},
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0).(*net.TCPConn)
		sc := <-opened
		c.Write(bytes.Repeat([]byte("z"), 1000))
		time.Sleep(50 * time.Millisecond)
		c.SetLinger(0)
		c.Close() // RST
		time.Sleep(100 * time.Millisecond)
		before := loopIterations(sc)
		time.Sleep(300 * time.Millisecond)
		spins := loopIterations(sc) - before
		// The test server's Tick wakes the loop every 5 ms: about 60 in
		// 300 ms. A spinning loop makes tens of thousands.
		if spins > 1000 {
			t.Errorf("the loop ran %d iterations in 300 ms for a paused connection its peer reset", spins)
		}
		select {
		case err := <-closed:
			t.Logf("closed while paused: %v", err) // allowed, if noticed without reading
			return
		default:
		}
		sc.Wake()
		select {
		case err := <-closed:
			if err == nil {
				t.Errorf("Closed after a reset = nil, want the socket's error")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the reset connection did not close once resumed")
		}
	})
}

// waterState is what TestWaterMarks' server keeps per connection, on its
// loop.
type waterState struct {
	above   bool // an event left the queue at or above the high mark; Drained has not fired since
	replies int
	drained int
}

// TestWaterMarks: with OutputHighWater and OutputLowWater, a connection
// whose queue reached the high mark is not read from (a probe the peer
// sends meanwhile waits) until the queue falls below the low mark (64 KiB;
// 1, empty; 0, the high mark); then Drained fires, once per crossing, and
// its output follows what was queued. The peer reads slowly through a
// small receive buffer.
func TestWaterMarks(t *testing.T) {
	const high, rounds = 256 << 10, 6
	reply := 1 << 20
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, low := range []int{64 << 10, 1, 0} {
			t.Run(fmt.Sprintf("low=%d", low), func(t *testing.T) {
				effectiveLow := low
				if low == 0 {
					effectiveLow = high // 0 means the high mark
				}
				var readWhileAbove, drainedAboveLow, drainedCount atomic.Int32
				events := Events{
					Opened: func(c Conn) ([]byte, Options, Action) {
						setSendBuffer(c, 64<<10)
						c.SetContext(&waterState{})
						return nil, Options{OutputHighWater: high, OutputLowWater: low}, None
					},
					Data: func(c Conn, in []byte) ([]byte, Action) {
						st := c.Context().(*waterState)
						if st.above {
							readWhileAbove.Add(1)
						}
						var out []byte
						for _, b := range in {
							if b == 'r' {
								st.replies++
								out = append(out, bytes.Repeat([]byte{byte('a' + st.replies%26)}, reply)...)
							}
						}
						if c.QueuedOutput()+len(out) >= high {
							st.above = true
						}
						return out, None
					},
					Drained: func(c Conn) ([]byte, Action) {
						st := c.Context().(*waterState)
						if c.QueuedOutput() >= effectiveLow {
							drainedAboveLow.Add(1)
						}
						st.above = false
						st.drained++
						drainedCount.Add(1)
						return []byte(fmt.Sprintf("drained %d\n", st.drained)), None
					},
				}
				s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
				d := net.Dialer{Timeout: 5 * time.Second, Control: func(network, address string, rc syscall.RawConn) error {
					return rc.Control(func(fd uintptr) { setRecvBuffer(fd, 16<<10) })
				}}
				c, err := d.Dial("tcp", s.addrs[0].String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				r := bufio.NewReaderSize(c, 16<<10)
				buf := make([]byte, 32<<10)
				for k := 1; k <= rounds; k++ {
					c.Write([]byte("r"))
					time.Sleep(20 * time.Millisecond)
					c.Write([]byte("p")) // a probe, sent while the queue is above the high mark
					time.Sleep(20 * time.Millisecond)
					want := byte('a' + k%26)
					c.SetReadDeadline(time.Now().Add(20 * time.Second))
					for got := 0; got < reply; {
						n, err := r.Read(buf[:min(len(buf), reply-got)])
						if err != nil {
							t.Fatalf("round %d: reading the reply: %v after %d bytes", k, err, got)
						}
						if i := bytes.IndexFunc(buf[:n], func(r rune) bool { return r != rune(want) }); i >= 0 {
							t.Fatalf("round %d: byte %d of the reply is %q, want %q", k, got+i, buf[i], want)
						}
						got += n
						time.Sleep(200 * time.Microsecond) // a slow reader
					}
					if line := readLine(t, r, c); line != fmt.Sprintf("drained %d", k) {
						t.Fatalf("round %d: after the reply came %q, want Drained's %q", k, line, fmt.Sprintf("drained %d", k))
					}
				}
				time.Sleep(100 * time.Millisecond)
				if n := drainedCount.Load(); n != rounds {
					t.Errorf("Drained fired %d times for %d crossings", n, rounds)
				}
				if n := readWhileAbove.Load(); n > 0 {
					t.Errorf("Data fired with input %d times between a crossing of the high mark and Drained", n)
				}
				if n := drainedAboveLow.Load(); n > 0 {
					t.Errorf("Drained fired %d times with the queue at or above the low mark", n)
				}
			})
		}
	})
}

// min is the builtin of Go 1.21, which the module's go 1.20 does not have.
func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// TestReadDeadlineWhilePaused: a read deadline closes a paused connection
// too, though its peer's input waits unread.
func TestReadDeadlineWhilePaused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const d = 200 * time.Millisecond
		set := make(chan time.Time, 1)
		closed := make(chan closedAt, 1)
		var got atomic.Int64
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				c.PauseRead()
				t0 := time.Now()
				c.SetReadDeadline(t0.Add(d))
				set <- t0
				return nil, Options{}, None
			},
			Data:   func(c Conn, in []byte) ([]byte, Action) { got.Add(int64(len(in))); return nil, None },
			Closed: func(c Conn, err error) Action { closed <- closedAt{err, time.Now()}; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("waiting\n"))
		t0 := <-set
		res := awaitClosed(t, closed, 10*time.Second)
		within(t, "ErrReadDeadline while paused", res.at.Sub(t0), d, d+timingSlack)
		checkTimeoutErr(t, res.err, ErrReadDeadline)
		if n := got.Load(); n > 0 {
			t.Errorf("Data got %d bytes while paused", n)
		}
	})
}
