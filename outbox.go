package evio

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// Writes and closes from any goroutine. Each connection that is written to
// from outside its events gets an outbox: a locked buffer that Conn.Write
// appends to and the loop takes whole. Only the write that finds the
// outbox empty posts a task, so a burst of writes from many goroutines
// wakes the loop once. The loop also takes the outbox after every event of
// the connection, before the event's out: a Write made inside an event
// comes first, as it was made first. Writes are checked against the
// connection's output bound as the loop last published it, and fail once
// the connection has ended; a graceful close takes what the outbox holds
// before it ends the connection, under the outbox's lock, so a write that
// returned nil is never dropped by it.

// outbox is what other goroutines hand to a connection.
type outbox struct {
	mu      sync.Mutex
	buf     []byte       // written, not yet taken by the loop
	spare   []byte       // the buffer the loop took last, for the next writes
	posted  bool         // a taskWrite for it is in the inbox
	closing closeRequest // asked for and not yet taken by the loop
	shut    bool         // Close, CloseWrite or Abort was asked for: writes fail from then on
	sealed  bool         // the connection has ended: writes and closes fail

	// The connection's output bound and its queue, as the loop last
	// published them (any goroutine reads them).
	limit  atomic.Int64
	queued atomic.Int64
}

// closeRequest is a close asked for by Conn.Close or Conn.Abort.
type closeRequest uint8

const (
	closeNone closeRequest = iota
	closeWriteSide
	closeGraceful
	closeAbortive
)

// errDatagramWrite is what Write and Close of a UDP sender return.
var errDatagramWrite = errors.New("evio: Write and Close apply to stream connections, not to a UDP datagram's sender")

// outboxOf returns c's outbox, creating it on first use (any goroutine).
func (c *conn) outboxOf() *outbox {
	if ob := c.outbox.Load(); ob != nil {
		return ob
	}
	ob := new(outbox)
	ob.limit.Store(defaultMaxOutput)
	if c.outbox.CompareAndSwap(nil, ob) {
		return ob
	}
	return c.outbox.Load()
}

func (c *conn) Write(b []byte) error {
	if c.origin.datagram {
		return errDatagramWrite
	}
	ob := c.outboxOf()
	ob.mu.Lock()
	if ob.sealed || ob.shut {
		ob.mu.Unlock()
		return net.ErrClosed
	}
	if int64(len(ob.buf))+int64(len(b))+ob.queued.Load() > ob.limit.Load() && len(b) > 0 {
		ob.mu.Unlock()
		return ErrOutputLimit
	}
	ob.buf = append(ob.buf, b...)
	post := !ob.posted && len(b) > 0
	ob.posted = ob.posted || post
	ob.mu.Unlock()
	if post {
		c.loop.post(task{kind: taskWrite, c: c})
	}
	return nil
}

func (c *conn) Close() error { return c.requestClose(closeGraceful) }

func (c *conn) Abort() error { return c.requestClose(closeAbortive) }

func (c *conn) CloseWrite() error { return c.requestClose(closeWriteSide) }

func (c *conn) requestClose(r closeRequest) error {
	if c.origin.datagram {
		return errDatagramWrite
	}
	ob := c.outboxOf()
	ob.mu.Lock()
	if ob.sealed {
		ob.mu.Unlock()
		return net.ErrClosed
	}
	if r > ob.closing {
		ob.closing = r
	}
	ob.shut = true
	post := !ob.posted
	ob.posted = true
	ob.mu.Unlock()
	if post {
		c.loop.post(task{kind: taskWrite, c: c})
	}
	return nil
}

// takeOutbox moves what other goroutines handed to c into its queue and
// applies a close they asked for. It reports whether c is still open.
func (l *loop) takeOutbox(c *conn, ob *outbox) bool {
	ob.mu.Lock()
	data := ob.buf
	ob.buf = ob.spare[:0]
	ob.spare = nil
	closing := ob.closing
	ob.closing = closeNone
	ob.posted = false
	ob.mu.Unlock()
	if len(data) > 0 {
		l.queue(c, data)
		if c.ended() {
			return false
		}
		ob.mu.Lock()
		if cap(data) <= maxKeptOutbox && ob.spare == nil {
			ob.spare = data[:0]
		}
		ob.mu.Unlock()
	}
	switch closing {
	case closeWriteSide:
		c.flags |= flagCloseWrite
		l.markDirty(c)
	case closeAbortive:
		l.abortConn(c, nil)
		return false
	case closeGraceful:
		if c.action == pendingNone {
			c.action = pendingClose
		}
		l.markDirty(c)
	}
	return true
}

// maxKeptOutbox bounds the buffer an outbox keeps between bursts.
const maxKeptOutbox = 64 << 10

// serveWrite handles taskWrite: writes or a close from another goroutine.
func (l *loop) serveWrite(c *conn) {
	if c.ended() || c.flags&flagHandshaking != 0 || (c.flags&flagConnecting != 0 && c.ext.dial.tls != nil) {
		return // a TLS connection takes its outbox once opened
	}
	if ob := c.outbox.Load(); ob != nil {
		l.takeOutbox(c, ob)
	}
}

// sealOutbox ends c's outbox as c ends. For a graceful end it reports
// false, and seals nothing, if writes arrived that must go first: the
// caller writes them and ends c later.
func (l *loop) sealOutbox(c *conn, graceful bool) bool {
	ob := c.outbox.Load()
	if ob == nil {
		return true
	}
	ob.mu.Lock()
	if graceful && len(ob.buf) > 0 {
		ob.mu.Unlock()
		l.takeOutbox(c, ob)
		return false
	}
	ob.sealed = true
	ob.buf, ob.spare = nil, nil
	ob.mu.Unlock()
	return true
}

// publishBound stores c's bound and queue for writers on other goroutines.
func (ob *outbox) publish(c *conn) {
	ob.limit.Store(int64(c.maxOutput()))
	ob.queued.Store(int64(c.out.Len()))
}
