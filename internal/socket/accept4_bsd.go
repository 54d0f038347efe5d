//go:build dragonfly || freebsd

package socket

import (
	"os"

	"golang.org/x/sys/unix"
)

func newSocket(family, typ int) (int, error) {
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

// Accept takes one connection from a listening socket; see the Linux
// version.
func Accept(fd int) (int, Addr, error) {
	nfd, sa, err := unix.Accept4(fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	if err != nil {
		return -1, Addr{}, err
	}
	setAcceptedOptions(nfd, sa)
	return nfd, AddrOf(sa), nil
}
