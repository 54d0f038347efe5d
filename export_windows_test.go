package evio

import (
	"sync/atomic"
	"syscall"
	"testing"
)

// setRecvBuffer sets a socket's receive buffer, from a Dialer's Control.
func setRecvBuffer(fd uintptr, n int) {
	syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}

// setSendBuffer sets the send buffer of a server connection's socket (the
// portable engine's, the only one here); from its events.
func setSendBuffer(c Conn, n int) {
	if raw, err := c.(*conn).ext.stream.nc.(syscall.Conn).SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) { syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, n) })
	}
}

// countUnsettledChecks makes the engine count its checks of whether a
// closing connection has settled, until the test ends.
func countUnsettledChecks(t *testing.T) *atomic.Int64 {
	var n atomic.Int64
	realRaw := unsettledRawFunc
	unsettledRawFunc = func(rc syscall.RawConn) bool { n.Add(1); return realRaw(rc) }
	t.Cleanup(func() { unsettledRawFunc = realRaw })
	return &n
}
