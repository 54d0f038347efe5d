package evio

import (
	"bufio"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// balanceRecorder opens connections one at a time and records the loop
// each lands on.
type balanceRecorder struct {
	closed chan struct{} // one value per Closed
}

func recordBalance(t *testing.T, e engine, numLoops int, lb LoadBalance) (*testServer, *balanceRecorder) {
	rec := &balanceRecorder{closed: make(chan struct{}, 1000)}
	events := Events{
		NumLoops:    numLoops,
		LoadBalance: lb,
		Opened: func(c Conn) ([]byte, Options, Action) {
			return []byte{byte('0' + loopIndexOf(c))}, Options{}, None
		},
		Closed: func(c Conn, err error) Action {
			rec.closed <- struct{}{}
			return None
		},
	}
	s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
	return s, rec
}

// open connects once and returns the loop the connection landed on.
func (rec *balanceRecorder) open(t *testing.T, s *testServer) (net.Conn, int) {
	t.Helper()
	c := s.dial(0)
	b := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("no Opened reply: %v", err)
	}
	return c, int(b[0] - '0')
}

func TestNumLoops(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, tt := range []struct{ set, want int }{{0, 1}, {1, 1}, {4, 4}, {-1, runtime.NumCPU()}} {
			s := startServer(t, Events{NumLoops: tt.set}, e.addr("tcp", "127.0.0.1:0"))
			if s.numLoops != tt.want {
				t.Errorf("NumLoops %d: Server.NumLoops = %d, want %d", tt.set, s.numLoops, tt.want)
			}
			s.Stop()
		}
	})
}

func TestLoadBalanceRoundRobin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s, rec := recordBalance(t, e, 4, RoundRobin)
		for i := 0; i < 40; i++ {
			if _, loop := rec.open(t, s); loop != i%4 {
				t.Fatalf("connection %d went to loop %d, want %d in turn", i, loop, i%4)
			}
		}
	})
}

func TestLoadBalanceLeastConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s, rec := recordBalance(t, e, 4, LeastConnections)
		byLoop := map[int][]net.Conn{}
		for i := 0; i < 40; i++ {
			c, loop := rec.open(t, s)
			byLoop[loop] = append(byLoop[loop], c)
		}
		for loop := 0; loop < 4; loop++ {
			if n := len(byLoop[loop]); n != 10 {
				t.Fatalf("loop %d got %d of 40 connections, want 10 each", loop, n)
			}
		}
		// Free three slots on loop 2: the next three connections go there.
		for _, c := range byLoop[2][:3] {
			c.Close()
			<-rec.closed
		}
		for i := 0; i < 3; i++ {
			if _, loop := rec.open(t, s); loop != 2 {
				t.Fatalf("new connection went to loop %d, want loop 2 with the fewest", loop)
			}
		}
	})
}

func TestLoadBalanceRandom(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const n, loops = 200, 4
		s, rec := recordBalance(t, e, loops, Random)
		seq := make([]int, n)
		counts := make([]int, loops)
		for i := range seq {
			c, loop := rec.open(t, s)
			c.Close() // keep descriptors low; Random ignores load anyway
			seq[i] = loop
			counts[loop]++
		}
		for loop, got := range counts {
			// Expected 50 each; below 15 has probability far under 1e-9.
			if got < 15 {
				t.Fatalf("loop %d got %d of %d connections: not uniform (%v)", loop, got, n, counts)
			}
		}
		inTurn := true
		for i := 1; i < n; i++ {
			if seq[i] != (seq[i-1]+1)%loops {
				inTurn = false
			}
		}
		if inTurn {
			t.Fatal("Random assigned connections strictly in turn")
		}
	})
}

func TestOneLoopTakesAll(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, lb := range []LoadBalance{Random, RoundRobin, LeastConnections} {
			s, rec := recordBalance(t, e, 1, lb)
			for i := 0; i < 10; i++ {
				if _, loop := rec.open(t, s); loop != 0 {
					t.Fatalf("%v with one loop sent a connection to loop %d", lb, loop)
				}
			}
			s.Stop()
		}
	})
}

// TestCallbacksSerialPerConn: Data from reads and from Wakes of one
// connection never overlap, across several loops.
func TestCallbacksSerialPerConn(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		type state struct {
			busy atomic.Int32
			loop int
		}
		var overlaps, moved atomic.Int32
		enter := func(c Conn) func() {
			st := c.Context().(*state)
			if !st.busy.CompareAndSwap(0, 1) {
				overlaps.Add(1)
			}
			if loopIndexOf(c) != st.loop {
				moved.Add(1)
			}
			return func() { st.busy.Store(0) }
		}
		stopWaking := make(chan struct{})
		var wakers sync.WaitGroup
		events := Events{
			NumLoops:    4,
			LoadBalance: RoundRobin,
			Opened: func(c Conn) ([]byte, Options, Action) {
				c.SetContext(&state{loop: loopIndexOf(c)})
				wakers.Add(1)
				go func() {
					defer wakers.Done()
					for {
						select {
						case <-stopWaking:
							return
						default:
							c.Wake()
							runtime.Gosched()
						}
					}
				}()
				return nil, Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				defer enter(c)()
				if in == nil {
					return nil, None
				}
				return in, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		var clients sync.WaitGroup
		for i := 0; i < 8; i++ {
			c := s.dial(0)
			clients.Add(1)
			go func() {
				defer clients.Done()
				r := bufio.NewReader(c)
				for j := 0; j < 200; j++ {
					c.Write([]byte("ping\n"))
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					if _, err := r.ReadString('\n'); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		clients.Wait()
		close(stopWaking)
		wakers.Wait()
		if n := overlaps.Load(); n != 0 {
			t.Fatalf("callbacks of one connection overlapped %d times", n)
		}
		if n := moved.Load(); n != 0 {
			t.Fatalf("callbacks of one connection ran on another loop %d times", n)
		}
	})
}
