//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

// Package socket holds the socket helpers of the engines; on this system
// only the portable engine's are built.
package socket

import (
	"errors"
	"syscall"
)

// ControlReusePort reports that SO_REUSEPORT does not exist here.
func ControlReusePort(network, address string, c syscall.RawConn) error {
	return errors.New("reuseport is not available on this system")
}

// UnreadRaw reports that the unread byte count is not known here.
func UnreadRaw(c syscall.RawConn) (int, error) {
	return 0, errors.New("unread byte count is not available on this system")
}
