//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

func readSomaxconn() int { return unix.SOMAXCONN }

// fionread is FIONREAD, _IOR('f', 127, int), the same on every BSD and on
// macOS; x/sys/unix does not name it.
const fionread = 0x4004667f

// Unread is the number of received bytes not yet read from fd.
func Unread(fd int) (int, error) {
	return unix.IoctlGetInt(fd, fionread)
}
