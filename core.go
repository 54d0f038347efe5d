package evio

import (
	"fmt"
	"time"

	"github.com/evio-go/evio/internal/buffer"
)

// The connection core: what happens to a connection between its accept
// and its close, the same on every engine. The transport reports readiness
// (serve) and moves bytes; everything decided here is policy: when to read,
// the output bounds, Data and Wake, actions, the batch with PreWrite,
// graceful and lingering close, detaching, and the accounting of open
// connections and queued bytes.

// drainTimeout bounds how long Shutdown keeps writing queued output before
// it closes the connections anyway.
const drainTimeout = 5 * time.Second

// readBufferSize is the size of each loop's read buffer, and so the most one
// Data event delivers.
const readBufferSize = 64 << 10

// A closed connection that is unsettled lingers half-closed, its input
// discarded (see closeGracefully), for at most lingerTimeout. It is checked
// again lingerFirstRecheck after the close, then at doubling intervals: on
// a real network most settle within a round trip, and the back-off keeps a
// connection that does not from costing system calls on every iteration.
const (
	lingerTimeout      = 2 * time.Second
	lingerFirstRecheck = time.Millisecond
)

// openConn registers a connection the loop was given and fires Opened.
func (l *loop) openConn(c *conn) {
	if l.stopping {
		l.tp.close(c, false) // never opened, so no Opened or Closed: the peer sees a close
		l.server.balance.release(l.index)
		return
	}
	l.register(c)
	if err := l.tp.register(c, wantRead); err != nil {
		l.unregister(c)
		l.tp.close(c, false)
		l.server.balance.release(l.index)
		return
	}
	c.armed = wantRead
	l.open++
	l.counters.accepted++
	if c.origin.tls != nil {
		l.beginHandshake(c, c.origin.tls, false, 0) // Opened fires once it is done
		return
	}
	l.opened(c)
}

// opened fires Opened for c, registered and counted as open (accepted, or
// dialed and connected), and applies what it returned.
func (l *loop) opened(c *conn) {
	out, opts, action, err := l.server.handlers.opened(c)
	if err != nil {
		l.closeConn(c, err)
		return
	}
	if opts.TCPKeepAlive > 0 && !c.origin.unix {
		// A keepalive that cannot be set leaves a working connection; evio
		// ignores the error too.
		l.tp.setKeepAlive(c, opts.TCPKeepAlive)
	}
	if opts.ReuseInputBuffer {
		c.flags |= flagReuseInput
	}
	if opts.MaxOutput > 0 && opts.MaxOutput != defaultMaxOutput {
		c.extend().maxOutput = opts.MaxOutput
	}
	if opts.OutputHighWater > 0 || opts.OutputLowWater > 0 {
		x := c.extend()
		x.highWater, x.lowWater = opts.OutputHighWater, opts.OutputLowWater
	}
	if opts.IdleTimeout > 0 {
		l.setIdleTimeout(c, opts.IdleTimeout)
	}
	if ob := c.outbox.Load(); ob != nil {
		ob.publish(c) // written to from another goroutine during Opened
	}
	l.react(c, out, action)
	if c.flags&flagDirty == 0 && !c.ended() {
		// Nothing to write: settle now, which also stops reading if the
		// server-wide bound says so.
		l.settle(c)
	}
}

// serve handles readiness the transport reported for c.
func (l *loop) serve(c *conn, r ready) {
	if c.flags&flagLingering != 0 {
		l.discardInput(c)
		return
	}
	if c.ended() {
		return
	}
	if c.flags&flagConnecting != 0 {
		l.connectReady(c)
		return
	}
	if r&(readyWrite|readyHangup|readyError) != 0 && (c.out.Len() > 0 || c.action != pendingNone || c.closeWritePending()) {
		// flush writes it, and a write on a broken socket reports why.
		l.markDirty(c)
	}
	if c.armed&wantRead != 0 && r&(readyRead|readyHangup|readyError) != 0 {
		if l.wantsRead(c) {
			l.read(c)
		} else {
			// Input that will not be taken: stop watching for it, or a
			// level-triggered poller reports it again at once, forever.
			// settle watches again when that changes.
			l.settle(c)
		}
	}
	if l.writeEach {
		l.flush()
	}
}

func (l *loop) read(c *conn) {
	n, err := l.tp.read(c, l.readBuf)
	switch {
	case n > 0:
		l.counters.reads++
		l.counters.bytesIn += uint64(n)
		l.stampActivity(c)
		if s := c.tlsSession(); s != nil {
			l.tlsInput(c, s, l.readBuf[:n])
			return
		}
		in := l.readBuf[:n]
		if c.flags&flagReuseInput == 0 {
			in = append([]byte(nil), in...)
		}
		l.fireData(c, in)
	case err == nil:
		if s := c.tlsSession(); s != nil {
			l.tlsEnd(c, s)
			return
		}
		l.peerFinished(c)
	case err == errAgain:
	default:
		l.closeConn(c, err)
	}
}

// fireData fires Data for c (in == nil after a Wake) and queues what it
// returns.
func (l *loop) fireData(c *conn, in []byte) {
	out, action, err := l.server.handlers.data(c, in)
	if err != nil {
		l.closeConn(c, err)
		return
	}
	l.react(c, out, action)
}

// react queues what an event of c returned: out first, then the action,
// which waits until out is written.
func (l *loop) react(c *conn, out []byte, action Action) {
	if c.ended() {
		return
	}
	if ob := c.outbox.Load(); ob != nil && !l.takeOutbox(c, ob) {
		return // written from inside the event: first; or aborted
	}
	if action == Abort {
		l.abortConn(c, nil)
		return
	}
	if len(out) > 0 {
		if err := l.refuseOutput(c); err != nil {
			l.abortConn(c, err)
			return
		}
		l.queue(c, out)
		if c.ended() {
			return
		}
	}
	switch action {
	case CloseWrite:
		c.flags |= flagCloseWrite
		l.markDirty(c)
	case Close, Detach:
		if c.action == pendingNone {
			c.action = pendingClose
			if action == Detach {
				c.action = pendingDetach
			}
		}
		l.markDirty(c)
	case Shutdown:
		l.server.shutdown(nil)
	}
}

// queue appends out to c's output queue: as it is, or as TLS records.
func (l *loop) queue(c *conn, out []byte) {
	if s := c.tlsSession(); s != nil {
		l.encrypt(c, s, out)
	} else {
		l.appendOutput(c, out)
		l.queued += len(out)
	}
	if high, _ := c.waterMarks(); c.out.Len() >= high {
		c.flags |= flagAboveHigh
	}
	l.markDirty(c)
}

// appendOutput copies out into c's queue. Output up to pooledOutputMax
// (a read's worth, as a proxy forwards it) fills pooled chunks, which
// steady streaming reuses; larger output gets a chunk of its own size, so
// that a huge reply costs one allocation and what it holds.
func (l *loop) appendOutput(c *conn, out []byte) {
	if len(out) > pooledOutputMax {
		l.pool.Append(&c.out, out)
		return
	}
	for len(out) > 0 {
		n := len(out)
		if n > buffer.ChunkSize {
			n = buffer.ChunkSize
		}
		l.pool.Append(&c.out, out[:n])
		out = out[n:]
	}
}

// pooledOutputMax is the largest output appendOutput spreads over pooled
// chunks.
const pooledOutputMax = readBufferSize

// refuseOutput says why c may not queue more output, if it may not: its
// bound, its expired write deadline, or its shut-down sending side.
func (l *loop) refuseOutput(c *conn) error {
	if over, _ := l.overLimit(c); over {
		return ErrOutputLimit
	}
	if c.flags&flagWriteExpired != 0 {
		return ErrWriteDeadline
	}
	if c.flags&flagCloseWrite != 0 {
		return ErrWriteClosed
	}
	return nil
}

// serveWake fires Data(c, nil) for a Wake.
func (l *loop) serveWake(c *conn) {
	if c.ended() || c.action != pendingNone || l.stopping || c.flags&(flagConnecting|flagHandshaking) != 0 {
		// Closed or closing: leave asyncWoken set, so later Wakes cost
		// nothing.
		return
	}
	c.clearAsync(asyncWoken)
	if c.origin.datagram {
		l.fireDatagram(c, nil)
		return
	}
	l.fireData(c, nil)
}

// overLimit applies Options.MaxOutput and Events.MaxTotalOutput to c's
// queue: at the bound, c is not read from, and more output closes it.
// shared says that only the server-wide total holds it back.
func (l *loop) overLimit(c *conn) (over, shared bool) {
	n := c.out.Len()
	if n >= c.maxOutput() {
		return true, false
	}
	if n > sharedOutputFloor && l.server.budget.exhausted() {
		return true, true
	}
	return false, false
}

// wantsRead reports whether c should be read from now.
func (l *loop) wantsRead(c *conn) bool {
	if c.action != pendingNone || c.flags&(flagEOF|flagPaused|flagAboveHigh) != 0 || l.stopping {
		return false
	}
	if c.flags&flagHandshaking != 0 && c.ext.tls.hs.inputFull() {
		return false // the handshake goroutine has enough to chew on
	}
	over, shared := l.overLimit(c)
	if over && shared {
		l.hold(c)
	}
	return !over
}

// hold records that c is not read from because of the server-wide total,
// so that it is looked at again when the total falls (releaseHeld).
func (l *loop) hold(c *conn) {
	if c.flags&flagHeld != 0 {
		return
	}
	c.flags |= flagHeld
	l.held = append(l.held, c)
	if !l.server.budget.wait(l.index) {
		// Freed in the meantime: look again at once.
		l.post(task{kind: taskBudget})
	}
}

// releaseHeld looks again at the connections held back for the
// server-wide total, which has fallen below its limit.
func (l *loop) releaseHeld() {
	for i, c := range l.held {
		l.held[i] = nil
		c.flags &^= flagHeld
		if !c.ended() {
			l.markDirty(c) // flush settles it: reading again, or held again
		}
	}
	l.held = l.held[:0]
}

func (l *loop) markDirty(c *conn) {
	if c.flags&flagDirty == 0 {
		c.flags |= flagDirty
		l.dirty = append(l.dirty, c)
	}
}

// flush writes the output queued since the last flush: PreWrite once,
// then each dirty connection's output and the UDP replies. A connection
// whose output is not all taken is watched for writability; one whose
// output is done and that has an action pending is closed or detached.
func (l *loop) flush() {
	if len(l.dirty) == 0 && l.replies.empty() {
		return
	}
	if l.server.events.PreWrite != nil && l.hasOutput() {
		if err := l.server.handlers.preWrite(); err != nil {
			// Replies must not leave unless PreWrite has run.
			l.server.shutdown(err)
			l.dropOutput()
			return
		}
	}
	for i := 0; i < len(l.dirty); i++ {
		c := l.dirty[i]
		l.dirty[i] = nil
		c.flags &^= flagDirty
		if c.ended() || c.flags&flagConnecting != 0 {
			continue // a connecting connection settles once connected
		}
		if c.out.Len() > 0 {
			if err := l.tp.write(c); err != nil {
				l.closeConn(c, err)
				continue
			}
		}
		l.settle(c)
	}
	l.dirty = l.dirty[:0]
	if !l.replies.empty() {
		l.sendReplies()
	}
}

// hasOutput reports whether this flush writes anything.
func (l *loop) hasOutput() bool {
	if !l.replies.empty() {
		return true
	}
	for _, c := range l.dirty {
		if !c.ended() && c.out.Len() > 0 {
			return true
		}
	}
	return false
}

// dropOutput discards the output queued since the last flush, after
// PreWrite failed.
func (l *loop) dropOutput() {
	for i, c := range l.dirty {
		l.dirty[i] = nil
		c.flags &^= flagDirty
		l.queued -= c.out.Len()
		l.pool.Reset(&c.out)
	}
	l.dirty = l.dirty[:0]
	l.replies.reset()
}

// wrote is how a transport reports n bytes of c.out taken by the socket
// (or by the engine, which then counts as the socket).
func (l *loop) wrote(c *conn, n int) {
	l.pool.Consume(&c.out, n)
	l.sent(c, n)
}

// sent counts n bytes of c's output as written: taken by the socket, or
// moved off c.out by an engine that writes them later (the io_uring
// engine, whose sends complete after the loop has gone on).
func (l *loop) sent(c *conn, n int) {
	l.counters.writes++
	l.counters.bytesOut += uint64(n)
	l.queued -= n
	l.stampActivity(c)
}

// settle runs c's pending action once its output is written, or makes the
// transport watch what c needs now.
func (l *loop) settle(c *conn) {
	if c.flags&flagAboveHigh != 0 && l.fallenBelowLow(c) {
		return // Drained queued more, and settles c again
	}
	if c.out.Len() == 0 && (c.action != pendingNone || c.closeWritePending()) {
		if !l.tp.drained(c) {
			l.watch(c, wantWrite) // the transport reports writable when it has
			return
		}
		switch c.action {
		case pendingDetach:
			l.detach(c)
			return
		case pendingClose:
			l.closeGracefully(c, nil)
			return
		}
		if !l.closeWrite(c) {
			return
		}
	}
	var want interest
	if l.wantsRead(c) {
		want |= wantRead
		if s := c.tlsSession(); s != nil {
			l.tlsResume(c, s)
		}
	}
	if c.out.Len() > 0 {
		want |= wantWrite
	}
	l.watch(c, want)
	if ob := c.outbox.Load(); ob != nil {
		ob.publish(c)
	}
}

// watch makes the transport watch c for want, if it does not already.
func (l *loop) watch(c *conn, want interest) {
	if want == c.armed {
		return
	}
	if err := l.tp.arm(c, want); err != nil {
		l.closeConn(c, err)
		return
	}
	c.armed = want
}

// forget takes c out of the events' view, whether it closes, lingers or
// detaches: Closed or Detached fires next, and nothing else for it.
func (l *loop) forget(c *conn) {
	c.flags |= flagEnded
	l.stopTimers(c)
	l.open--
	l.queued -= c.out.Len()
	l.pool.Reset(&c.out)
	l.server.balance.release(l.index)
	if s := c.tlsSession(); s != nil {
		l.forgetTLS(c, s)
	}
}

// closeConn closes c at once and fires Closed with err, the cause or nil.
func (l *loop) closeConn(c *conn, err error) { l.end(c, err, false) }

// abortConn closes c at once with a reset (RST), discarding its queued
// output, and fires Closed with err: the peer must not take what it
// received for the whole stream.
func (l *loop) abortConn(c *conn, err error) { l.end(c, err, true) }

func (l *loop) end(c *conn, err error, reset bool) {
	if c.ended() {
		return
	}
	l.sealOutbox(c, false)
	l.forget(c)
	l.unregister(c)
	// Closed fires before the socket is released, so that the
	// connection's addresses can still be asked for in it.
	l.fireClosed(c, err)
	l.tp.close(c, reset)
}

func (l *loop) fireClosed(c *conn, err error) {
	if c.flags&flagHandshaking != 0 && !c.origin.dialed {
		// An accepted TLS connection whose handshake did not end well was
		// never opened: it ends without events (a dialed one gets Closed
		// with the error, as for a failed connect).
		return
	}
	l.countClosed(c, err)
	if l.server.handlers.closed(c, err) == Shutdown {
		l.server.shutdown(nil)
	}
}

// closeGracefully closes c after its output has been written. While the
// connection is unsettled (input unread, or output the peer has not yet
// acknowledged), closing could make the kernel reset it and destroy output
// the peer has not received; so c only stops sending (FIN) and lingers,
// its input discarded, until it settles, the peer finishes too, or
// lingerTimeout passes (nginx's lingering close, net/http's
// closeWriteAndWait). Closed fires now either way, with err.
func (l *loop) closeGracefully(c *conn, err error) {
	if c.ended() || !l.sealOutbox(c, true) {
		return // ended; or written to meanwhile: that output first
	}
	if s := c.tlsSession(); s != nil {
		if s.notify() {
			// close_notify first: this runs again once it is written.
			if c.action == pendingNone {
				c.action = pendingClose
			}
			if err != nil {
				s.closeErr = err
			}
			return
		}
		if err == nil {
			err = s.closeErr
		}
	}
	if c.flags&flagEOF != 0 || !l.tp.unsettled(c) {
		l.closeConn(c, err)
		return
	}
	if c.flags&flagWriteClosed == 0 {
		if l.tp.shutdownWrite(c) != nil {
			l.closeConn(c, err)
			return
		}
	}
	l.forget(c)
	c.flags |= flagLingering
	l.lingering.Add(1)
	now := monotime()
	l.timers.schedule(c, now+int64(lingerFirstRecheck), now+int64(lingerTimeout))
	l.watch(c, wantRead)
	l.fireClosed(c, err)
}

// recheckLinger is a lingering connection's timer: it ends the linger once
// the connection has settled or the deadline has passed, and otherwise
// looks again after twice the time lingered so far.
func (l *loop) recheckLinger(c *conn, now, deadline int64) {
	if now >= deadline || !l.tp.unsettled(c) {
		l.endLinger(c)
		return
	}
	started := deadline - int64(lingerTimeout)
	next := now + (now - started)
	if min := now + int64(lingerFirstRecheck); next < min {
		next = min
	}
	if next > deadline {
		next = deadline
	}
	l.timers.schedule(c, next, deadline)
}

// discardInput reads and drops what a lingering connection's peer sends,
// and ends the linger at its end of stream or error.
func (l *loop) discardInput(c *conn) {
	for i := 0; i < 4; i++ {
		n, err := l.tp.read(c, l.readBuf)
		if err == errAgain {
			return
		}
		if err != nil || n == 0 {
			l.endLinger(c)
			return
		}
	}
}

// endLinger closes a lingering connection's socket.
func (l *loop) endLinger(c *conn) {
	if c.flags&flagLingering == 0 {
		return
	}
	c.flags &^= flagLingering
	l.lingering.Add(-1)
	l.unregister(c)
	l.tp.close(c, false)
}

// detach hands c's socket to the Detached event as a blocking stream.
func (l *loop) detach(c *conn) {
	if l.server.events.Detached == nil {
		l.closeGracefully(c, nil)
		return
	}
	if !l.sealOutbox(c, true) {
		return // written to meanwhile: that output first
	}
	s := c.tlsSession()
	if s != nil {
		l.detachTLS(s) // before forget releases the input that waits
	}
	l.forget(c)
	l.unregister(c)
	c.addrs() // while the socket is still the loop's: Detached may ask
	rwc, err := l.tp.detach(c)
	if err != nil {
		l.fireClosed(c, fmt.Errorf("evio: detach: %w", err))
		return
	}
	l.counters.detached++
	if s != nil {
		s.detached = rwc
		rwc = s.tc // the stream goes on encrypted
	}
	if l.server.handlers.detached(c, rwc) == Shutdown {
		l.server.shutdown(nil)
	}
}
