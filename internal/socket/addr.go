package socket

import (
	"net"
	"net/netip"
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

// AddrFromNet converts the address of a UDP or TCP socket of package net;
// anything else gives the zero Addr.
func AddrFromNet(na net.Addr) Addr {
	var ap netip.AddrPort
	switch na := na.(type) {
	case *net.UDPAddr:
		ap = na.AddrPort()
	case *net.TCPAddr:
		ap = na.AddrPort()
	default:
		return Addr{}
	}
	a := Addr{ip: ap.Addr().As16(), port: ap.Port(), valid: true}
	if zone := ap.Addr().Zone(); zone != "" {
		if ifi, err := net.InterfaceByName(zone); err == nil {
			a.scope = uint32(ifi.Index)
		}
	}
	return a
}
