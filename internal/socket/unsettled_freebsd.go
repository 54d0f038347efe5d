package socket

import "golang.org/x/sys/unix"

// fionwrite is FreeBSD's FIONWRITE, _IOR('f', 119, int): the bytes still in
// a socket's send buffer, sent or not (sys/filio.h); x/sys/unix does not
// name it.
const fionwrite = 0x40046677

// unacknowledged is the output of fd the peer has not acknowledged yet.
func unacknowledged(fd int) int {
	n, err := unix.IoctlGetInt(fd, fionwrite)
	if err != nil {
		return 0
	}
	return n
}
