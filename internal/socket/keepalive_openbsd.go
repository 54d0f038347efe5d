//go:build openbsd

package socket

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// SetKeepAlive turns TCP keepalive on. OpenBSD has no per-socket timing:
// the period is system-wide (sysctl net.inet.tcp.keepidle), so d is unused.
func SetKeepAlive(fd int, d time.Duration) error {
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1))
}
