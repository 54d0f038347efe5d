package evio

import (
	"errors"
	"os"
	"sync/atomic"
	"time"
)

// Counters is a snapshot of a server's counters, summed over its loops
// (Handle.Counters). Each loop counts in plain fields as it works, which
// costs a request an add or two; it copies them where other goroutines
// can read them only when asked (taskCounters), so a busy loop pays
// nothing for counters nobody reads. The fields are each exact as their
// loop published them, not taken at one instant together.
type Counters struct {
	Open     int64  // connections open now (Opened fired, Closed or Detached not yet)
	Accepted uint64 // connections accepted and opened since the start
	Dialed   uint64 // outbound connections started with Handle.Dial (those that failed are counted as closed by error too)
	Closed   uint64 // Closed events fired; the four below say why, the rest were closed by the server (Close, Abort, shutdown)
	// ClosedByPeer counts connections closed after the peer's end of
	// stream.
	ClosedByPeer uint64
	// ClosedByError counts connections closed by a socket error or a
	// panic in their events.
	ClosedByError uint64
	// ClosedOutputLimit counts connections cut at their output bound
	// (ErrOutputLimit).
	ClosedOutputLimit uint64
	// ClosedTimeout counts connections closed by an idle timeout or a
	// deadline.
	ClosedTimeout uint64
	Detached      uint64 // Detached events fired
	BytesIn       uint64 // bytes read from connections
	BytesOut      uint64 // bytes written to connections (portable engine: handed to its writers)
	Reads         uint64 // reads of connections that returned data (poll engine: system calls)
	Writes        uint64 // writes to connections (poll engine: system calls)
	QueuedOutput  int64  // bytes queued for connections and not yet written
	Wakeups       uint64 // Wake and Write tasks the loops served
	Iterations    uint64 // loop iterations
	Timers        int64  // timers scheduled now: deadlines, AfterFunc, Tick, lingering closes
	// TLSHandshakes counts TLS handshakes that succeeded (accepted and
	// dialed connections); TLSHandshakeFailures those that failed, timed
	// out or were cut by the peer, the server's stop or a close. An
	// accepted connection whose handshake fails ends without events, so
	// this is where it shows (it counts in Accepted and Open until then).
	TLSHandshakes        uint64
	TLSHandshakeFailures uint64
}

// loopCounters is what a loop counts, in plain fields owned by its
// goroutine; published copies them into loopCountersShare.
type loopCounters struct {
	accepted, dialed, closed, byPeer, byError, outputLimit, timeout, detached uint64
	bytesIn, bytesOut, reads, writes, wakeups                                 uint64
	tlsHandshakes, tlsFailures                                                uint64
}

// loopCountersShare is a loop's published counters, read by any
// goroutine, alone on its cache lines.
type loopCountersShare struct {
	accepted, dialed, closed, byPeer, byError, outputLimit, timeout, detached atomic.Uint64
	bytesIn, bytesOut, reads, writes, wakeups                                 atomic.Uint64
	tlsHandshakes, tlsFailures                                                atomic.Uint64
	open, queued, timers                                                      atomic.Int64
	_                                                                         [cacheLine]byte
}

// publishCounters stores what changed since the last publication, then
// counts the publication, for Handle.Counters to see.
func (l *loop) publishCounters() {
	defer l.countersSeq.Add(1)
	c, p, s := &l.counters, &l.countersPublished, &l.countersShare
	store := func(v uint64, last *uint64, to *atomic.Uint64) {
		if v != *last {
			*last = v
			to.Store(v)
		}
	}
	store(c.accepted, &p.accepted, &s.accepted)
	store(c.dialed, &p.dialed, &s.dialed)
	store(c.closed, &p.closed, &s.closed)
	store(c.byPeer, &p.byPeer, &s.byPeer)
	store(c.byError, &p.byError, &s.byError)
	store(c.outputLimit, &p.outputLimit, &s.outputLimit)
	store(c.timeout, &p.timeout, &s.timeout)
	store(c.detached, &p.detached, &s.detached)
	store(c.bytesIn, &p.bytesIn, &s.bytesIn)
	store(c.bytesOut, &p.bytesOut, &s.bytesOut)
	store(c.reads, &p.reads, &s.reads)
	store(c.writes, &p.writes, &s.writes)
	store(c.wakeups, &p.wakeups, &s.wakeups)
	store(c.tlsHandshakes, &p.tlsHandshakes, &s.tlsHandshakes)
	store(c.tlsFailures, &p.tlsFailures, &s.tlsFailures)
	s.open.Store(int64(l.open))
	s.queued.Store(int64(l.queued))
	s.timers.Store(int64(l.timers.len()))
}

// countClosed records why a connection's Closed fires.
func (l *loop) countClosed(c *conn, err error) {
	l.counters.closed++
	switch {
	case err == nil:
		if c.flags&flagEOF != 0 && c.flags&flagWriteClosed == 0 {
			l.counters.byPeer++
		}
	case errors.Is(err, ErrOutputLimit):
		l.counters.outputLimit++
	case errors.Is(err, os.ErrDeadlineExceeded):
		l.counters.timeout++
	default: // a socket error, a panic, output after CloseWrite
		l.counters.byError++
	}
}

// counters sums the loops' published counters.
func (s *server) counters() Counters {
	var n Counters
	for _, l := range s.loops {
		p := &l.countersShare
		n.Open += p.open.Load()
		n.Accepted += p.accepted.Load()
		n.Dialed += p.dialed.Load()
		n.Closed += p.closed.Load()
		n.ClosedByPeer += p.byPeer.Load()
		n.ClosedByError += p.byError.Load()
		n.ClosedOutputLimit += p.outputLimit.Load()
		n.ClosedTimeout += p.timeout.Load()
		n.Detached += p.detached.Load()
		n.BytesIn += p.bytesIn.Load()
		n.BytesOut += p.bytesOut.Load()
		n.Reads += p.reads.Load()
		n.Writes += p.writes.Load()
		n.QueuedOutput += p.queued.Load()
		n.Wakeups += p.wakeups.Load()
		n.Iterations += l.iterations.Load()
		n.Timers += p.timers.Load()
		n.TLSHandshakes += p.tlsHandshakes.Load()
		n.TLSHandshakeFailures += p.tlsFailures.Load()
	}
	return n
}

// Counters returns a snapshot of the server's counters; any goroutine, at
// any time, also after the server ended (the last values). It asks each
// loop to publish its counts and waits for them, at most 100 ms for a loop
// busy in a long event; called from an event of this server it publishes
// its own loop's at once and waits at most 10 ms for the others (an INFO
// command, say). It allocates nothing.
func (h *Handle) Counters() Counters {
	s := h.s
	if s == nil {
		return Counters{}
	}
	select {
	case <-h.done:
		return s.counters() // the loops published once more as they ended
	default:
	}
	patience := 100 * time.Millisecond
	self := s.currentLoop()
	if self != nil {
		self.publishCounters()
		patience = 10 * time.Millisecond
	}
	s.refreshCounters(patience, self)
	return s.counters()
}

// refreshCounters asks every loop but self to publish its counters and
// waits until each has, or patience has passed.
func (s *server) refreshCounters(patience time.Duration, self *loop) {
	var targets [64]uint64
	for i, l := range s.loops {
		if l == self {
			continue
		}
		if i < len(targets) {
			targets[i] = l.countersSeq.Load() + 1
		}
		l.post(task{kind: taskCounters})
	}
	deadline := time.Now().Add(patience)
	for i, l := range s.loops {
		if i >= len(targets) {
			break // beyond 64 loops: the counts as last published
		}
		if l == self {
			continue
		}
		for l.countersSeq.Load() < targets[i] && !l.exited.Load() {
			if time.Now().After(deadline) {
				return
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
}
