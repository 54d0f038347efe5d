//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

// setAcceptedOptions gives an accepted TCP socket what Linux would have
// inherited from the listener. Failure is harmless: the socket works with
// Nagle's algorithm too.
func setAcceptedOptions(fd int, sa unix.Sockaddr) {
	switch sa.(type) {
	case *unix.SockaddrInet4, *unix.SockaddrInet6:
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
}
