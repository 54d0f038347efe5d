package evio

import (
	"errors"
	"math"
	"net"
	"time"
)

// Deadlines and the idle timeout of a connection. They cost the hot path
// nothing but a store: input and output record when they moved (active),
// and setting a deadline stores it. Each connection has one entry in its
// loop's timer heap, due at the earliest of its deadlines as far as the
// heap knows; it is moved only when a deadline comes earlier. When it
// fires, checkDeadlines looks at the real times, closes the connection if
// one has passed, and otherwise puts the entry back at the next one: an
// idle connection with a timeout costs one heap operation per timeout, and
// a busy one no more.

// errDatagramDeadline is what the deadline methods of a UDP Conn return:
// a datagram's sender has nothing to wait for.
var errDatagramDeadline = errors.New("evio: deadlines apply to stream connections, not to a UDP datagram's sender")

func (c *conn) SetReadDeadline(t time.Time) error { return c.setDeadlines(t, true, false) }

func (c *conn) SetWriteDeadline(t time.Time) error { return c.setDeadlines(t, false, true) }

func (c *conn) SetDeadline(t time.Time) error { return c.setDeadlines(t, true, true) }

func (c *conn) setDeadlines(t time.Time, read, write bool) error {
	if c.origin.datagram {
		return errDatagramDeadline
	}
	if c.ended() {
		return net.ErrClosed
	}
	var when int64
	if !t.IsZero() {
		when = addTime(monotime(), int64(time.Until(t)))
		if when <= 0 {
			when = 1 // long past: 0 means no deadline
		}
	}
	x := c.extend()
	if read {
		x.readDeadline = when
	}
	if write {
		x.writeDeadline = when
		c.flags &^= flagWriteExpired
	}
	if when > 0 {
		c.loop.timers.scheduleBy(c, when)
	}
	return nil
}

// setIdleTimeout starts Options.IdleTimeout for c.
func (l *loop) setIdleTimeout(c *conn, d time.Duration) {
	x := c.extend()
	x.idle = int64(d)
	x.active = monotime()
	l.timers.scheduleBy(c, addTime(x.active, x.idle))
}

// addTime is t+d in loop time, saturated: a timeout of math.MaxInt64 is
// "never", not a time in the past.
func addTime(t, d int64) int64 {
	if d > 0 && t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}

// idleSince is when c's input or output last moved: what the loop
// recorded, or the engine's writer, whichever is later.
func (l *loop) idleSince(c *conn) int64 {
	if w := l.tp.writtenAt(c); w > c.ext.active {
		return w
	}
	return c.ext.active
}

// stampActivity records that c's input or output moved, for its idle
// timeout. The loop clock was read after the poll that reported it; it can
// be older than the time the timeout was set, which then stands.
func (l *loop) stampActivity(c *conn) {
	if x := c.ext; x != nil && x.idle > 0 && l.now > x.active {
		x.active = l.now
	}
}

// checkDeadlines is c's heap entry firing while c is open: it closes c if
// a deadline or its idle timeout has passed, and otherwise schedules the
// entry at the next one. Closing for a deadline, or with output the peer
// has not taken, resets the connection, so that the peer sees the
// truncation.
func (l *loop) checkDeadlines(c *conn, now int64) {
	x := c.ext
	if x == nil || c.ended() {
		return
	}
	if x.readDeadline > 0 && now >= x.readDeadline && c.flags&flagEOF == 0 {
		l.abortConn(c, ErrReadDeadline)
		return
	}
	if x.writeDeadline > 0 && now >= x.writeDeadline {
		if l.hasQueued(c) {
			l.abortConn(c, ErrWriteDeadline)
			return
		}
		// Nothing is waiting for the peer: the deadline has passed without
		// a write to fail. The next output fails instead (react).
		x.writeDeadline = 0
		c.flags |= flagWriteExpired
	}
	if x.idle > 0 && now >= addTime(l.idleSince(c), x.idle) {
		if l.hasQueued(c) {
			l.abortConn(c, ErrIdleTimeout)
		} else {
			l.closeGracefully(c, ErrIdleTimeout)
		}
		if c.ended() {
			return
		}
		// Written to from another goroutine just now: not idle after all.
		x.active = now
	}
	if next := l.nextDeadline(c); next > 0 {
		l.timers.schedule(c, next, 0)
	}
}

// nextDeadline is the earliest time at which one of c's timeouts may pass,
// or 0 if none is set.
func (l *loop) nextDeadline(c *conn) int64 {
	x := c.ext
	next := int64(0)
	earliest := func(t int64) {
		if t > 0 && (next == 0 || t < next) {
			next = t
		}
	}
	if c.flags&flagEOF == 0 {
		earliest(x.readDeadline)
	}
	earliest(x.writeDeadline)
	if x.idle > 0 {
		earliest(addTime(l.idleSince(c), x.idle))
	}
	return next
}

// hasQueued reports whether output for c waits for its peer: queued in the
// core, or held by the engine beyond the socket.
func (l *loop) hasQueued(c *conn) bool {
	return c.out.Len() > 0 || !l.tp.drained(c)
}
