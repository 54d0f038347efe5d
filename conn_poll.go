//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/evio-go/evio/internal/buffer"
	"github.com/evio-go/evio/internal/poll"
	"github.com/evio-go/evio/internal/socket"
	"golang.org/x/sys/unix"
)

// conn is a connection of the poll engine, or the sender of one datagram.
// Fields are owned by the loop's goroutine unless marked otherwise.
type conn struct {
	fd       int            // immutable; for a datagram, the listener's socket
	loop     *loop          // immutable
	listener *listener      // immutable
	remote   netip.AddrPort // immutable; TCP and UDP peers
	local    netip.AddrPort // immutable; set when the listener is a wildcard

	ctx    interface{}
	out    buffer.Output
	action Action // Close or Detach, to run once out is written

	interest   poll.Interest // what the poller watches now
	reuseInput bool
	datagram   bool // a UDP sender: no socket of its own
	eof        bool // the peer has finished sending
	dirty      bool // in loop.dirty
	closed     bool // closed or detached; never reopened

	// woken is set by the Wake that queues the connection on its loop and
	// cleared when the loop takes it: any goroutine.
	woken atomic.Bool
	// Addresses converted on first use: any goroutine.
	localAddr, remoteAddr atomic.Value
}

func (c *conn) Context() interface{}       { return c.ctx }
func (c *conn) SetContext(ctx interface{}) { c.ctx = ctx }
func (c *conn) AddrIndex() int             { return c.listener.index }

func (c *conn) LocalAddr() net.Addr {
	if !c.local.IsValid() {
		return c.listener.addr
	}
	if a := c.localAddr.Load(); a != nil {
		return a.(net.Addr)
	}
	a := net.Addr(net.TCPAddrFromAddrPort(c.local))
	c.localAddr.Store(a)
	return a
}

func (c *conn) RemoteAddr() net.Addr {
	if a := c.remoteAddr.Load(); a != nil {
		return a.(net.Addr)
	}
	var a net.Addr
	switch {
	case c.listener.family == unix.AF_UNIX:
		a = &net.UnixAddr{Net: "unix"}
	case c.datagram:
		a = net.UDPAddrFromAddrPort(c.remote)
	default:
		a = net.TCPAddrFromAddrPort(c.remote)
	}
	c.remoteAddr.Store(a)
	return a
}

func (c *conn) Wake() {
	if c.woken.CompareAndSwap(false, true) {
		c.loop.handOff(inboxItem{woken: c})
	}
}

// openConn registers an accepted descriptor and fires Opened.
func (l *loop) openConn(fd int, sa unix.Sockaddr, ln *listener) {
	if l.stopping {
		unix.Close(fd)
		l.server.balance.release(l.index)
		return
	}
	c := &conn{fd: fd, loop: l, listener: ln}
	c.setAddrs(sa, ln)
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
	if l.server.events.Opened == nil {
		return
	}
	out, opts, action := l.server.events.Opened(c)
	if opts.TCPKeepAlive > 0 && ln.family != unix.AF_UNIX {
		// A keepalive that cannot be set leaves a working connection; evio
		// ignores the error too.
		socket.SetKeepAlive(fd, opts.TCPKeepAlive)
	}
	c.reuseInput = opts.ReuseInputBuffer
	l.react(c, out, action)
}

// wantsRead reports whether the connection should be read from.
func (c *conn) wantsRead() bool {
	return c.action == None && !c.eof && !c.loop.stopping && c.out.Len() < maxPendingOutput
}

func (l *loop) serveConn(c *conn, r poll.Ready) {
	if c.out.Len() > 0 && (r.IsWritable() || r.IsError() || r.IsHangup()) {
		// flush writes it, and a write on a broken socket reports why.
		l.markDirty(c)
	}
	if c.interest&poll.Readable != 0 && c.wantsRead() && (r.IsReadable() || r.IsHangup() || r.IsError()) {
		l.read(c)
	}
}

func (l *loop) read(c *conn) {
	n, err := socket.Read(c.fd, l.readBuf)
	switch {
	case err == nil && n > 0:
		if l.server.events.Data == nil {
			return
		}
		in := l.readBuf[:n]
		if !c.reuseInput {
			in = append([]byte(nil), in...)
		}
		out, action := l.server.events.Data(c, in)
		l.react(c, out, action)
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

// react queues what an event of c returned.
func (l *loop) react(c *conn, out []byte, action Action) {
	if c.closed {
		return
	}
	if len(out) > 0 {
		c.out.Append(&l.pool, out)
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
	if c.closed || l.stopping {
		// Leave woken set: later Wakes of a closed connection cost nothing.
		return
	}
	c.woken.Store(false)
	if l.server.events.Data == nil {
		return
	}
	out, action := l.server.events.Data(c, nil)
	if c.datagram {
		l.sendDatagram(c, out, action)
		return
	}
	l.react(c, out, action)
}

// write writes c's queued output once. It reports false if the connection
// failed and was closed.
func (l *loop) write(c *conn) bool {
	n, err := socket.Write(c.fd, c.out.Pending())
	if n > 0 {
		c.out.Consume(&l.pool, n)
	}
	if err != nil && err != unix.EAGAIN && err != unix.EINTR {
		l.closeConn(c, os.NewSyscallError("write", err))
		return false
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
			l.closeConn(c, nil)
		}
		return
	}
	var want poll.Interest
	if c.wantsRead() {
		want |= poll.Readable
	}
	if c.out.Len() > 0 {
		want |= poll.Writable
	}
	if want == c.interest {
		return
	}
	if err := l.poller.Modify(c.fd, c.interest, want); err != nil {
		l.closeConn(c, err)
		return
	}
	c.interest = want
}

// forget removes c from the loop, whether it closes or detaches.
func (l *loop) forget(c *conn) {
	c.closed = true
	l.conns[c.fd] = nil
	l.open--
	c.out.Reset(&l.pool)
	l.server.balance.release(l.index)
}

// closeConn closes c and fires Closed with err, the cause or nil.
func (l *loop) closeConn(c *conn, err error) {
	if c.closed {
		return
	}
	l.forget(c)
	// Closing the descriptor also removes it from the poller.
	unix.Close(c.fd)
	if l.server.events.Closed != nil {
		if l.server.events.Closed(c, err) == Shutdown {
			l.server.shutdown(nil)
		}
	}
}

// detach hands c's socket to the Detached event as a blocking net.Conn.
func (l *loop) detach(c *conn) {
	if l.server.events.Detached == nil {
		l.closeConn(c, nil)
		return
	}
	if err := l.poller.Delete(c.fd, c.interest); err != nil {
		l.closeConn(c, fmt.Errorf("evio: detach: %w", err))
		return
	}
	l.forget(c)
	f := os.NewFile(uintptr(c.fd), "evio-detached")
	nc, err := net.FileConn(f) // a duplicate managed by package net
	f.Close()
	if err != nil {
		if l.server.events.Closed != nil {
			if l.server.events.Closed(c, fmt.Errorf("evio: detach: %w", err)) == Shutdown {
				l.server.shutdown(nil)
			}
		}
		return
	}
	if l.server.events.Detached(c, nc) == Shutdown {
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
		c := &conn{fd: ln.fd, loop: l, listener: ln, datagram: true, remote: socket.AddrPort(sa), closed: false}
		out, action := l.server.events.Data(c, append([]byte{}, l.readBuf[:n]...))
		l.sendDatagram(c, out, action)
	}
}

// datagramBatch bounds the datagrams read per readiness event.
const datagramBatch = 64

// sendDatagram sends out to the sender of c's datagram. UDP delivery is best
// effort: a full socket buffer drops the reply, as it would on the network.
func (l *loop) sendDatagram(c *conn, out []byte, action Action) {
	if len(out) > 0 {
		if l.server.events.PreWrite != nil {
			l.server.events.PreWrite()
		}
		unix.Sendto(c.fd, out, 0, socket.Sockaddr(c.listener.family, c.remote))
	}
	if action == Shutdown {
		l.server.shutdown(nil)
	}
}
