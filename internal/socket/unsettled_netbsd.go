package socket

import "golang.org/x/sys/unix"

// fionwrite is NetBSD's FIONWRITE, _IOR('f', 121, int): the bytes still in
// a socket's send queue, sent or not (sys/filio.h); x/sys/unix does not
// name it.
const fionwrite = 0x40046679

// unacknowledged is the output of fd the peer has not acknowledged yet.
func unacknowledged(fd int) int {
	n, err := unix.IoctlGetInt(fd, fionwrite)
	if err != nil {
		return 0
	}
	return n
}
