//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"net"
	"sync/atomic"
	"syscall"

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
	return func() { acceptFunc, stdAcceptFunc = realPoll, realStd }
}
