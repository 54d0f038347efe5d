//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package socket

import (
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Addr is an IP socket address as a connection keeps it: 24 bytes with no
// pointers, converted to a net.Addr only when asked. (A netip.AddrPort is
// 32 bytes with a pointer for the zone.)
type Addr struct {
	ip    [16]byte // IPv4 in IPv4-mapped form
	scope uint32   // IPv6 scope: an interface index, 0 for none
	port  uint16
	valid bool
}

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

// IsValid reports whether a holds an address.
func (a Addr) IsValid() bool { return a.valid }

// AddrPort converts a; IPv4-mapped addresses, which a dual-stack socket
// reports for IPv4 peers, come back as plain IPv4.
func (a Addr) AddrPort() netip.AddrPort {
	ip := netip.AddrFrom16(a.ip).Unmap()
	if a.scope != 0 && ip.Is6() {
		if ifi, err := net.InterfaceByIndex(int(a.scope)); err == nil {
			ip = ip.WithZone(ifi.Name)
		}
	}
	return netip.AddrPortFrom(ip, a.port)
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
