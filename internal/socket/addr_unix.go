//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

// AddrOf converts an internet socket address; anything else gives the
// zero Addr.
func AddrOf(sa unix.Sockaddr) Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		a := Addr{port: uint16(sa.Port), valid: true}
		a.ip[10], a.ip[11] = 0xff, 0xff
		copy(a.ip[12:], sa.Addr[:])
		return a
	case *unix.SockaddrInet6:
		return Addr{ip: sa.Addr, scope: sa.ZoneId, port: uint16(sa.Port), valid: true}
	}
	return Addr{}
}

// Sockaddr converts a for a socket of the given family (unix.AF_INET or
// AF_INET6).
func (a Addr) Sockaddr(family int) unix.Sockaddr {
	if family == unix.AF_INET {
		sa := &unix.SockaddrInet4{Port: int(a.port)}
		copy(sa.Addr[:], a.ip[12:])
		return sa
	}
	return &unix.SockaddrInet6{Port: int(a.port), Addr: a.ip, ZoneId: a.scope}
}
