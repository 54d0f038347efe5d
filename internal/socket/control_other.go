//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package socket

import (
	"errors"
	"syscall"
)

// ControlReusePort reports that SO_REUSEPORT does not exist here.
func ControlReusePort(network, address string, c syscall.RawConn) error {
	return errors.New("reuseport is not available on this system")
}

// UnsettledRaw cannot tell here, so it says unsettled: the caller lingers.
func UnsettledRaw(c syscall.RawConn) bool { return true }
