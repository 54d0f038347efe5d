//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

func readSomaxconn() int { return unix.SOMAXCONN }

// fionread is FIONREAD, _IOR('f', 127, int), the same on every BSD and on
// macOS; x/sys/unix does not name it.
const fionread = 0x4004667f

// Unsettled reports whether closing fd now could reset the connection
// and destroy data in flight. Here only unread input is known: the BSDs
// name the unacknowledged output count differently, or not at all.
func Unsettled(fd int) bool {
	n, err := unix.IoctlGetInt(fd, fionread)
	return err == nil && n > 0
}
