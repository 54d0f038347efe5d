//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"net"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/evio-go/evio/internal/socket"
	"golang.org/x/sys/unix"
)

// sockoptInt reads a socket option of c's socket, on either engine.
func sockoptInt(c Conn, level, opt int) (int, error) {
	cc := c.(*conn)
	if cc.ext == nil || cc.ext.stream == nil {
		return unix.GetsockoptInt(int(cc.fd), level, opt)
	}
	raw, err := cc.ext.stream.nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var v int
	var opErr error
	if err := raw.Control(func(fd uintptr) { v, opErr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil {
		return 0, err
	}
	return v, opErr
}

// failAccept makes the next accept on either engine fail with err, then
// restores the real accept.
func failAccept(err error) (restore func()) {
	realPoll, realStd := acceptFunc, stdAcceptFunc
	var failed atomic.Bool
	uringAcceptFault = func() error {
		if failed.CompareAndSwap(false, true) {
			return err
		}
		return nil
	}
	acceptFunc = func(fd int) (int, socket.Addr, error) {
		if failed.CompareAndSwap(false, true) {
			return -1, socket.Addr{}, err
		}
		return realPoll(fd)
	}
	stdAcceptFunc = func(ln net.Listener) (net.Conn, error) {
		if failed.CompareAndSwap(false, true) {
			return nil, err
		}
		return realStd(ln)
	}
	return func() { acceptFunc, stdAcceptFunc, uringAcceptFault = realPoll, realStd, nil }
}

// setRecvBuffer sets a socket's receive buffer, from a Dialer's Control.
func setRecvBuffer(fd uintptr, n int) {
	syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}

// setSendBuffer sets the send buffer of a server connection's socket, on
// either engine; from its events.
func setSendBuffer(c Conn, n int) {
	cc := c.(*conn)
	if cc.ext == nil || cc.ext.stream == nil {
		syscall.SetsockoptInt(int(cc.fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, n)
		return
	}
	if raw, err := cc.ext.stream.nc.(syscall.Conn).SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, n) })
	}
}

// countUnsettledChecks makes the engines count their checks of whether a
// closing connection has settled, until the test ends.
func countUnsettledChecks(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	realFD, realRaw := unsettledFunc, unsettledRawFunc
	unsettledFunc = func(fd int, tcp bool) bool { n.Add(1); return realFD(fd, tcp) }
	unsettledRawFunc = func(rc syscall.RawConn) bool { n.Add(1); return realRaw(rc) }
	t.Cleanup(func() { unsettledFunc, unsettledRawFunc = realFD, realRaw })
	return &n
}
