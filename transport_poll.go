//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/evio-go/evio/internal/poll"
	"github.com/evio-go/evio/internal/socket"
	"golang.org/x/sys/unix"
)

// pollTransport is the poll engine's transport for one loop.
type pollTransport struct {
	sockOps
	l         *loop
	poller    *poll.Poller
	listeners []*pollListener // those whose home is this loop, by token
	iov       [maxIovecs]unix.Iovec
}

// connToken is a connection's poller token: its slot, and its generation,
// which tells its events from those of an earlier connection in the same
// slot or on the same descriptor number.
func connToken(c *conn) uint64 { return uint64(c.gen)<<32 | uint64(uint32(c.slot)) }

func pollInterest(in interest) poll.Interest {
	var p poll.Interest
	if in&wantRead != 0 {
		p |= poll.Readable
	}
	if in&wantWrite != 0 {
		p |= poll.Writable
	}
	return p
}

func (t *pollTransport) poll(timeout time.Duration) error {
	n, err := t.poller.Wait(timeout)
	if err != nil {
		return err
	}
	t.l.woke()
	for i := 0; i < n; i++ {
		t.dispatch(t.poller.Event(i))
	}
	return nil
}

// dispatch hands one event to the listener or the connection its token
// names; an event of a connection that has gone since is dropped.
func (t *pollTransport) dispatch(token uint64, pr poll.Ready) {
	slot, gen := int32(uint32(token)), uint32(token>>32)
	if gen == 0 {
		ln := t.listeners[slot]
		switch {
		case !ln.watched:
		case ln.origin.datagram:
			t.readDatagrams(ln)
		default:
			t.accept(ln)
		}
		return
	}
	c := t.l.connAt(slot, gen)
	if c == nil {
		return
	}
	var r ready
	if pr.IsReadable() {
		r |= readyRead
	}
	if pr.IsWritable() {
		r |= readyWrite
	}
	if pr.IsHangup() {
		r |= readyHangup
	}
	if pr.IsError() {
		r |= readyError
	}
	t.l.serve(c, r)
}

func (t *pollTransport) wake()        { t.poller.Wake() }
func (t *pollTransport) exit()        {} // servePoll closes the poller
func (t *pollTransport) handle(*task) {} // the poll engine posts no taskIO

func (t *pollTransport) register(c *conn, want interest) error {
	return t.poller.Add(int(c.fd), connToken(c), pollInterest(want))
}

func (t *pollTransport) arm(c *conn, want interest) error {
	return t.poller.Modify(int(c.fd), connToken(c), pollInterest(c.armed), pollInterest(want))
}

func (t *pollTransport) read(c *conn, p []byte) (int, error) {
	n, err := socket.Read(int(c.fd), p)
	if err != nil {
		if err == unix.EAGAIN || err == unix.EINTR {
			return 0, errAgain
		}
		return 0, err // the bare errno, as evio passes it to Closed
	}
	return n, nil
}

func (t *pollTransport) write(c *conn) error {
	for written := 0; c.out.Len() > 0 && written < writeBudget; {
		n, full, err := t.writeOnce(c, writeBudget-written)
		if n > 0 {
			t.l.wrote(c, n)
			written += n
		}
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			return nil
		case err != nil:
			return err
		case full:
			return nil // the socket buffer is full
		}
	}
	return nil
}

func (t *pollTransport) drained(c *conn) bool { return true }

// connect starts a non-blocking connect; one in progress is watched for
// writability, which reports its end.
func (t *pollTransport) connect(c *conn, d *dialState) (bool, error) {
	family, sa, err := dialSockaddr(d)
	if err != nil {
		return false, err
	}
	fd, inProgress, err := socket.Connect(family, sa)
	if err != nil {
		return false, err
	}
	c.fd = int32(fd)
	want := wantRead
	if inProgress {
		want = wantWrite
	}
	if err := t.register(c, want); err != nil {
		return false, err
	}
	c.armed = want
	return !inProgress, nil
}

// dialSockaddr is the socket address a dial connects to, and its family.
func dialSockaddr(d *dialState) (family int, sa unix.Sockaddr, err error) {
	if d.network == "unix" {
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: d.address}, nil
	}
	a := d.target.Addr().Unmap()
	switch {
	case a.Is4() && d.network != "tcp6":
		return unix.AF_INET, &unix.SockaddrInet4{Port: int(d.target.Port()), Addr: a.As4()}, nil
	case a.Is6() && d.network != "tcp4":
		return unix.AF_INET6, &unix.SockaddrInet6{Port: int(d.target.Port()), Addr: a.As16()}, nil
	}
	return 0, nil, fmt.Errorf("no %s address: %s", d.network, d.target)
}

func (t *pollTransport) writtenAt(c *conn) int64 { return 0 } // l.wrote records it

func (t *pollTransport) unsettled(c *conn) bool { return unsettledFunc(int(c.fd), !c.origin.unix) }

// close closes c's socket, which also takes it out of the poller: one
// system call.
func (t *pollTransport) close(c *conn, reset bool) {
	if reset {
		resetOnClose(c)
	}
	c.setAsync(asyncSocketGone)
	t.poller.Release(int(c.fd))
	socket.Close(int(c.fd))
}

// detach hands c's socket to package net: Detached gets an ordinary
// net.Conn, with deadlines and CloseWrite, on Go's own poller.
func (t *pollTransport) detach(c *conn) (io.ReadWriteCloser, error) {
	fd := int(c.fd)
	if err := t.poller.Delete(fd, pollInterest(c.armed)); err != nil {
		t.close(c, false)
		return nil, err
	}
	c.setAsync(asyncSocketGone)
	t.poller.Release(fd)
	return handOver(fd)
}

func (t *pollTransport) stopAccepting() {
	for _, ln := range t.listeners {
		t.l.timers.cancel(ln)
		if ln.watched {
			t.poller.Delete(ln.origin.fd, poll.Readable)
			ln.watched = false
		}
	}
}

// sockOps are the transport methods that act on a connection's descriptor
// directly, the same for the poll engine and the io_uring engine, which
// both keep non-blocking sockets of their own; each embeds it.
type sockOps struct{}

// writeAside writes with one non-blocking system call.
func (sockOps) writeAside(c *conn, p []byte) int {
	n, err := socket.Write(int(c.fd), p)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (sockOps) finishConnect(c *conn) error { return socket.ConnectResult(int(c.fd)) }

func (sockOps) shutdownWrite(c *conn) error {
	return socket.Shutdown(int(c.fd), unix.SHUT_WR)
}

func (sockOps) setKeepAlive(c *conn, period time.Duration) {
	socket.SetKeepAlive(int(c.fd), period)
}

func (sockOps) sendTo(o *origin, to socket.Addr, b []byte) {
	unix.Sendto(o.fd, b, 0, to.Sockaddr(o.family))
}

// localAddr asks the socket, from any goroutine. The loop sets
// asyncSocketGone before it closes the descriptor: if the flag is still
// clear after getsockname returned, the number named c's socket for the
// whole call, not one that took it over since.
func (sockOps) localAddr(c *conn) (socket.Addr, bool) {
	if c.async.Load()&asyncSocketGone != 0 {
		return socket.Addr{}, false
	}
	a, err := socket.LocalAddr(int(c.fd))
	if err != nil || c.async.Load()&asyncSocketGone != 0 {
		return socket.Addr{}, false
	}
	return a, true
}

// resetOnClose makes the close of c's TCP socket send RST: SO_LINGER with
// a zero time. Best effort: a socket that refuses it is closed all the
// same.
func resetOnClose(c *conn) {
	if !c.origin.unix {
		unix.SetsockoptLinger(int(c.fd), unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	}
}

// handOver gives socket fd, which the loop no longer watches, to package
// net: Detached gets an ordinary net.Conn, with deadlines and CloseWrite,
// on Go's own poller.
func handOver(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "evio-detached")
	nc, err := net.FileConn(f) // a duplicate managed by package net
	f.Close()
	return nc, err
}
