package evio

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pushState is what other goroutines queue for a connection between Wakes.
type pushState struct {
	mu      sync.Mutex
	pending []byte
}

// TestWakeLosesNothing pushes numbered messages from other goroutines with
// Wake while the connection also has echo output pending and its client
// reads slowly: every message must arrive once and in order (evio replaces
// pending output on Wake and loses it).
func TestWakeLosesNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const pushes, echoes = 2000, 200
		opened := make(chan Conn, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				c.SetContext(&pushState{})
				opened <- c
				return nil, Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				st := c.Context().(*pushState)
				if in != nil {
					return in, None // echo lines "E<n>\n"
				}
				st.mu.Lock()
				out := st.pending
				st.pending = nil
				st.mu.Unlock()
				return out, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		sc := <-opened
		st := sc.Context().(*pushState)

		// Pushers: four goroutines share one sequence, so order is set by
		// the order messages enter the pending buffer.
		var seq int
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					st.mu.Lock()
					if seq == pushes {
						st.mu.Unlock()
						return
					}
					st.pending = append(st.pending, fmt.Sprintf("P%d %s\n", seq, strings.Repeat("p", 500))...)
					seq++
					st.mu.Unlock()
					sc.Wake()
				}
			}()
		}
		go func() {
			for i := 0; i < echoes; i++ {
				fmt.Fprintf(c, "E%d\n", i)
			}
		}()
		// Read slowly at first so that output piles up on the server.
		time.Sleep(100 * time.Millisecond)
		r := bufio.NewReader(c)
		nextP, nextE := 0, 0
		for nextP < pushes || nextE < echoes {
			line := readLine(t, r, c)
			fields := strings.Fields(line)
			n, err := strconv.Atoi(fields[0][1:])
			if err != nil {
				t.Fatalf("garbled line %q", line)
			}
			switch fields[0][0] {
			case 'P':
				if n != nextP {
					t.Fatalf("push %d arrived when %d was due: output lost or reordered", n, nextP)
				}
				nextP++
			case 'E':
				if n != nextE {
					t.Fatalf("echo %d arrived when %d was due", n, nextE)
				}
				nextE++
			default:
				t.Fatalf("garbled line %q", line)
			}
		}
		wg.Wait()
	})
}

// TestWakeKeepsPendingClose: a Wake after Data returned Close neither
// cancels the close nor loses any output.
func TestWakeKeepsPendingClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var mu sync.Mutex
		var wokenOut bytes.Buffer
		var closedCount atomic.Int32
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					mu.Lock()
					wokenOut.WriteString("woken\n")
					mu.Unlock()
					return []byte("woken\n"), None
				}
				c.Wake()
				go c.Wake()
				return []byte("closing\n"), Close
			},
			Closed: func(c Conn, err error) Action { closedCount.Add(1); return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("x"))
		got := readAllWithin(t, c, 5*time.Second)
		mu.Lock()
		want := "closing\n" + wokenOut.String()
		mu.Unlock()
		if string(got) != want {
			t.Fatalf("received %q before close, want %q", got, want)
		}
		waitFor(t, "Closed", func() bool { return closedCount.Load() == 1 })
		time.Sleep(20 * time.Millisecond)
		if n := closedCount.Load(); n != 1 {
			t.Fatalf("Closed fired %d times", n)
		}
	})
}

// TestWakeCoalescesAndNeverBlocks: Wakes made while the loop is busy return
// at once and turn into a single Data(c, nil).
func TestWakeCoalescesAndNeverBlocks(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		release := make(chan struct{})
		inData := make(chan Conn, 1)
		var wakes atomic.Int32
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					wakes.Add(1)
					return []byte("w"), None
				}
				inData <- c
				<-release // keep the loop busy
				return nil, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("x"))
		sc := <-inData
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10000; i++ {
					sc.Wake()
				}
			}()
		}
		finished := make(chan struct{})
		go func() { wg.Wait(); close(finished) }()
		select {
		case <-finished:
		case <-time.After(10 * time.Second):
			t.Fatal("Wake blocked while the loop was busy")
		}
		close(release)
		b := make([]byte, 1)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(b); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if n := wakes.Load(); n != 1 {
			t.Fatalf("80000 Wakes during one busy callback fired Data(c, nil) %d times, want 1", n)
		}
	})
}

// TestWakeAfterClose: a closed connection's Wake is ignored, also after
// Serve has returned.
func TestWakeAfterClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan Conn, 1)
		var nilData atomic.Int32
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					nilData.Add(1)
				}
				return nil, None
			},
			Closed: func(c Conn, err error) Action { closed <- c; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		s.dial(0).Close()
		sc := <-closed
		sc.Wake()
		time.Sleep(50 * time.Millisecond)
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		sc.Wake() // after Serve returned: must not panic or block
		if n := nilData.Load(); n != 0 {
			t.Fatalf("Data(c, nil) fired %d times for a closed connection", n)
		}
	})
}

// TestWakeFromCallback: Wake inside an event is followed by Data(c, nil).
func TestWakeFromCallback(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				c.Wake()
				return []byte("opened "), Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					return []byte("woken\n"), None
				}
				return nil, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		if got := readLine(t, bufio.NewReader(c), c); got != "opened woken" {
			t.Fatalf("got %q, want %q", got, "opened woken")
		}
	})
}
