package socket

import "golang.org/x/sys/unix"

// unacknowledged is the output of fd the peer has not acknowledged yet:
// SO_NWRITE counts the bytes still in the send buffer, sent or not.
func unacknowledged(fd int) int {
	n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NWRITE)
	if err != nil {
		return 0
	}
	return n
}
