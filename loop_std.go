package evio

import (
	"net"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/internal/queue"
)

// stdLoop is one event loop of the portable engine: a goroutine that runs
// every callback of its connections, fed by an inbox that the read, write
// and accept goroutines push to. Fields are owned by the loop's goroutine
// unless marked otherwise.
type stdLoop struct {
	index  int
	server *stdServer

	inbox  queue.Queue[stdEvent] // any goroutine pushes
	signal chan struct{}         // capacity 1: the inbox went from empty to not empty
	spare  []stdEvent

	conns map[*stdConn]struct{}
	dirty []*stdConn // connections with output or an action to settle
	// queued counts the bytes queued on this loop's connections: the loop
	// adds, writers subtract.
	queued atomic.Int64

	stopping  bool
	tickTimer *time.Timer
	stopTimer *time.Timer
}

// stdEventKind says what happened.
type stdEventKind uint8

const (
	evOpen         stdEventKind = iota // nc accepted on listener
	evData                             // c's reader read data; ack when done with it
	evReadEnd                          // c's reader stopped with err (io.EOF at end of stream)
	evWriteEnd                         // c's writer drained its queue (err nil) or failed
	evWake                             // c.Wake was called
	evDatagram                         // a datagram arrived on listener from addr; ack when done
	evTick                             // Tick is due (loop 0)
	evStop                             // the server is shutting down
	evStopDeadline                     // draining has taken too long
)

// stdEvent is one entry of a loop's inbox.
type stdEvent struct {
	kind     stdEventKind
	c        *stdConn
	data     []byte
	err      error
	nc       net.Conn
	listener *stdListener
	addr     net.Addr
	ack      chan struct{}
}

func newStdLoop(s *stdServer, index int) *stdLoop {
	return &stdLoop{
		index:  index,
		server: s,
		signal: make(chan struct{}, 1),
		conns:  make(map[*stdConn]struct{}),
	}
}

// push queues an event for the loop. Safe from any goroutine; never blocks.
func (l *stdLoop) push(ev stdEvent) {
	if l.inbox.Push(ev) {
		select {
		case l.signal <- struct{}{}:
		default:
		}
	}
}

func (l *stdLoop) run() {
	defer l.server.loopsWG.Done()
	if l.index == 0 && l.server.events.Tick != nil {
		l.tick()
	}
	for {
		<-l.signal
		events := l.inbox.Take(l.spare)
		for i := range events {
			l.handle(&events[i])
		}
		l.spare = events
		l.flush()
		if l.stopping && len(l.conns) == 0 {
			l.stopTimers()
			return
		}
	}
}

func (l *stdLoop) handle(ev *stdEvent) {
	switch ev.kind {
	case evOpen:
		l.openConn(ev.nc, ev.listener)
	case evData:
		l.serveData(ev.c, ev.data)
	case evReadEnd:
		l.readEnded(ev.c, ev.err)
	case evWriteEnd:
		if ev.err != nil {
			l.closeConn(ev.c, ev.err)
		} else {
			l.settle(ev.c)
		}
	case evWake:
		l.serveWake(ev.c)
	case evDatagram:
		l.serveDatagram(ev)
	case evTick:
		if !l.stopping {
			l.tick()
		}
	case evStop:
		l.beginStop()
	case evStopDeadline:
		for c := range l.conns {
			l.closeConn(c, nil)
		}
	}
}

func (l *stdLoop) tick() {
	delay, action, err := l.server.handlers.tick()
	if err != nil || action == Shutdown {
		l.server.shutdown(err)
		return
	}
	if delay < 0 {
		delay = 0
	}
	l.tickTimer = time.AfterFunc(delay, func() { l.push(stdEvent{kind: evTick}) })
}

func (l *stdLoop) stopTimers() {
	if l.tickTimer != nil {
		l.tickTimer.Stop()
	}
	if l.stopTimer != nil {
		l.stopTimer.Stop()
	}
}

// beginStop starts draining: no more reads or events but Closed;
// connections with queued output keep writing it until the drain deadline.
func (l *stdLoop) beginStop() {
	if l.stopping {
		return
	}
	l.stopping = true
	if l.tickTimer != nil {
		l.tickTimer.Stop()
	}
	l.stopTimer = time.AfterFunc(drainTimeout, func() { l.push(stdEvent{kind: evStopDeadline}) })
	for c := range l.conns {
		if c.action == None {
			c.action = Close
		}
		l.markDirty(c)
	}
}

func (l *stdLoop) markDirty(c *stdConn) {
	if !c.dirty {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

// flush hands the output queued during this pass over the inbox to the
// writers, with one PreWrite before the batch, and settles pending actions.
func (l *stdLoop) flush() {
	if len(l.dirty) == 0 {
		return
	}
	if l.server.events.PreWrite != nil {
		for _, c := range l.dirty {
			if !c.closed && len(c.out) > 0 {
				if err := l.server.handlers.preWrite(); err != nil {
					// Replies must not leave unless PreWrite has run.
					l.server.shutdown(err)
					l.dropOutput()
					return
				}
				break
			}
		}
	}
	for i, c := range l.dirty {
		l.dirty[i] = nil
		c.dirty = false
		if c.closed {
			continue
		}
		if len(c.out) > 0 {
			c.startWriting()
		}
		l.settle(c)
	}
	l.dirty = l.dirty[:0]
	l.server.budget.queued[l.index].Store(l.queued.Load())
}

// dropOutput discards the output queued this pass, after PreWrite failed.
func (l *stdLoop) dropOutput() {
	for i, c := range l.dirty {
		l.dirty[i] = nil
		c.dirty = false
		l.queued.Add(-int64(len(c.out)))
		c.out = nil
	}
	l.dirty = l.dirty[:0]
}
