//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ControlReusePort is a net.ListenConfig.Control function that sets
// SO_REUSEPORT, for the portable engine.
func ControlReusePort(network, address string, c syscall.RawConn) error {
	var opErr error
	err := c.Control(func(fd uintptr) {
		opErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return os.NewSyscallError("setsockopt", opErr)
}

// UnsettledRaw is Unsettled for a socket of package net, asked with the
// queue ioctls, which answer for any stream socket; an error reads as
// unsettled, so that the caller lingers when it cannot tell.
func UnsettledRaw(c syscall.RawConn) bool {
	unsettled := true
	if err := c.Control(func(fd uintptr) { unsettled = Unsettled(int(fd), false) }); err != nil {
		return true
	}
	return unsettled
}
