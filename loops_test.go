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
	"unsafe"
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

// loopSettings are the multi-loop settings the balancing tests run with:
// NumLoops 4, and -1 (one per CPU).
var loopSettings = []int{4, -1}

func effectiveLoops(setting int) int {
	if setting < 0 {
		return runtime.NumCPU()
	}
	return setting
}

func TestLoadBalanceRoundRobin(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, setting := range loopSettings {
			n := effectiveLoops(setting)
			s, rec := recordBalance(t, e, setting, RoundRobin)
			for i := 0; i < 10*n; i++ {
				if _, loop := rec.open(t, s); loop != i%n {
					t.Fatalf("NumLoops %d: connection %d went to loop %d, want %d in turn", setting, i, loop, i%n)
				}
			}
			s.Stop()
		}
	})
}

func TestLoadBalanceLeastConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, setting := range loopSettings {
			n := effectiveLoops(setting)
			s, rec := recordBalance(t, e, setting, LeastConnections)
			byLoop := map[int][]net.Conn{}
			for i := 0; i < 10*n; i++ {
				c, loop := rec.open(t, s)
				byLoop[loop] = append(byLoop[loop], c)
			}
			for loop := 0; loop < n; loop++ {
				if got := len(byLoop[loop]); got != 10 {
					t.Fatalf("NumLoops %d: loop %d got %d of %d connections, want 10 each", setting, loop, got, 10*n)
				}
			}
			// Free three slots on the last loop: the next three connections go there.
			last := n - 1
			for _, c := range byLoop[last][:3] {
				c.Close()
				<-rec.closed
			}
			for i := 0; i < 3; i++ {
				if _, loop := rec.open(t, s); loop != last {
					t.Fatalf("NumLoops %d: new connection went to loop %d, want loop %d with the fewest", setting, loop, last)
				}
			}
			s.Stop()
		}
	})
}

func TestLoadBalanceRandom(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, setting := range loopSettings {
			loops := effectiveLoops(setting)
			n := 50 * loops
			s, rec := recordBalance(t, e, setting, Random)
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
					t.Fatalf("NumLoops %d: loop %d got %d of %d connections: not uniform (%v)", setting, loop, got, n, counts)
				}
			}
			inTurn := true
			for i := 1; i < n; i++ {
				if seq[i] != (seq[i-1]+1)%loops {
					inTurn = false
				}
			}
			if inTurn {
				t.Fatalf("NumLoops %d: Random assigned connections strictly in turn", setting)
			}
			s.Stop()
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
		opened := make(chan struct{}, 8)
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
				opened <- struct{}{} // orders wakers.Add before wakers.Wait
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
		for i := 0; i < 8; i++ {
			<-opened
		}
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

// TestLoopTablesSizedByOwnConnections (issue 8): a loop's connection table
// is sized by its own connections. It was indexed by descriptor, so with N
// loops each table grew to the highest descriptor of the process: N times
// the memory.
func TestLoopTablesSizedByOwnConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const loops, perLoop = 4, 100
		sizes := make(chan int, loops)
		events := Events{
			NumLoops:    loops,
			LoadBalance: RoundRobin,
			Data: func(c Conn, in []byte) ([]byte, Action) {
				sizes <- connTableSize(c) // on the loop: no race
				return nil, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		var conns []net.Conn
		for i := 0; i < loops*perLoop; i++ {
			conns = append(conns, s.dial(0))
		}
		for i := 0; i < loops; i++ { // one connection on each loop
			conns[len(conns)-1-i].Write([]byte("?"))
		}
		for i := 0; i < loops; i++ {
			if n := <-sizes; n > 2*perLoop {
				t.Fatalf("a loop with %d connections has a table of %d", perLoop, n)
			}
		}
	})
}

// TestPerLoopCountersOnOwnCacheLines (issue 8): the counters each loop
// updates for the server-wide output total and for the balancer sit on
// cache lines of their own, so that loops on different cores do not
// invalidate each other's lines on every update.
func TestPerLoopCountersOnOwnCacheLines(t *testing.T) {
	budget := newOutputBudget(0, 2)
	balance := newBalancer(LeastConnections, 2)
	for name, stride := range map[string]uintptr{
		"outputBudget": uintptr(unsafe.Pointer(&budget.loops[1].queued)) - uintptr(unsafe.Pointer(&budget.loops[0].queued)),
		"balancer":     uintptr(unsafe.Pointer(&balance.load[1].n)) - uintptr(unsafe.Pointer(&balance.load[0].n)),
	} {
		if stride < 64 {
			t.Errorf("%s: per-loop counters %d bytes apart, want a cache line (64) at least", name, stride)
		}
	}
}
