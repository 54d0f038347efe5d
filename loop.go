package evio

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/internal/buffer"
	"github.com/evio-go/evio/internal/inbox"
	"github.com/evio-go/evio/internal/socket"
)

// loop is one event loop, the same on every engine: a goroutine that owns a
// set of connections, runs every event of theirs, and keeps one timer heap
// and one inbox. The engine beneath it (tp) only waits for readiness and
// moves bytes. Everything not marked otherwise is owned by the loop's
// goroutine.
type loop struct {
	index  int     // immutable
	server *server // immutable
	tp     transport

	// conns holds the loop's registered connections by slot (open or
	// lingering); nil entries are free slots, listed in freeSlots. A
	// connection's slot and generation are its poller token, so the table
	// is sized by the loop's own connections, not by descriptor numbers.
	conns     []*conn
	freeSlots []int32
	gens      uint32       // registrations so far: the next connection's generation
	open      int          // connections whose Closed or Detached has not fired
	lingering atomic.Int64 // connections lingering after Closed; tests read it

	readBuf []byte // every read of the loop lands here first
	plain   []byte // TLS plaintext for Data, once the loop has a TLS connection

	// handshakes counts the TLS handshakes the loop has running, at most
	// server.handshakesPerLoop; handshakeQueue holds the connections
	// waiting for one of them to end (tls.go).
	handshakes     int
	handshakeQueue []*conn
	// yieldToHandshakes makes the loop yield its P once before it polls,
	// so that the handshake goroutines it started or fed run at once.
	yieldToHandshakes bool
	pool              buffer.Pool
	dirty             []*conn // connections with output or an action to settle this iteration
	// queued counts the bytes in the output queues of the loop's
	// connections; published is its value as last stored in the server's
	// outputBudget.
	queued    int
	published int
	held      []*conn // connections not read from because of the server-wide total (flagHeld)
	replies   datagramReplies
	dgram     datagramIO // recvmmsg and sendmmsg (datagram_mmsg_linux.go)

	timers timerHeap
	// now is the loop clock as read when the last wait returned, if any
	// timer was scheduled (woke): what due timers are compared with and
	// connections record as their last activity (stampActivity).
	now   int64
	tick  loopTimer // Tick, on loop 0
	drain loopTimer // the end of the shutdown drain

	// inbox takes tasks from other goroutines and from the loop itself;
	// spare is the slice the last Take returned, reused by the next one.
	inbox inbox.Inbox[task]
	spare []task

	// writeEach makes the loop write a connection's output right after its
	// event instead of once per iteration: without PreWrite there is no
	// batch to wait for, and writing while the socket is still hot in the
	// CPU cache costs the kernel less: with the batch, redis-benchmark -P 1
	// on 50 connections measured 10-30% more system time per request than
	// gnet (five paired runs, when this was introduced); without it, the
	// same as gnet.
	writeEach bool
	stopping  bool // draining after a shutdown

	// counters are what the loop counts (counters.go); countersPublished
	// is their value as last stored in countersShare, which any goroutine
	// reads.
	counters          loopCounters
	countersPublished loopCounters
	countersShare     loopCountersShare
	countersSeq       atomic.Uint64 // publications so far
	exited            atomic.Bool   // run has returned; its counters are final

	iterations atomic.Uint64 // loop iterations so far, read by tests
	goroutine  atomic.Uint64 // the loop's goroutine, for Handle.Stop from an event
}

func newLoop(s *server, index int) *loop {
	l := &loop{
		index:     index,
		server:    s,
		readBuf:   make([]byte, readBufferSize),
		writeEach: s.events.PreWrite == nil,
	}
	l.tick.fire = (*loop).runTick
	l.drain.fire = func(l *loop, now int64) { l.closeAll() }
	return l
}

// taskKind says what an inbox task asks of the loop.
type taskKind uint8

const (
	// taskOpen: c was accepted for this loop by another goroutine (a
	// listener's home loop, or the portable engine's accept goroutine)
	// and is not registered yet: register it and fire Opened.
	taskOpen taskKind = iota
	// taskWake: c.Wake was called.
	taskWake
	// taskIO: readiness or a datagram reported by an engine's goroutine;
	// the transport handles it.
	taskIO
	// taskWrite: Conn.Write, Close or Abort was called; the outbox holds
	// what they asked for.
	taskWrite
	// taskBudget: the server-wide output total fell below its limit;
	// connections held back for it may be read again.
	taskBudget
	// taskStop: the server is shutting down.
	taskStop
	// taskAbandon: Handle.Stop's context ended: close what is still open.
	taskAbandon
	// taskCounters: Handle.Counters asks for the loop's counters.
	taskCounters
	// taskDial: Handle.Dial made c for this loop: start connecting it.
	taskDial
	// taskTLS: c's handshake goroutine wrote, took input or ended; or,
	// after the handshake, input waits that no readiness will report.
	taskTLS
)

// task is one entry of a loop's inbox.
type task struct {
	kind   taskKind
	ready  ready // taskIO: what is ready on c
	c      *conn
	origin *origin     // taskIO datagrams: the UDP socket
	peer   socket.Addr // taskIO datagrams: the sender
	data   []byte      // taskIO datagrams: the payload, the callee's to keep
}

// post queues t for the loop and wakes it if its inbox was empty. Any
// goroutine; never blocks.
func (l *loop) post(t task) {
	if l.inbox.Push(t) {
		l.tp.wake()
	}
}

// run is the loop's goroutine. Each iteration reads top to bottom, like
// Redis's aeProcessEvents: wait (until the earliest timer at most), serve
// what is ready, take the inbox, run due timers, then write what the
// iteration queued, with one PreWrite before the batch. Without a PreWrite
// event each connection's output is written as soon as its event returns
// (see writeEach).
func (l *loop) run() {
	l.iterate()
	// Not deferred: when an event panics under Events.NoRecover, the panic
	// must crash the program before Serve can return (a deferred Done
	// would let Serve's goroutine run while the panic unwinds).
	l.server.loopsDone.Done()
}

func (l *loop) iterate() {
	defer l.exited.Store(true)
	defer l.tp.exit()
	defer l.publishCounters() // the final counts, for Counters after the end
	l.goroutine.Store(goroutineID())
	if l.index == 0 && l.server.events.Tick != nil {
		l.runTick(monotime())
	}
	for {
		l.iterations.Add(1)
		if l.yieldToHandshakes {
			l.yieldToHandshakes = false
			runtime.Gosched()
		}
		if err := l.tp.poll(l.timeout()); err != nil {
			l.server.shutdown(fmt.Errorf("evio: loop %d: %w", l.index, err))
			l.closeAll()
			return
		}
		l.takeInbox()
		l.runTimers()
		l.flush()
		l.publishQueued()
		if l.stopping && l.open == 0 && l.lingering.Load() == 0 {
			l.timers.cancel(&l.drain)
			return
		}
	}
}

func (l *loop) takeInbox() {
	tasks := l.inbox.Take(l.spare)
	for i := range tasks {
		t := &tasks[i]
		switch t.kind {
		case taskOpen:
			l.openConn(t.c)
		case taskWake:
			l.counters.wakeups++
			l.serveWake(t.c)
		case taskWrite:
			l.counters.wakeups++
			l.serveWrite(t.c)
		case taskIO:
			l.tp.handle(t)
		case taskBudget:
			l.releaseHeld()
		case taskStop:
			l.beginStop()
		case taskAbandon:
			l.closeAll()
		case taskCounters:
			l.publishCounters()
		case taskDial:
			l.serveDial(t.c)
		case taskTLS:
			l.serveTLS(t.c)
		}
	}
	l.spare = tasks
}

// woke is what the transport calls when its wait returns, before it hands
// the loop anything: one clock reading then serves the iteration's due
// timers and the activity its connections record for their idle timeouts.
func (l *loop) woke() {
	if l.timers.len() > 0 {
		l.now = monotime()
	}
}

// maxPollWait caps one wait, so that a timer years away does not overflow
// a poller's timeout argument; waking once an hour costs nothing.
const maxPollWait = time.Hour

// timeout is how long poll may block: until the earliest timer, or
// forever. An idle loop makes no system calls.
func (l *loop) timeout() time.Duration {
	when, ok := l.timers.next()
	if !ok {
		return -1
	}
	d := when - monotime()
	switch {
	case d <= 0:
		return 0
	case d > int64(maxPollWait):
		return maxPollWait
	}
	return time.Duration(d)
}

// runTimers runs the timers that are due. A timer that schedules itself at
// once again (Tick with no delay) runs on the next iteration, after the
// connections have had their turn.
func (l *loop) runTimers() {
	if l.timers.len() == 0 {
		return // most iterations of a busy server: no clock reading
	}
	now := l.now
	for n := l.timers.len(); n > 0; n-- {
		t, arg, ok := l.timers.popDue(now)
		if !ok {
			return
		}
		t.onTimer(l, now, arg)
	}
}

// runTick fires Tick and schedules the next one.
func (l *loop) runTick(now int64) {
	if l.stopping {
		return
	}
	delay, action, err := l.server.handlers.tick()
	if err != nil || action == Shutdown {
		l.server.shutdown(err)
	}
	if delay < 0 {
		delay = 0
	}
	l.timers.schedule(&l.tick, monotime()+int64(delay), 0)
}

// beginStop starts draining: no more accepting, reading or events but
// Closed; connections with queued output keep writing it until the drain
// deadline.
func (l *loop) beginStop() {
	if l.stopping {
		return
	}
	l.stopping = true
	l.timers.cancel(&l.tick)
	l.tp.stopAccepting()
	if !l.server.drainUntilStopped.Load() {
		l.timers.schedule(&l.drain, monotime()+int64(drainTimeout), 0)
	}
	for _, c := range l.conns {
		if c == nil || c.ended() {
			continue
		}
		if c.flags&(flagConnecting|flagHandshaking) != 0 {
			l.closeConn(c, errDialStopping)
			continue
		}
		if c.out.Len() == 0 && c.action != pendingDetach && l.tp.drained(c) {
			// What was written may still be in flight: see closeGracefully.
			l.closeGracefully(c, nil)
			continue
		}
		if c.action == pendingNone {
			c.action = pendingClose
		}
		l.markDirty(c)
	}
}

// closeAll closes whatever is still open or lingering: at the drain
// deadline, or when the loop fails.
func (l *loop) closeAll() {
	for _, c := range l.conns {
		switch {
		case c == nil:
		case c.flags&flagLingering != 0:
			l.endLinger(c)
		case c.flags&(flagConnecting|flagHandshaking) != 0:
			l.closeConn(c, errDialStopping)
		case !c.ended() && l.hasQueued(c):
			// Output the drain could not write: reset, so that the peer
			// does not take what it got for the whole stream.
			l.abortConn(c, nil)
		default:
			l.closeConn(c, nil)
		}
	}
}

// register gives c a slot and a generation: its poller token.
func (l *loop) register(c *conn) {
	if n := len(l.freeSlots); n > 0 {
		c.slot = l.freeSlots[n-1]
		l.freeSlots = l.freeSlots[:n-1]
		l.conns[c.slot] = c
	} else {
		if len(l.conns) == cap(l.conns) {
			// Double, as append does only for small slices: each outgrown
			// table is garbage until the collector runs, and with 1.25x
			// steps the garbage of reaching 10,000 connections measured
			// 10 bytes of RSS per connection more than doubling.
			grown := make([]*conn, len(l.conns), 2*cap(l.conns)+64)
			copy(grown, l.conns)
			l.conns = grown
		}
		c.slot = int32(len(l.conns))
		l.conns = append(l.conns, c)
	}
	l.gens++
	if l.gens == 0 {
		l.gens = 1 // 0 marks listeners
	}
	c.gen = l.gens
}

// unregister frees c's slot and cancels its timer. Events still in flight
// for c carry its old generation and are dropped by connAt.
func (l *loop) unregister(c *conn) {
	if c.slot < 0 {
		return
	}
	l.conns[c.slot] = nil
	l.freeSlots = append(l.freeSlots, c.slot)
	c.slot = -1
	l.timers.cancel(c)
}

// connAt is the connection a poller token names, or nil if that
// registration is gone: its slot is free or holds a newer connection.
func (l *loop) connAt(slot int32, gen uint32) *conn {
	if uint(slot) >= uint(len(l.conns)) {
		return nil
	}
	if c := l.conns[slot]; c != nil && c.gen == gen {
		return c
	}
	return nil
}

// publishQueued stores the loop's queued total for the server-wide bound,
// at the end of every iteration in which it changed, wherever the change
// came from (a write, a close, a cut). Most iterations drain everything and
// skip the atomic store.
func (l *loop) publishQueued() {
	if l.queued == l.published {
		return
	}
	l.published = l.queued
	l.server.budget.publish(l.server, l.index, l.queued)
}
