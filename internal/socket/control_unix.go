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

// UnreadRaw is Unread for a socket of package net.
func UnreadRaw(c syscall.RawConn) (int, error) {
	var n int
	var opErr error
	if err := c.Control(func(fd uintptr) { n, opErr = Unread(int(fd)) }); err != nil {
		return 0, err
	}
	return n, opErr
}
