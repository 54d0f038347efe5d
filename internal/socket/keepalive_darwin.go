//go:build darwin

package socket

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// SetKeepAlive turns TCP keepalive on with idle time and probe interval d,
// rounded up to whole seconds. macOS names the idle time TCP_KEEPALIVE.
func SetKeepAlive(fd int, d time.Duration) error {
	secs := roundSeconds(d)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPALIVE, secs); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs))
}
