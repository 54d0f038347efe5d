//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"errors"
	"net"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// Listener is a bound socket: listening for a stream network, ready to
// receive for a datagram network.
type Listener struct {
	FD   int      // non-blocking, close-on-exec
	Addr net.Addr // the address actually bound: *net.TCPAddr, *net.UDPAddr or *net.UnixAddr
	// Family is the socket's address family (unix.AF_INET, AF_INET6 or AF_UNIX).
	Family int
}

// Listen binds a socket for network ("tcp", "tcp4", "tcp6", "udp", "udp4",
// "udp6" or "unix") at address, with SO_REUSEPORT when reusePort is set. For
// unix the caller prepares the path (see PrepareUnixPath).
func Listen(network, address string, reusePort bool) (*Listener, error) {
	switch network {
	case "unix":
		if reusePort {
			return nil, errors.New("reuseport is not available for unix sockets")
		}
		sa := &unix.SockaddrUnix{Name: address}
		fd, err := bindSocket(unix.AF_UNIX, unix.SOCK_STREAM, sa, false, false)
		if err != nil {
			return nil, err
		}
		return &Listener{FD: fd, Addr: &net.UnixAddr{Name: address, Net: "unix"}, Family: unix.AF_UNIX}, nil
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return nil, net.UnknownNetworkError(network)
	}
	stream := network[0] == 't'
	var ip net.IP
	var port int
	if stream {
		a, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			return nil, err
		}
		ip, port = a.IP, a.Port
	} else {
		a, err := net.ResolveUDPAddr(network, address)
		if err != nil {
			return nil, err
		}
		ip, port = a.IP, a.Port
	}
	family, dualStack, err := chooseFamily(network, ip)
	if err != nil {
		return nil, err
	}
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa4 := &unix.SockaddrInet4{Port: port}
		if ip != nil {
			copy(sa4.Addr[:], ip.To4())
		}
		sa = sa4
	} else {
		sa6 := &unix.SockaddrInet6{Port: port}
		if ip != nil && !ip.IsUnspecified() {
			copy(sa6.Addr[:], ip.To16())
		}
		sa = sa6
	}
	typ := unix.SOCK_DGRAM
	if stream {
		typ = unix.SOCK_STREAM
	}
	fd, err := bindSocket(family, typ, sa, reusePort, dualStack)
	if err != nil {
		return nil, err
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("getsockname", err)
	}
	ap := AddrOf(bound).AddrPort()
	var addr net.Addr
	if stream {
		addr = net.TCPAddrFromAddrPort(ap)
	} else {
		addr = net.UDPAddrFromAddrPort(ap)
	}
	return &Listener{FD: fd, Addr: addr, Family: family}, nil
}

// chooseFamily picks the address family for ip the way package net does: a
// wildcard address on "tcp" or "udp" gets a dual-stack IPv6 socket when the
// system supports one.
func chooseFamily(network string, ip net.IP) (family int, dualStack bool, err error) {
	switch network[len(network)-1] {
	case '4':
		if ip != nil && ip.To4() == nil {
			return 0, false, &net.AddrError{Err: "non-IPv4 address", Addr: ip.String()}
		}
		return unix.AF_INET, false, nil
	case '6':
		if ip != nil && ip.To4() != nil && !ip.Equal(net.IPv6unspecified) {
			return 0, false, &net.AddrError{Err: "non-IPv6 address", Addr: ip.String()}
		}
		return unix.AF_INET6, false, nil
	}
	if ip == nil || ip.IsUnspecified() {
		if supportsDualStack() {
			return unix.AF_INET6, true, nil
		}
		return unix.AF_INET, false, nil
	}
	if ip.To4() != nil {
		return unix.AF_INET, false, nil
	}
	return unix.AF_INET6, false, nil
}

var dualStack struct {
	once sync.Once
	ok   bool
}

// supportsDualStack probes once whether an IPv6 socket can accept IPv4.
func supportsDualStack() bool {
	dualStack.once.Do(func() {
		fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM, 0)
		if err != nil {
			return
		}
		defer unix.Close(fd)
		if unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0) != nil {
			return
		}
		dualStack.ok = unix.Bind(fd, &unix.SockaddrInet6{}) == nil
	})
	return dualStack.ok
}

// bindSocket creates, configures and binds a socket, and starts listening
// when it is a stream socket.
func bindSocket(family, typ int, sa unix.Sockaddr, reusePort, dualStack bool) (int, error) {
	fd, err := newSocket(family, typ)
	if err != nil {
		return -1, err
	}
	fail := func(call string, err error) (int, error) {
		unix.Close(fd)
		return -1, os.NewSyscallError(call, err)
	}
	if family == unix.AF_INET6 {
		v6only := 1
		if dualStack {
			v6only = 0
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			return fail("setsockopt", err)
		}
	}
	if family != unix.AF_UNIX && typ == unix.SOCK_STREAM {
		// Restarting a server must not wait for TIME_WAIT sockets.
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt", err)
		}
		// Linux copies TCP_NODELAY to accepted sockets; elsewhere Accept
		// sets it on each one.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, listenBacklog()); err != nil {
			return fail("listen", err)
		}
	}
	return fd, nil
}

var backlog struct {
	once sync.Once
	n    int
}

// listenBacklog is the kernel's connection queue limit where it can be read
// (Linux's somaxconn), else a value that every system clamps to its own.
func listenBacklog() int {
	backlog.once.Do(func() {
		backlog.n = readSomaxconn()
	})
	return backlog.n
}
