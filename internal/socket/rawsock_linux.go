//go:build linux

package socket

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Accept takes one connection from a listening socket. The new descriptor
// is non-blocking and close-on-exec. It allocates nothing: the peer comes
// back as an Addr (the zero Addr for a unix socket). Errors are the raw
// errno, so that the caller can tell EAGAIN and EMFILE apart.
//
// accept4 on a non-blocking socket does not block, so the raw system call
// spares the scheduler hand-off of a blocking one.
func Accept(fd int) (int, Addr, error) {
	var rsa unix.RawSockaddrAny
	size := uint32(unix.SizeofSockaddrAny)
	nfd, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd),
		uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&size)),
		unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, Addr{}, errno
	}
	return int(nfd), addrOfRaw(&rsa), nil
}

// LocalAddr is the address a socket is bound to, without allocating.
func LocalAddr(fd int) (Addr, error) {
	var rsa unix.RawSockaddrAny
	size := uint32(unix.SizeofSockaddrAny)
	_, _, errno := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(fd),
		uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&size)))
	if errno != 0 {
		return Addr{}, errno
	}
	return addrOfRaw(&rsa), nil
}

func addrOfRaw(rsa *unix.RawSockaddrAny) Addr {
	// SAFETY: a sockaddr_in6 is smaller than the sockaddr_storage the
	// kernel wrote into; addrOfInet reads no more than its family says.
	return addrOfInet((*unix.RawSockaddrInet6)(unsafe.Pointer(rsa)))
}

// addrOfInet reads an IPv4 or IPv6 socket address the kernel wrote into
// room for a sockaddr_in6 (the largest of the two); any other family is
// the zero Addr.
func addrOfInet(rsa *unix.RawSockaddrInet6) Addr {
	switch rsa.Family {
	case unix.AF_INET:
		// SAFETY: the family says the kernel wrote a sockaddr_in, which
		// is smaller than the sockaddr_in6 it was written into.
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		a := Addr{port: networkOrder(sa.Port), valid: true}
		a.ip[10], a.ip[11] = 0xff, 0xff
		copy(a.ip[12:], sa.Addr[:])
		return a
	case unix.AF_INET6:
		return Addr{ip: rsa.Addr, scope: rsa.Scope_id, port: networkOrder(rsa.Port), valid: true}
	}
	return Addr{}
}

// networkOrder reads a port stored big-endian in a uint16 field.
func networkOrder(port uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&port))
	return uint16(b[0])<<8 | uint16(b[1])
}

// Read reads from a non-blocking descriptor; (0, nil) is end of file. The
// raw system call is safe because the descriptor never blocks.
func Read(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Write writes to a non-blocking descriptor; a short count without error
// means the socket buffer is full.
func Write(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, errno := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Writev writes the buffers of iov, in order, with one system call; a short
// count without error means the socket buffer is full. Like Write, it is a
// raw system call because the descriptor never blocks.
func Writev(fd int, iov []unix.Iovec) (int, error) {
	if len(iov) == 0 {
		return 0, nil
	}
	n, _, errno := unix.RawSyscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// AddrOfRaw converts an address the kernel wrote (an io_uring accept's).
func AddrOfRaw(rsa *unix.RawSockaddrAny) Addr { return addrOfRaw(rsa) }

// Close closes a socket the loop owns. A socket without a positive
// SO_LINGER (evio never sets one) closes without sleeping, so the raw
// system call is safe, and it keeps the loop's goroutine out of the
// scheduler's system-call state: a close that runs the loopback peer's
// TCP work inline can take longer than the 20 us after which Go's sysmon
// would hand the loop's P to another thread.
func Close(fd int) error {
	_, _, errno := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// Shutdown shuts down part of a socket; it never sleeps (see Close).
func Shutdown(fd, how int) error {
	_, _, errno := unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// queued asks a socket for one of its queue lengths (SIOCINQ, SIOCOUTQ);
// the ioctl never sleeps.
func queued(fd int, req uint) (int, error) {
	var n int32
	_, _, errno := unix.RawSyscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(&n)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
