package evio

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/evio-go/evio/internal/socket"
)

// servedBy records, for each socket that accepted or received something
// (a conn's origin), the loops that served it.
type servedBy struct {
	mu    sync.Mutex
	loops map[*origin]map[int]int
}

func (s *servedBy) record(c Conn) {
	cc := c.(*conn)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.loops == nil {
		s.loops = map[*origin]map[int]int{}
	}
	if s.loops[cc.origin] == nil {
		s.loops[cc.origin] = map[int]int{}
	}
	s.loops[cc.origin][cc.loop.index]++
}

// check fails t unless there were sockets sockets, each served by one loop
// only, and every one of numLoops loops served.
func (s *servedBy) check(t *testing.T, sockets, numLoops int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.loops) != sockets {
		t.Errorf("%d listening sockets took connections or datagrams, want %d: %v", len(s.loops), sockets, s.loops)
	}
	served := map[int]bool{}
	for _, byLoop := range s.loops {
		if sockets > 1 && len(byLoop) != 1 {
			t.Errorf("the connections of one socket of a per-loop group went to loops %v, want its own loop only", byLoop)
		}
		for i := range byLoop {
			served[i] = true
		}
	}
	if len(served) != numLoops {
		t.Errorf("loops %v served, want all %d", served, numLoops)
	}
}

// TestReusePortListenerPerLoop: with reuseport and several loops, each loop
// gets a socket of its own on the port, where the kernel spreads
// connections over such sockets (Linux): each loop serves the connections
// its socket accepted, with no hand-off, and every loop serves. Elsewhere,
// and without reuseport, one socket accepts and the balancer spreads.
func TestReusePortListenerPerLoop(t *testing.T) {
	const numLoops, conns = 4, 64
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, reuse := range []bool{true, false} {
			var rec servedBy
			events := Events{
				NumLoops:    numLoops,
				LoadBalance: RoundRobin,
				Opened: func(c Conn) ([]byte, Options, Action) {
					rec.record(c)
					return []byte{'0' + byte(loopIndexOf(c))}, Options{}, None
				},
			}
			s := startServer(t, events, e.addr("tcp", fmt.Sprintf("127.0.0.1:0?reuseport=%v", reuse)))
			if len(s.addrs) != 1 {
				t.Fatalf("Server.Addrs = %v, want one address however many sockets listen", s.addrs)
			}
			for i := 0; i < conns; i++ {
				c := s.dial(0)
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
					t.Fatalf("connection %d: no reply from Opened: %v", i, err)
				}
				c.Close()
			}
			s.Stop()
			sockets := 1
			if reuse && socket.ReusePortBalances {
				sockets = numLoops
			}
			rec.check(t, sockets, numLoops)
		}
	})
}

// TestReusePortUDPPerLoop: a UDP address with reuseport gets a socket per
// loop too; every datagram is answered from the server's address, by the
// loop whose socket received it.
func TestReusePortUDPPerLoop(t *testing.T) {
	const numLoops, peers = 4, 64
	forEachEngine(t, func(t *testing.T, e engine) {
		var rec servedBy
		events := Events{
			NumLoops: numLoops,
			Data: func(c Conn, in []byte) ([]byte, Action) {
				rec.record(c)
				return append([]byte{'0' + byte(loopIndexOf(c))}, in...), None
			},
		}
		s := startServer(t, events, e.addr("udp", "127.0.0.1:0?reuseport=true"))
		for i := 0; i < peers; i++ {
			// A connected UDP socket takes datagrams from the server's
			// address only: a reply proves where it came from.
			c := s.dial(0)
			msg := fmt.Sprintf("peer %d", i)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			if err != nil || string(buf[1:n]) != msg {
				t.Fatalf("peer %d: reply %q, %v; want the loop's index and %q", i, buf[:n], err, msg)
			}
			c.Close()
		}
		s.Stop()
		sockets := 1
		if socket.ReusePortBalances {
			sockets = numLoops
		}
		rec.check(t, sockets, numLoops)
	})
}

// TestReusePortShutdownLosesNothing: at shutdown every socket of a
// per-loop group is closed, and no connection is left behind. Clients
// that keep connecting while the server stops each get their answer or
// an error at once (refused, reset, or an end of stream), never a
// connection that hangs in the queue of a socket nobody accepts from any
// more; every connection opened is closed; and once the server has
// stopped, the port refuses connections.
func TestReusePortShutdownLosesNothing(t *testing.T) {
	const numLoops, clients = 4, 8
	forEachEngine(t, func(t *testing.T, e engine) {
		var opened, closed atomic.Int64
		events := echoEvents()
		events.NumLoops = numLoops
		events.Opened = func(Conn) ([]byte, Options, Action) { opened.Add(1); return nil, Options{}, None }
		events.Closed = func(Conn, error) Action { closed.Add(1); return None }
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0?reuseport=true"))
		addr := s.addrs[0].String()

		var answered, refused atomic.Int64
		stop := make(chan struct{})
		errs := make(chan error, clients)
		var wg sync.WaitGroup
		for i := 0; i < clients; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					switch err := askOnce(addr, fmt.Sprintf("client %d request %d\n", i, n)); {
					case err == nil:
						answered.Add(1)
					case isTimeout(err):
						errs <- fmt.Errorf("client %d: a connection hung: %w", i, err)
						return
					case errors.Is(err, errWrongEcho):
						errs <- fmt.Errorf("client %d: %w", i, err)
						return
					default:
						refused.Add(1) // refused or reset as the server stops
					}
				}
			}(i)
		}
		waitFor(t, "answers before the stop", func() bool { return answered.Load() >= 200 })
		if err := s.Stop(); err != nil {
			t.Fatalf("Serve: %v", err)
		}
		// Clients go on against the stopped server for a moment: each
		// attempt must fail at once.
		time.Sleep(50 * time.Millisecond)
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if o, c := opened.Load(), closed.Load(); o != c {
			t.Errorf("Opened fired %d times and Closed %d", o, c)
		}
		for i := 0; i < 4*numLoops; i++ {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				t.Fatalf("dial %d after the server stopped connected: a socket of the group is still listening", i)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("dial %d after the server stopped: %v, want connection refused", i, err)
			}
		}
		t.Logf("%d answered, %d refused or reset around the stop", answered.Load(), refused.Load())
	})
}

// askOnce connects, sends line and reads it back, every step bounded by a
// 5 s deadline.
func askOnce(addr, line string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, line); err != nil {
		return err
	}
	buf := make([]byte, len(line))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != line {
		return fmt.Errorf("%w: %q, want %q", errWrongEcho, buf, line)
	}
	return nil
}

var errWrongEcho = errors.New("wrong echo")
