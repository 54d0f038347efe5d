//go:build darwin || netbsd || openbsd

package socket

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// newSocket creates a socket and makes it non-blocking and close-on-exec.
// Without socket flags for that, the fork lock keeps a concurrent exec from
// inheriting the descriptor in between, as package net does.
func newSocket(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return fd, nil
}

// Accept takes one connection from a listening socket; see the Linux
// version.
func Accept(fd int) (int, Addr, error) {
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, Addr{}, err
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, Addr{}, err
	}
	setAcceptedOptions(nfd, sa)
	return nfd, AddrOf(sa), nil
}
