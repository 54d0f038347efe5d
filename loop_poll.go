//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/internal/buffer"
	"github.com/evio-go/evio/internal/poll"
	"github.com/evio-go/evio/internal/queue"
	"github.com/evio-go/evio/internal/socket"
)

// loop is one event loop of the poll engine. Everything not marked
// otherwise is owned by the loop's goroutine.
type loop struct {
	index     int
	server    *pollServer
	poller    *poll.Poller
	listeners []*listener // those whose home is this loop

	conns     []*conn // connections by descriptor, open or lingering
	open      int     // connections not yet closed or detached
	lingering []lingerEntry
	readBuf   []byte // every read of the loop lands here first
	pool      buffer.Pool
	dirty     []*conn // connections with output or an action to settle this iteration
	queued    int     // bytes queued on this loop's connections
	published int     // queued as last stored in the server's outputBudget

	// inbox takes connections handed over by an accepting loop and
	// connections whose Wake was called; any goroutine pushes.
	inbox queue.Queue[inboxItem]
	spare []inboxItem
	// stopRequested is set by any goroutine that shuts the server down.
	stopRequested atomic.Bool

	// writeEach makes the loop write a connection's output right after its
	// event instead of once per iteration: without PreWrite there is no
	// batch to wait for, and writing while the socket is still hot in the
	// CPU cache costs the kernel less: with the batch, redis-benchmark -P 1
	// on 50 connections measured 10-30% more system time per request than
	// gnet (five paired runs); without it, the same as gnet.
	writeEach bool

	stopping     bool      // draining after a shutdown
	stopDeadline time.Time // when draining gives up
	tickAt       time.Time // next Tick (loop 0 only); zero when none
}

// lingerEntry is a closed connection waiting for its peer to finish.
type lingerEntry struct {
	c     *conn
	until time.Time
}

// inboxItem is either a woken connection or an accepted descriptor.
type inboxItem struct {
	woken    *conn
	fd       int
	peer     socket.Addr
	listener *listener
}

func newLoop(s *pollServer, index int) (*loop, error) {
	p, err := poll.Open()
	if err != nil {
		return nil, err
	}
	return &loop{
		index:     index,
		server:    s,
		poller:    p,
		readBuf:   make([]byte, readBufferSize),
		writeEach: s.events.PreWrite == nil,
	}, nil
}

// handOff gives an accepted descriptor to this loop. Safe from any goroutine.
func (l *loop) handOff(item inboxItem) {
	if l.inbox.Push(item) {
		l.poller.Wake()
	}
}

// run is the loop's goroutine. Each iteration reads top to bottom: wait
// (for the nearest timer at most), serve ready descriptors, take the inbox,
// run timers, then write everything the iteration queued with one PreWrite
// before the batch. Without a PreWrite event, each connection's output is
// written as soon as its event returns (see writeEach).
func (l *loop) run() {
	defer l.server.done.Done()
	if l.index == 0 && l.server.events.Tick != nil {
		l.tick()
	}
	for {
		n, err := l.poller.Wait(l.timeout())
		if err != nil {
			l.server.shutdown(fmt.Errorf("evio: loop %d: %w", l.index, err))
			l.closeAll()
			return
		}
		if !l.stopping && l.stopRequested.Load() {
			l.beginStop()
		}
		for i := 0; i < n; i++ {
			fd, r := l.poller.Event(i)
			l.dispatch(fd, r)
			if l.writeEach {
				l.flush()
			}
		}
		l.takeInbox()
		l.runTimers()
		l.flush()
		if l.stopping && ((l.open == 0 && len(l.lingering) == 0) || !time.Now().Before(l.stopDeadline)) {
			l.closeAll()
			return
		}
	}
}

func (l *loop) dispatch(fd int, r poll.Ready) {
	if fd < len(l.conns) {
		if c := l.conns[fd]; c != nil {
			l.serveConn(c, r)
			return
		}
	}
	for _, ln := range l.listeners {
		if ln.fd != fd || ln.paused {
			continue
		}
		if ln.spec.datagram() {
			l.readDatagrams(ln)
		} else {
			l.accept(ln)
		}
		return
	}
}

func (l *loop) takeInbox() {
	items := l.inbox.Take(l.spare)
	for _, item := range items {
		if item.woken != nil {
			l.serveWake(item.woken)
		} else {
			l.openConn(item.fd, item.peer, item.listener)
		}
	}
	l.spare = items
}

// timeout is how long Wait may block: until the nearest timer, or forever.
func (l *loop) timeout() time.Duration {
	var next time.Time
	earliest := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if len(l.lingering) > 0 {
		// Lingering connections are checked again soon: most settle as
		// soon as the peer acknowledges the last output.
		earliest(time.Now().Add(lingerRecheck))
	}
	if l.stopping {
		earliest(l.stopDeadline)
	} else {
		if !l.tickAt.IsZero() {
			earliest(l.tickAt)
		}
		for _, ln := range l.listeners {
			if ln.paused {
				earliest(ln.retryAt)
			}
		}
	}
	if next.IsZero() {
		return -1
	}
	if d := time.Until(next); d > 0 {
		return d
	}
	return 0
}

func (l *loop) runTimers() {
	if len(l.lingering) > 0 {
		l.expireLingering()
	}
	if l.stopping || (l.tickAt.IsZero() && !l.anyPaused()) {
		return
	}
	now := time.Now()
	if !l.tickAt.IsZero() && !now.Before(l.tickAt) {
		l.tick()
	}
	for _, ln := range l.listeners {
		if ln.paused && !now.Before(ln.retryAt) {
			l.resumeAccept(ln)
		}
	}
}

// expireLingering closes lingering connections that have settled or whose
// time is up, and drops the entries of those that ended on their own.
func (l *loop) expireLingering() {
	now := time.Now()
	kept := l.lingering[:0]
	for _, e := range l.lingering {
		if e.c.lingering && (!now.Before(e.until) || !socket.Unsettled(e.c.fd)) {
			l.endLinger(e.c)
		}
		if e.c.lingering {
			kept = append(kept, e)
		}
	}
	for i := len(kept); i < len(l.lingering); i++ {
		l.lingering[i] = lingerEntry{}
	}
	l.lingering = kept
}

func (l *loop) anyPaused() bool {
	for _, ln := range l.listeners {
		if ln.paused {
			return true
		}
	}
	return false
}

func (l *loop) tick() {
	delay, action, err := l.server.handlers.tick()
	if err != nil || action == Shutdown {
		l.server.shutdown(err)
	}
	if delay < 0 {
		delay = 0
	}
	l.tickAt = time.Now().Add(delay)
}

// beginStop starts draining: no more accepting, reading or events but
// Closed; connections with queued output keep writing it until the drain
// deadline.
func (l *loop) beginStop() {
	l.stopping = true
	l.stopDeadline = time.Now().Add(drainTimeout)
	l.tickAt = time.Time{}
	for _, ln := range l.listeners {
		if !ln.paused {
			l.poller.Delete(ln.fd, poll.Readable)
			ln.paused = true
		}
	}
	for _, c := range l.conns {
		if c == nil || c.closed {
			continue
		}
		if c.out.Len() == 0 && c.action != Detach {
			// What was written may still be in flight: see closeGracefully.
			l.closeGracefully(c)
			continue
		}
		if c.action == None {
			c.action = Close
		}
		l.markDirty(c)
	}
}

// closeAll closes whatever is still open or lingering when the loop exits.
func (l *loop) closeAll() {
	for _, c := range l.conns {
		switch {
		case c == nil:
		case c.lingering:
			l.endLinger(c)
		default:
			l.closeConn(c, nil)
		}
	}
	l.lingering = nil
}

func (l *loop) markDirty(c *conn) {
	if !c.dirty {
		c.dirty = true
		l.dirty = append(l.dirty, c)
	}
}

// flush writes the output queued during this iteration: PreWrite once, then
// one write per connection. A connection whose output does not fit in the
// socket is watched for writability; one whose output is done and that has
// an action pending is closed or detached.
func (l *loop) flush() {
	if len(l.dirty) == 0 {
		return
	}
	if l.server.events.PreWrite != nil {
		for _, c := range l.dirty {
			if !c.closed && c.out.Len() > 0 {
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
		if c.out.Len() > 0 && !l.write(c) {
			continue
		}
		l.settle(c)
	}
	l.dirty = l.dirty[:0]
	if l.queued != l.published {
		// Most flushes drain everything: skip the atomic store then.
		l.published = l.queued
		l.server.budget.queued[l.index].Store(int64(l.queued))
	}
}

// dropOutput discards the output queued this iteration, after PreWrite
// failed.
func (l *loop) dropOutput() {
	for i, c := range l.dirty {
		l.dirty[i] = nil
		c.dirty = false
		l.queued -= c.out.Len()
		l.pool.Reset(&c.out)
	}
	l.dirty = l.dirty[:0]
}
