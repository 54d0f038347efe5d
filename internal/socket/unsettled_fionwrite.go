//go:build freebsd || netbsd

package socket

import "golang.org/x/sys/unix"

// unacknowledged is the output of fd the peer has not acknowledged yet:
// FIONWRITE counts the bytes still in the send buffer, sent or not
// (sys/filio.h). x/sys/unix does not name it; fionwrite is defined for
// each system.
func unacknowledged(fd int) int {
	n, err := unix.IoctlGetInt(fd, fionwrite)
	if err != nil {
		return 0
	}
	return n
}
