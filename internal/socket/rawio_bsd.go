//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

// Read reads from a non-blocking descriptor; (0, nil) is end of file.
func Read(fd int, p []byte) (int, error) {
	n, err := unix.Read(fd, p)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Write writes to a non-blocking descriptor; a short count without error
// means the socket buffer is full.
func Write(fd int, p []byte) (int, error) {
	n, err := unix.Write(fd, p)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// LocalAddr is the address a socket is bound to.
func LocalAddr(fd int) (Addr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return Addr{}, err
	}
	return AddrOf(sa), nil
}

// Close closes a socket the loop owns.
func Close(fd int) error { return unix.Close(fd) }

// Shutdown shuts down part of a socket.
func Shutdown(fd, how int) error { return unix.Shutdown(fd, how) }
