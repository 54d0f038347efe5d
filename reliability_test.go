package evio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// connLedger checks that every opened connection ends exactly once.
type connLedger struct {
	mu     sync.Mutex
	open   map[Conn]bool
	opened int
	errs   map[string]int
	bad    []string
}

func newConnLedger() *connLedger {
	return &connLedger{open: map[Conn]bool{}, errs: map[string]int{}}
}

func (l *connLedger) opened_(c Conn) {
	l.mu.Lock()
	l.open[c] = true
	l.opened++
	l.mu.Unlock()
}

func (l *connLedger) closed(c Conn, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.open[c] {
		l.bad = append(l.bad, "Closed for a connection that was not open")
	}
	delete(l.open, c)
	var errno syscall.Errno
	switch {
	case err == nil:
		l.errs["nil"]++
	case errors.As(err, &errno):
		l.errs[errno.Error()]++
	default:
		l.bad = append(l.bad, fmt.Sprintf("Closed with %v, neither nil nor a socket error", err))
	}
}

// TestResetStorm opens and resets thousands of connections while the server
// writes to them: every connection closes once, cleanly, with nil or the
// socket error, and the server keeps serving.
func TestResetStorm(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ledger := newConnLedger()
		big := bytes.Repeat([]byte("z"), 256<<10)
		events := Events{
			NumLoops: 2,
			Opened: func(c Conn) ([]byte, Options, Action) {
				ledger.opened_(c)
				return nil, Options{}, None
			},
			Data:   func(c Conn, in []byte) ([]byte, Action) { return big, None },
			Closed: func(c Conn, err error) Action { ledger.closed(c, err); return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		const workers, each = 8, 250
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(w)))
				for i := 0; i < each; i++ {
					c, err := net.Dial("tcp", s.addrs[0].String())
					if err != nil {
						t.Error(err)
						return
					}
					tc := c.(*net.TCPConn)
					switch rng.Intn(3) {
					case 0: // reset before sending anything
					case 1: // send, then reset before the server writes
						tc.Write([]byte("x"))
					case 2: // send, read a little of the reply, then reset
						tc.Write([]byte("x"))
						tc.SetReadDeadline(time.Now().Add(time.Second))
						io.ReadFull(tc, make([]byte, 1024))
					}
					tc.SetLinger(0)
					tc.Close()
				}
			}(w)
		}
		wg.Wait()
		waitFor(t, "every connection to close", func() bool {
			ledger.mu.Lock()
			defer ledger.mu.Unlock()
			return ledger.opened == workers*each && len(ledger.open) == 0
		})
		// Still serving.
		c := s.dial(0)
		c.Write([]byte("x"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, len(big))); err != nil {
			t.Fatalf("server stopped serving after the storm: %v", err)
		}
		ledger.mu.Lock()
		defer ledger.mu.Unlock()
		if len(ledger.bad) > 0 {
			t.Fatalf("%d bad closes, first: %s", len(ledger.bad), ledger.bad[0])
		}
		t.Logf("Closed errors: %v", ledger.errs)
	})
}

// TestWriteToGonePeer: output for a peer that has reset the connection
// closes it with the write's error.
func TestWriteToGonePeer(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		opened := make(chan Conn, 1)
		closed := make(chan error, 1)
		chunk := bytes.Repeat([]byte("g"), 64<<10)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) { opened <- c; return nil, Options{}, None },
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					return chunk, None
				}
				return nil, None
			},
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0).(*net.TCPConn)
		sc := <-opened
		c.SetLinger(0)
		c.Close()
		deadline := time.After(10 * time.Second)
		for {
			sc.Wake() // keep pushing until a write fails
			select {
			case err := <-closed:
				if err != syscall.EPIPE && err != syscall.ECONNRESET {
					t.Fatalf("Closed = %#v, want syscall.EPIPE or ECONNRESET itself", err)
				}
				return
			case <-deadline:
				t.Fatal("pushing to a reset peer never failed")
			case <-time.After(time.Millisecond):
			}
		}
	})
}

// TestShutdownUnderLoad: clients keep sending while one of them asks for
// Shutdown; every byte the server returned reaches its client, and Serve
// returns nil.
func TestShutdownUnderLoad(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		type tally struct{ returned atomic.Int64 }
		var mu sync.Mutex
		tallies := map[string]*tally{} // by client address
		reply := bytes.Repeat([]byte("r"), 16<<10)
		var requests atomic.Int64
		events := Events{
			NumLoops: 2,
			Opened: func(c Conn) ([]byte, Options, Action) {
				tl := &tally{}
				mu.Lock()
				tallies[c.RemoteAddr().String()] = tl
				mu.Unlock()
				c.SetContext(tl)
				return nil, Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if bytes.Contains(in, []byte("S")) {
					return nil, Shutdown
				}
				n := bytes.Count(in, []byte("\n"))
				requests.Add(int64(n))
				// At most 64 replies (1 MiB) per event: a read that
				// found thousands of requests waiting (reading pauses
				// while output is high) would otherwise make one reply of
				// hundreds of MiB, which under the race detector took
				// longer than the test's bound to produce and write.
				if n > 64 {
					n = 64
				}
				out := bytes.Repeat(reply, n)
				c.Context().(*tally).returned.Add(int64(len(out)))
				return out, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		const clients = 16
		received := make([]int64, clients)
		locals := make([]string, clients)
		var wg sync.WaitGroup
		for i := 0; i < clients; i++ {
			c := s.dial(0)
			locals[i] = c.LocalAddr().String()
			wg.Add(2)
			go func() { // send requests until the server goes away
				defer wg.Done()
				for {
					if _, err := c.Write([]byte("req\n")); err != nil {
						return
					}
					time.Sleep(100 * time.Microsecond)
				}
			}()
			go func(i int) {
				defer wg.Done()
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				n, _ := io.Copy(io.Discard, c)
				received[i] = n
			}(i)
		}
		waitFor(t, "load", func() bool { return requests.Load() > 500 })
		s.dial(0).Write([]byte("S"))
		if err := s.Wait(); err != nil {
			t.Fatalf("Serve = %v", err)
		}
		wg.Wait()
		for i := 0; i < clients; i++ {
			mu.Lock()
			tl := tallies[locals[i]]
			mu.Unlock()
			if tl == nil {
				t.Fatalf("client %d has no server record", i)
			}
			if got, want := received[i], tl.returned.Load(); got != want {
				t.Errorf("client %d received %d bytes, the server returned %d", i, got, want)
			}
		}
	})
}

// TestUDPBurst: bursts bigger than the socket buffer from many peers, with
// datagrams up to 64 KiB: the protocol may drop some, but the server never
// stalls and answers each peer afterwards.
func TestUDPBurst(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var served atomic.Int64
		events := Events{Data: func(c Conn, in []byte) ([]byte, Action) {
			served.Add(1)
			if len(in) > 0 && in[0] == '?' {
				return []byte("!"), None
			}
			return in[:len(in)/2], None // a reply to every datagram, half its size
		}}
		s := startServer(t, events, e.addr("udp", "127.0.0.1:0"))
		const peers = 20
		var wg sync.WaitGroup
		for p := 0; p < peers; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				c, err := net.Dial("udp", s.addrs[0].String())
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				rng := rand.New(rand.NewSource(int64(p)))
				for i := 0; i < 100; i++ { // about 3 MB per peer, unpaced
					c.Write(make([]byte, 1+rng.Intn(65000)))
				}
				// The server must still answer this peer.
				buf := make([]byte, 65536)
				for attempt := 0; attempt < 50; attempt++ {
					c.Write([]byte("?"))
					c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
					for {
						n, err := c.Read(buf)
						if err != nil {
							break
						}
						if n == 1 && buf[0] == '!' {
							return
						}
					}
				}
				t.Errorf("peer %d: no answer after its burst", p)
			}(p)
		}
		wg.Wait()
		t.Logf("%d datagrams served", served.Load())
	})
}

// TestConnectStormUnderEMFILE is TestAcceptSurvivesEMFILE's storm variant:
// see emfile_test.go. Here, many clients connect at once to a server that
// is not short of descriptors: all are served.
func TestConnectStorm(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s := startServer(t, Events{NumLoops: 2, Data: func(c Conn, in []byte) ([]byte, Action) { return in, None }},
			e.addr("tcp", "127.0.0.1:0"))
		const n = 500
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", s.addrs[0].String(), 10*time.Second)
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "hello %d\n", i)
				line, err := bufio.NewReader(c).ReadString('\n')
				if err != nil || line != fmt.Sprintf("hello %d\n", i) {
					errs <- fmt.Errorf("client %d: %q %v", i, line, err)
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}
