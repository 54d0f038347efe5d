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
