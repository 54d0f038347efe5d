//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/internal/buffer"
	"github.com/evio-go/evio/internal/poll"
	"github.com/evio-go/evio/internal/socket"
	"golang.org/x/sys/unix"
)

// conn is a connection of the poll engine, or the sender of one datagram.
// Fields are owned by the loop's goroutine unless marked otherwise. The
// struct is kept small: an idle server's memory is mostly these.
type conn struct {
	loop     *loop     // immutable
	listener *listener // immutable
	ctx      interface{}
	out      *buffer.Output // nil while there is nothing to write
	fd       int            // immutable; for a datagram, the listener's socket

	// Addresses as accept gave them (immutable), and their net.Addr forms
	// once asked for (any goroutine).
	remote    socket.Addr
	local     socket.Addr // zero unless the listener is a wildcard
	addrCache atomic.Pointer[connAddrs]

	maxOutput int32 // Options.MaxOutput, resolved
	// woken is set by the Wake that queues the connection on its loop and
	// cleared when the loop takes it: any goroutine.
	woken atomic.Bool

	action     Action        // Close or Detach, to run once out is written
	interest   poll.Interest // what the poller watches now
	reuseInput bool
	datagram   bool // a UDP sender: no socket of its own
	eof        bool // the peer has finished sending
	dirty      bool // in loop.dirty
	closed     bool // Closed or Detached has fired; never reopened
	lingering  bool // closed, but the descriptor stays open until the peer finishes
}

// connAddrs caches a connection's addresses as net.Addr values.
type connAddrs struct {
	local, remote net.Addr
}

func (c *conn) Context() interface{}       { return c.ctx }
func (c *conn) SetContext(ctx interface{}) { c.ctx = ctx }
func (c *conn) AddrIndex() int             { return c.listener.index }
func (c *conn) LocalAddr() net.Addr        { return c.addrs().local }
func (c *conn) RemoteAddr() net.Addr       { return c.addrs().remote }

// addrs converts the connection's addresses on first use. Racing callers
// may both convert; either result is correct.
func (c *conn) addrs() *connAddrs {
	if a := c.addrCache.Load(); a != nil {
		return a
	}
	a := &connAddrs{local: c.listener.addr}
	switch {
	case c.listener.family == unix.AF_UNIX:
		a.remote = &net.UnixAddr{Net: "unix"}
	case c.datagram:
		a.remote = net.UDPAddrFromAddrPort(c.remote.AddrPort())
	default:
		a.remote = net.TCPAddrFromAddrPort(c.remote.AddrPort())
		if c.local.IsValid() {
			a.local = net.TCPAddrFromAddrPort(c.local.AddrPort())
		}
	}
	c.addrCache.Store(a)
	return a
}

func (c *conn) Wake() {
	if c.woken.CompareAndSwap(false, true) {
		c.loop.handOff(inboxItem{woken: c})
	}
}

// openConn registers an accepted descriptor and fires Opened.
func (l *loop) openConn(fd int, peer socket.Addr, ln *listener) {
	if l.stopping {
		unix.Close(fd)
		l.server.balance.release(l.index)
		return
	}
	c := &conn{fd: fd, loop: l, listener: ln, maxOutput: defaultMaxOutput}
	l.setAddrs(c, peer)
	if err := l.poller.Add(fd, poll.Readable); err != nil {
		// Never opened, so no Opened or Closed: the peer sees a close.
		unix.Close(fd)
		l.server.balance.release(l.index)
		return
	}
	c.interest = poll.Readable
	if fd >= len(l.conns) {
		grown := make([]*conn, fd+1+len(l.conns))
		copy(grown, l.conns)
		l.conns = grown
	}
	l.conns[fd] = c
	l.open++
	out, opts, action, err := l.server.handlers.opened(c)
	if err != nil {
		l.closeConn(c, err)
		return
	}
	if opts.TCPKeepAlive > 0 && ln.family != unix.AF_UNIX {
		// A keepalive that cannot be set leaves a working connection; evio
		// ignores the error too.
		socket.SetKeepAlive(fd, opts.TCPKeepAlive)
	}
	c.reuseInput = opts.ReuseInputBuffer
	c.maxOutput = int32(maxOutputOf(opts))
	l.react(c, out, action)
}

// atOutputLimit reports whether c's queue is at its bound: c is then not
// read from, and more output closes it.
func (l *loop) atOutputLimit(c *conn) bool {
	return l.server.budget.overLimit(c.out.Len(), int(c.maxOutput))
}

// wantsRead reports whether the connection should be read from.
func (l *loop) wantsRead(c *conn) bool {
	return c.action == None && !c.eof && !l.stopping && !l.atOutputLimit(c)
}

func (l *loop) serveConn(c *conn, r poll.Ready) {
	if c.lingering {
		l.discardInput(c)
		return
	}
	if c.out.Len() > 0 && (r.IsWritable() || r.IsError() || r.IsHangup()) {
		// flush writes it, and a write on a broken socket reports why.
		l.markDirty(c)
	}
	if c.interest&poll.Readable != 0 && l.wantsRead(c) && (r.IsReadable() || r.IsHangup() || r.IsError()) {
		l.read(c)
	}
}

func (l *loop) read(c *conn) {
	n, err := socket.Read(c.fd, l.readBuf)
	switch {
	case err == nil && n > 0:
		in := l.readBuf[:n]
		if !c.reuseInput {
			in = append([]byte(nil), in...)
		}
		l.fireData(c, in)
	case err == nil:
		// End of file: the peer sends no more. Write what is queued, then
		// close.
		c.eof = true
		if c.action == None {
			c.action = Close
		}
		l.markDirty(c)
	case err == unix.EAGAIN || err == unix.EINTR:
	default:
		l.closeConn(c, os.NewSyscallError("read", err))
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

// react queues what an event of c returned.
func (l *loop) react(c *conn, out []byte, action Action) {
	if c.closed {
		return
	}
	if len(out) > 0 {
		if l.atOutputLimit(c) {
			l.closeConn(c, ErrOutputLimit)
			return
		}
		l.pool.Append(&c.out, out)
		l.queued += len(out)
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

// serveWake fires Data(c, nil) for a Wake.
func (l *loop) serveWake(c *conn) {
	if c.closed || c.action != None || l.stopping {
		// Closed or closing: leave woken set, so later Wakes cost nothing.
		return
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

// write writes c's queued output, chunk after chunk, until it is all
// written or the socket takes no more. It reports false if the connection
// failed and was closed.
func (l *loop) write(c *conn) bool {
	for c.out.Len() > 0 {
		p := c.out.Pending()
		n, err := socket.Write(c.fd, p)
		if n > 0 {
			l.pool.Consume(&c.out, n)
			l.queued -= n
		}
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			return true
		case err != nil:
			l.closeConn(c, os.NewSyscallError("write", err))
			return false
		case n < len(p):
			return true // the socket buffer is full
		}
	}
	return true
}

// settle runs c's pending action once its output is written, or makes the
// poller watch what c now needs.
func (l *loop) settle(c *conn) {
	if c.out.Len() == 0 && c.action != None {
		if c.action == Detach {
			l.detach(c)
		} else {
			l.closeGracefully(c)
		}
		return
	}
	var want poll.Interest
	if l.wantsRead(c) {
		want |= poll.Readable
	}
	if c.out.Len() > 0 {
		want |= poll.Writable
	}
	l.watch(c, want)
}

// watch makes the poller watch c for want, if it does not already.
func (l *loop) watch(c *conn, want poll.Interest) {
	if want == c.interest {
		return
	}
	if err := l.poller.Modify(c.fd, c.interest, want); err != nil {
		l.closeConn(c, err)
		return
	}
	c.interest = want
}

// forget removes c from the events' view, whether it closes or detaches.
func (l *loop) forget(c *conn) {
	c.closed = true
	l.open--
	l.queued -= c.out.Len()
	l.pool.Reset(&c.out)
	l.server.balance.release(l.index)
}

// closeConn closes c at once and fires Closed with err, the cause or nil.
func (l *loop) closeConn(c *conn, err error) {
	if c.closed {
		return
	}
	l.forget(c)
	l.conns[c.fd] = nil
	// Closing the descriptor also removes it from the poller.
	unix.Close(c.fd)
	if l.server.handlers.closed(c, err) == Shutdown {
		l.server.shutdown(nil)
	}
}

// closeGracefully closes c after its output has been written. While the
// connection is unsettled (input unread, or output the peer has not yet
// acknowledged), closing could make the kernel reset it and destroy output
// the peer has not received; so c only stops sending (FIN) and lingers, its
// input discarded, until it settles, the peer closes too, or lingerTimeout
// passes. Closed fires now either way.
func (l *loop) closeGracefully(c *conn) {
	if c.eof || c.closed || !socket.Unsettled(c.fd) {
		l.closeConn(c, nil)
		return
	}
	if err := unix.Shutdown(c.fd, unix.SHUT_WR); err != nil {
		l.closeConn(c, nil)
		return
	}
	l.forget(c)
	c.lingering = true
	l.lingering = append(l.lingering, lingerEntry{c: c, until: time.Now().Add(lingerTimeout)})
	l.watch(c, poll.Readable)
	if l.server.handlers.closed(c, nil) == Shutdown {
		l.server.shutdown(nil)
	}
}

// discardInput reads and drops what a lingering connection's peer sends,
// and closes the descriptor at its end of file or error.
func (l *loop) discardInput(c *conn) {
	for i := 0; i < 4; i++ {
		n, err := socket.Read(c.fd, l.readBuf)
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		if err != nil || n == 0 {
			l.endLinger(c)
			return
		}
	}
}

// endLinger closes a lingering connection's descriptor.
func (l *loop) endLinger(c *conn) {
	if !c.lingering {
		return
	}
	c.lingering = false
	l.conns[c.fd] = nil
	unix.Close(c.fd)
}

// detach hands c's socket to the Detached event as a blocking net.Conn.
func (l *loop) detach(c *conn) {
	if l.server.events.Detached == nil {
		l.closeGracefully(c)
		return
	}
	if err := l.poller.Delete(c.fd, c.interest); err != nil {
		l.closeConn(c, fmt.Errorf("evio: detach: %w", err))
		return
	}
	l.forget(c)
	l.conns[c.fd] = nil
	f := os.NewFile(uintptr(c.fd), "evio-detached")
	nc, err := net.FileConn(f) // a duplicate managed by package net
	f.Close()
	if err != nil {
		if l.server.handlers.closed(c, fmt.Errorf("evio: detach: %w", err)) == Shutdown {
			l.server.shutdown(nil)
		}
		return
	}
	if l.server.handlers.detached(c, nc) == Shutdown {
		l.server.shutdown(nil)
	}
}

// readDatagrams serves the datagrams waiting on a UDP socket: one Data
// event each, whose out goes back to the sender.
func (l *loop) readDatagrams(ln *listener) {
	for i := 0; i < datagramBatch; i++ {
		n, sa, err := unix.Recvfrom(ln.fd, l.readBuf, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			// EAGAIN, or an error a past datagram left (ICMP port
			// unreachable, say): the socket itself is fine.
			return
		}
		if l.server.events.Data == nil {
			continue
		}
		c := &conn{fd: ln.fd, loop: l, listener: ln, datagram: true, remote: socket.AddrOf(sa)}
		out, action, err := l.server.handlers.data(c, append([]byte{}, l.readBuf[:n]...))
		if err != nil {
			continue // a datagram has no connection to close; drop it
		}
		l.sendDatagram(c, out, action)
	}
}

// datagramBatch bounds the datagrams read per readiness event.
const datagramBatch = 64

// sendDatagram sends out to the sender of c's datagram. UDP delivery is best
// effort: a full socket buffer drops the reply, as it would on the network.
func (l *loop) sendDatagram(c *conn, out []byte, action Action) {
	if len(out) > 0 {
		if err := l.server.handlers.preWrite(); err != nil {
			l.server.shutdown(err)
			return
		}
		unix.Sendto(c.fd, out, 0, c.remote.Sockaddr(c.listener.family))
	}
	if action == Shutdown {
		l.server.shutdown(nil)
	}
}
