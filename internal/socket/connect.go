//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"os"

	"golang.org/x/sys/unix"
)

// Connect starts connecting a new non-blocking stream socket to sa.
// inProgress is true when the connection is being made (EINPROGRESS): the
// socket becomes writable when it is done, and ConnectResult tells how it
// went. On error the socket is closed.
func Connect(family int, sa unix.Sockaddr) (fd int, inProgress bool, err error) {
	fd, err = newSocket(family, unix.SOCK_STREAM)
	if err != nil {
		return -1, false, err
	}
	switch err := unix.Connect(fd, sa); err {
	case nil:
		return fd, false, nil
	case unix.EINPROGRESS, unix.EINTR:
		return fd, true, nil
	default:
		unix.Close(fd)
		return -1, false, os.NewSyscallError("connect", err)
	}
}

// ConnectResult is the outcome of a connect that was in progress, once the
// socket is writable: nil, or why it failed (the bare errno).
func ConnectResult(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	if v != 0 {
		return unix.Errno(v)
	}
	return nil
}
