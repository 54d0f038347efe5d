package evio

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evio-go/evio/internal/socket"
)

// stdConn is a connection of the portable engine, or the sender of one
// datagram. A reader goroutine and, once there is output, a writer goroutine
// do the blocking I/O; everything else is owned by the loop's goroutine
// unless marked otherwise.
type stdConn struct {
	loop     *stdLoop     // immutable
	listener *stdListener // immutable
	nc       net.Conn     // immutable; nil for a datagram
	peer     net.Addr     // immutable; a datagram's sender

	ctx interface{}

	out        []byte // queued during this pass, handed to the writer by flush
	maxOutput  int    // Options.MaxOutput, resolved
	action     Action // Close or Detach, to run once the output is written
	reuseInput bool
	datagram   bool
	eof        bool
	dirty      bool
	closed     bool // closed or detached; never reopened

	writerStarted bool
	readerDone    bool   // the reader goroutine has stopped (or never ran)
	stopRequested bool   // the reader was asked to stop, for a Detach
	ackHeld       bool   // the last read is not acknowledged, to pause reading
	leftover      []byte // read after a Detach was requested: replayed to Detached

	// stopReading tells the reader to stop after the current data; set by
	// the loop, read by the reader.
	stopReading atomic.Bool
	// linger tells the reader, once done is closed, to keep reading and
	// discarding until the peer finishes, then close the socket: see
	// closeGracefully.
	linger atomic.Bool
	// readerGone is set by the reader as it exits; with linger it decides
	// who closes a lingering socket (both may; closing twice is harmless).
	readerGone atomic.Bool
	// woken is set by the Wake that queues an event and cleared when the
	// loop takes it: any goroutine.
	woken atomic.Bool
	// ack returns the reader's buffer after the loop has served it.
	ack chan struct{}
	// done is closed when the connection leaves the loop, releasing its
	// goroutines.
	done chan struct{}

	// Writer hand-off, guarded by mu.
	mu          sync.Mutex
	queued      []byte        // handed to the writer, not yet written
	writing     bool          // the writer holds a batch
	notifyDrain bool          // the loop wants an evWriteEnd once the writer is idle
	wakeWriter  chan struct{} // capacity 1
}

func (c *stdConn) Context() interface{}       { return c.ctx }
func (c *stdConn) SetContext(ctx interface{}) { c.ctx = ctx }
func (c *stdConn) AddrIndex() int             { return c.listener.index }

func (c *stdConn) LocalAddr() net.Addr {
	if c.datagram {
		return c.listener.addr
	}
	return c.nc.LocalAddr()
}

func (c *stdConn) RemoteAddr() net.Addr {
	if c.datagram {
		return c.peer
	}
	return c.nc.RemoteAddr()
}

func (c *stdConn) Wake() {
	if c.woken.CompareAndSwap(false, true) {
		c.loop.push(stdEvent{kind: evWake, c: c})
	}
}

// Reads grow from stdMinRead to readBufferSize while reads fill the buffer,
// so an idle connection's reader holds little memory.
const stdMinRead = 4 << 10

func (c *stdConn) readLoop() {
	defer c.loop.server.ioWG.Done()
	defer c.readerExit()
	buf := make([]byte, stdMinRead)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.loop.push(stdEvent{kind: evData, c: c, data: buf[:n]})
			select {
			case <-c.ack:
			case <-c.done:
				c.discardUntilEnd(buf)
				return
			}
			if n == len(buf) && len(buf) < readBufferSize {
				buf = make([]byte, 2*len(buf))
			}
			if c.stopReading.Load() {
				err = errReadStopped
			}
		}
		if err != nil {
			if c.linger.Load() {
				c.discardUntilEnd(buf) // closed while reading: linger here
				return
			}
			c.loop.push(stdEvent{kind: evReadEnd, c: c, err: err})
			return
		}
	}
}

// discardUntilEnd runs on the reader once the loop has let go of the
// connection: a lingering connection is read until the peer finishes, the
// connection settles (checked every lingerRecheck) or the linger deadline
// passes.
func (c *stdConn) discardUntilEnd(buf []byte) {
	if !c.linger.Load() {
		return
	}
	for deadline := time.Now().Add(lingerTimeout); time.Now().Before(deadline); {
		c.nc.SetReadDeadline(time.Now().Add(lingerRecheck))
		_, err := c.nc.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !unsettled(c.nc) {
			return
		}
	}
}

// readerExit closes a lingering socket when its reader ends.
func (c *stdConn) readerExit() {
	c.readerGone.Store(true)
	if c.linger.Load() {
		c.nc.Close()
	}
}

// errReadStopped marks a reader that stopped because the loop asked it to.
var errReadStopped = &net.OpError{Op: "read", Err: io.ErrNoProgress}

func (c *stdConn) writeLoop() {
	defer c.loop.server.ioWG.Done()
	var spare []byte
	for {
		select {
		case <-c.wakeWriter:
		case <-c.done:
			return
		}
		for {
			c.mu.Lock()
			if len(c.queued) == 0 {
				c.writing = false
				notify := c.notifyDrain
				c.notifyDrain = false
				c.mu.Unlock()
				if notify {
					c.loop.push(stdEvent{kind: evWriteEnd, c: c})
				}
				break
			}
			batch := c.queued
			c.queued = spare[:0]
			c.writing = true
			c.mu.Unlock()
			_, err := c.nc.Write(batch)
			c.loop.queued.Add(-int64(len(batch)))
			if err != nil {
				c.loop.push(stdEvent{kind: evWriteEnd, c: c, err: err})
				return
			}
			spare = trimBuffer(batch)
		}
	}
}

// trimBuffer empties b for reuse, dropping it if it grew large.
func trimBuffer(b []byte) []byte {
	if cap(b) > readBufferSize {
		return nil
	}
	return b[:0]
}

// startWriting hands the output queued by the loop to the writer.
func (c *stdConn) startWriting() {
	if !c.writerStarted {
		c.writerStarted = true
		c.wakeWriter = make(chan struct{}, 1)
		c.loop.server.ioWG.Add(1)
		go c.writeLoop()
	}
	c.mu.Lock()
	c.queued = append(c.queued, c.out...)
	c.mu.Unlock()
	c.out = trimBuffer(c.out)
	select {
	case c.wakeWriter <- struct{}{}:
	default:
	}
}

// writerIdle reports whether everything handed to the writer is written;
// if not, the writer sends evWriteEnd when it is.
func (c *stdConn) writerIdle() bool {
	if !c.writerStarted {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.queued) == 0 && !c.writing {
		return true
	}
	c.notifyDrain = true
	return false
}

// pending is the output not yet written.
func (c *stdConn) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out) + len(c.queued)
}

func (l *stdLoop) openConn(nc net.Conn, ln *stdListener) {
	if l.stopping {
		nc.Close()
		l.server.balance.release(l.index)
		return
	}
	c := &stdConn{loop: l, listener: ln, nc: nc, maxOutput: defaultMaxOutput, readerDone: true, ack: make(chan struct{}, 1), done: make(chan struct{})}
	l.conns[c] = struct{}{}
	out, opts, action, err := l.server.handlers.opened(c)
	if err != nil {
		l.closeConn(c, err)
		return
	}
	if tc, ok := nc.(*net.TCPConn); ok && opts.TCPKeepAlive > 0 {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(opts.TCPKeepAlive)
	}
	c.reuseInput = opts.ReuseInputBuffer
	c.maxOutput = maxOutputOf(opts)
	l.react(c, out, action)
	if c.action == None && !c.closed {
		c.readerDone = false
		l.server.ioWG.Add(1)
		go c.readLoop()
	}
}

func (l *stdLoop) react(c *stdConn, out []byte, action Action) {
	if c.closed {
		return
	}
	if len(out) > 0 {
		if l.atOutputLimit(c) {
			l.closeConn(c, ErrOutputLimit)
			return
		}
		c.out = append(c.out, out...)
		l.queued.Add(int64(len(out)))
		l.markDirty(c)
	}
	switch action {
	case Close, Detach:
		if c.action == None {
			c.action = action
		}
		l.markDirty(c)
	case Shutdown:
		l.server.shutdown(nil)
	}
}

func (l *stdLoop) serveData(c *stdConn, data []byte) {
	if c.closed {
		return // the reader is released by done
	}
	if c.action == Detach {
		// Read after the Detach: the detached stream returns it first.
		c.leftover = append(c.leftover, data...)
		if c.stopRequested {
			c.ack <- struct{}{} // the reader sees stopReading and ends
		} else {
			c.ackHeld = true // stopReader releases it
		}
		return
	}
	if c.action != None || l.stopping {
		// Closing: stop reading, as the poll engine does, so that input
		// the peer keeps sending stays unread and closeGracefully sees it.
		c.ackHeld = true
		return
	}
	if l.server.events.Data == nil {
		c.ack <- struct{}{}
		return
	}
	in := data
	if !c.reuseInput {
		in = append([]byte(nil), data...)
	}
	l.fireData(c, in)
	if c.closed {
		return // the reader is released by done
	}
	if l.atOutputLimit(c) {
		c.ackHeld = true // settle resumes the reader once the writer has drained
		return
	}
	c.ack <- struct{}{}
}

// atOutputLimit reports whether c's queue is at its bound: c is then not
// read from, and more output closes it.
func (l *stdLoop) atOutputLimit(c *stdConn) bool {
	return l.server.budget.overLimit(c.pending(), c.maxOutput)
}

// fireData fires Data for c (in == nil after a Wake) and queues what it
// returns.
func (l *stdLoop) fireData(c *stdConn, in []byte) {
	out, action, err := l.server.handlers.data(c, in)
	if err != nil {
		l.closeConn(c, err)
		return
	}
	l.react(c, out, action)
}

func (l *stdLoop) readEnded(c *stdConn, err error) {
	if c.closed {
		return
	}
	c.readerDone = true
	if c.stopRequested {
		l.settle(c)
		return
	}
	if err == io.EOF {
		c.eof = true
		if c.action == None {
			c.action = Close
		}
		l.markDirty(c)
		return
	}
	l.closeConn(c, err)
}

func (l *stdLoop) serveWake(c *stdConn) {
	if c.closed || c.action != None || l.stopping {
		return // closed or closing: Data fires no more
	}
	c.woken.Store(false)
	if c.datagram {
		out, action, err := l.server.handlers.data(c, nil)
		if err == nil {
			l.sendDatagram(c, out, action)
		}
		return
	}
	l.fireData(c, nil)
}

func (l *stdLoop) serveDatagram(ev *stdEvent) {
	if l.stopping || l.server.events.Data == nil {
		ev.ack <- struct{}{}
		return
	}
	in := append([]byte{}, ev.data...)
	ev.ack <- struct{}{}
	c := &stdConn{loop: l, listener: ev.listener, peer: ev.addr, datagram: true}
	out, action, err := l.server.handlers.data(c, in)
	if err != nil {
		return // a datagram has no connection to close; drop it
	}
	l.sendDatagram(c, out, action)
}

func (l *stdLoop) sendDatagram(c *stdConn, out []byte, action Action) {
	if len(out) > 0 {
		if err := l.server.handlers.preWrite(); err != nil {
			l.server.shutdown(err)
			return
		}
		c.listener.packet.WriteTo(out, c.peer)
	}
	if action == Shutdown {
		l.server.shutdown(nil)
	}
}

// settle runs c's pending action once its output is written (and, for a
// Detach, its reader has stopped), and resumes a paused reader once the
// writer has caught up.
func (l *stdLoop) settle(c *stdConn) {
	if c.closed || len(c.out) > 0 {
		return // flush comes back here after handing the output over
	}
	if c.action == None {
		if c.ackHeld && c.writerIdle() {
			c.ackHeld = false
			c.ack <- struct{}{}
		}
		return
	}
	if !c.writerIdle() {
		return // evWriteEnd comes back here
	}
	if c.action == Close {
		l.closeGracefully(c)
		return
	}
	if !c.readerDone {
		l.stopReader(c)
		return // evReadEnd comes back here
	}
	l.detach(c)
}

// stopReader asks c's reader to stop without losing what it reads.
func (l *stdLoop) stopReader(c *stdConn) {
	if c.stopRequested {
		return
	}
	c.stopRequested = true
	c.stopReading.Store(true)
	if c.ackHeld {
		c.ackHeld = false
		c.ack <- struct{}{}
		return
	}
	// Interrupt a Read in progress; Detached gets the deadline cleared.
	c.nc.SetReadDeadline(time.Unix(1, 0))
}

// forget removes c from the loop, whether it closes or detaches, releasing
// its goroutines.
func (l *stdLoop) forget(c *stdConn) {
	c.closed = true
	delete(l.conns, c)
	l.server.balance.release(l.index)
	c.mu.Lock()
	l.queued.Add(-int64(len(c.out) + len(c.queued)))
	c.out, c.queued = nil, nil
	c.mu.Unlock()
	close(c.done)
}

// closeConn closes c at once and fires Closed with err, the cause or nil.
func (l *stdLoop) closeConn(c *stdConn, err error) {
	if c.closed {
		return
	}
	l.forget(c)
	c.nc.Close()
	l.fireClosed(c, err)
}

func (l *stdLoop) fireClosed(c *stdConn, err error) {
	if l.server.handlers.closed(c, err) == Shutdown {
		l.server.shutdown(nil)
	}
}

// closeGracefully closes c after its output has been written. If the peer
// may still be sending, closing now could make the kernel answer with a
// reset that destroys output the peer has not read yet; so c stops sending
// and its reader keeps reading and discarding until the peer closes too or
// lingerTimeout passes. Closed fires now either way.
func (l *stdLoop) closeGracefully(c *stdConn) {
	type closeWriter interface{ CloseWrite() error }
	cw, ok := c.nc.(closeWriter)
	if c.eof || c.readerDone || !ok || !unsettled(c.nc) || cw.CloseWrite() != nil {
		l.closeConn(c, nil)
		return
	}
	// Interrupt a read in progress soon, so that the reader starts checking
	// whether the connection has settled (discardUntilEnd).
	c.nc.SetReadDeadline(time.Now().Add(lingerRecheck))
	c.linger.Store(true) // before forget closes done
	if c.readerGone.Load() {
		c.nc.Close() // the reader ended before it could see linger
	}
	l.forget(c)
	l.fireClosed(c, nil)
}

func (l *stdLoop) detach(c *stdConn) {
	if l.server.events.Detached == nil {
		l.closeGracefully(c)
		return
	}
	l.forget(c)
	c.nc.SetReadDeadline(time.Time{})
	var rwc io.ReadWriteCloser = c.nc
	if len(c.leftover) > 0 {
		rwc = &replayConn{Conn: c.nc, unread: c.leftover}
	}
	if l.server.handlers.detached(c, rwc) == Shutdown {
		l.server.shutdown(nil)
	}
}

// unsettled is socket.Unsettled for a net.Conn; when the system cannot
// tell, it assumes so.
func unsettled(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	return socket.UnsettledRaw(raw)
}

// replayConn is a detached connection that first returns the bytes its
// reader took after the Detach was requested.
type replayConn struct {
	net.Conn
	unread []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.unread) > 0 {
		n := copy(p, r.unread)
		r.unread = r.unread[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}
