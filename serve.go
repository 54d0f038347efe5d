package evio

import (
	"errors"
	"math/rand"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// serve parses the addresses and runs the server on one engine: the
// portable one when any address asks for it (or the system has no
// epoll/kqueue), the poll engine otherwise.
func serve(events Events, addrs []string, h *Handle) error {
	if len(addrs) == 0 {
		return errors.New("evio: Serve needs at least one address")
	}
	specs := make([]listenSpec, len(addrs))
	portable := !pollEngineAvailable
	netAsked := false
	for i, raw := range addrs {
		spec, err := parseAddr(raw)
		if err != nil {
			return err
		}
		if err := spec.resolveTLS(events.TLSConfig); err != nil {
			return err
		}
		specs[i] = spec
		portable = portable || spec.portable
		netAsked = netAsked || spec.portable
	}
	if netAsked && askURing(specs) {
		return errors.New("evio: the -net and -uring scheme suffixes ask for two engines; one server runs one")
	}
	numLoops := events.NumLoops
	switch {
	case numLoops < 0:
		numLoops = runtime.NumCPU()
	case numLoops == 0:
		numLoops = 1
	}
	if portable {
		return serveStd(events, specs, numLoops, h)
	}
	return servePoll(events, specs, numLoops, h)
}

// server is one Serve call, on either engine: its loops and what they
// share. The engine creates the listeners and gives each loop its
// transport.
type server struct {
	events   Events   // immutable
	handlers handlers // calls events
	loops    []*loop  // immutable once the loops run
	addrs    []net.Addr
	// engine names the engine the loops run on (Server.Engine);
	// engineFallback says why it is not io_uring, which was asked for.
	engine         string
	engineFallback error
	balance        *balancer
	budget         *outputBudget

	// handle is the Handle of a server started with Start; nil for Serve.
	handle *Handle
	// drainUntilStopped makes the shutdown drain wait for Handle.Stop's
	// context instead of drainTimeout.
	drainUntilStopped atomic.Bool

	// onStop, set by the engine, runs once when the shutdown begins, on
	// the goroutine that asked for it.
	onStop    func()
	stopOnce  sync.Once
	loopsDone sync.WaitGroup // one count per running loop

	errMu sync.Mutex
	err   error // the first fatal error; guarded by errMu

	// handshakesPerLoop is each loop's share of Events.MaxTLSHandshakes;
	// handshakeGoroutines counts the handshakes running, which Serve
	// waits for (every one is told to stop as its connection ends).
	handshakesPerLoop   int
	handshakeGoroutines sync.WaitGroup

	// datagramMax is the largest datagram delivered; larger ones are
	// dropped (defaultDatagramMax, or a test's datagramMaxHook).
	datagramMax int
}

func newServer(events Events, numLoops int, h *Handle) *server {
	s := &server{
		handle:   h,
		events:   events,
		handlers: handlers{events: events},
		balance:  newBalancer(events.LoadBalance, numLoops),
		budget:   newOutputBudget(events.MaxTotalOutput, numLoops),

		datagramMax: defaultDatagramMax,
	}
	if m := datagramMaxHook.Load(); m > 0 && m < defaultDatagramMax {
		s.datagramMax = int(m)
	}
	for i := 0; i < numLoops; i++ {
		s.loops = append(s.loops, newLoop(s, i))
	}
	switch max := events.MaxTLSHandshakes; {
	case max < 0:
		s.handshakesPerLoop = int(^uint(0) >> 1)
	case max == 0:
		s.handshakesPerLoop = (defaultMaxTLSHandshakes + numLoops - 1) / numLoops
	default:
		s.handshakesPerLoop = (max + numLoops - 1) / numLoops
	}
	return s
}

// handshakeTimeout bounds a TLS handshake (Events.TLSHandshakeTimeout).
func (s *server) handshakeTimeout() time.Duration {
	if d := s.events.TLSHandshakeTimeout; d > 0 {
		return d
	}
	return defaultTLSHandshakeTimeout
}

// run fires Serving, then runs the loops until every one has stopped, and
// returns the first fatal error. start, when not nil, runs once the loops
// are running (the portable engine starts accepting there).
func (s *server) run(start func()) error {
	action, err := s.handlers.serving(s.description())
	if err != nil || action == Shutdown {
		return err
	}
	s.loopsDone.Add(len(s.loops))
	for _, l := range s.loops {
		go l.run()
	}
	if start != nil {
		start()
	}
	if s.handle != nil {
		s.handle.started(s)
	}
	s.loopsDone.Wait()
	s.handshakeGoroutines.Wait()
	s.shutdown(nil) // a loop that failed stops the rest of the server too
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// description is what Serving reports (for Serve and Start alike).
func (s *server) description() Server {
	return Server{Addrs: s.addrs, NumLoops: len(s.loops), Engine: s.engine, EngineFallback: s.engineFallback}
}

// shutdown stops the server: every loop drains and exits. err, when not
// nil, is what Serve returns. Safe from any goroutine, any number of times.
func (s *server) shutdown(err error) {
	if err != nil {
		s.errMu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.errMu.Unlock()
	}
	s.stopOnce.Do(func() {
		if s.onStop != nil {
			s.onStop()
		}
		for _, l := range s.loops {
			l.post(task{kind: taskStop})
		}
	})
}

// discardInbox closes the connections handed to loops that had stopped
// already. Called once the loops, and every goroutine that posts to them,
// are done.
func (s *server) discardInbox() {
	for _, l := range s.loops {
		for _, t := range l.inbox.Take(nil) {
			if t.kind == taskOpen {
				l.tp.close(t.c, false)
			}
		}
	}
}

// balancer assigns new connections to loops by Events.LoadBalance. It is
// shared by the goroutines that accept; every method is safe for concurrent
// use.
type balancer struct {
	method LoadBalance
	next   atomic.Uint64 // RoundRobin's turn
	load   []loopLoad    // by loop
}

// loopLoad counts the connections assigned to a loop and not yet closed,
// alone on its cache line: each loop updates its own as connections close.
type loopLoad struct {
	n atomic.Int64
	_ [cacheLine - 8]byte
}

func newBalancer(method LoadBalance, loops int) *balancer {
	return &balancer{method: method, load: make([]loopLoad, loops)}
}

// pick chooses the loop for a new connection and counts it there.
func (b *balancer) pick() int {
	n := len(b.load)
	i := 0
	if n > 1 {
		switch b.method {
		case RoundRobin:
			i = int((b.next.Add(1) - 1) % uint64(n))
		case LeastConnections:
			least := b.load[0].n.Load()
			for j := 1; j < n; j++ {
				if l := b.load[j].n.Load(); l < least {
					i, least = j, l
				}
			}
		default: // Random, and any value evio would not know either
			i = rand.Intn(n)
		}
	}
	b.load[i].n.Add(1)
	return i
}

// place is the loop for a connection accepted on a socket whose home is
// loop home, counted there: home itself for a socket of a per-loop group
// (own; see listenSpec.perLoop), the balancer's pick otherwise.
func (b *balancer) place(home int, own bool) int {
	if own {
		b.assign(home)
		return home
	}
	return b.pick()
}

// assign counts a connection placed on loop i by its caller.
func (b *balancer) assign(i int) { b.load[i].n.Add(1) }

// release uncounts a connection of loop i that has closed or detached.
func (b *balancer) release(i int) { b.load[i].n.Add(-1) }
