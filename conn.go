package evio

import "net"

// Conn is a connection of a server, or for UDP the sender of one datagram.
//
// Its methods may be called from the events of that connection. Wake,
// LocalAddr, RemoteAddr and AddrIndex are also safe to call from any other
// goroutine, at any time, even after the connection has closed; Context and
// SetContext are not synchronised, so use them from the connection's events
// only (or guard the value yourself).
type Conn interface {
	// Context returns the value last stored by SetContext, or nil.
	Context() interface{}
	// SetContext stores a value of the caller's with the connection.
	SetContext(interface{})
	// AddrIndex is the index, in the addr arguments of Serve and in
	// Server.Addrs, of the address that accepted the connection.
	AddrIndex() int
	// LocalAddr is the local address of the connection: *net.TCPAddr,
	// *net.UDPAddr or *net.UnixAddr.
	LocalAddr() net.Addr
	// RemoteAddr is the peer's address: *net.TCPAddr, *net.UDPAddr or
	// *net.UnixAddr.
	RemoteAddr() net.Addr
	// Wake makes the server fire Data(c, nil) for the connection on its
	// loop, so that output produced on another goroutine can be returned
	// from there. It never blocks; wakes that arrive before the event runs
	// are coalesced into one event; it is ignored once the connection has
	// closed or an event has returned Close or Detach for it; and it never
	// drops output already queued nor cancels an action already requested. For a UDP Conn, the out of that Data event
	// is sent to the datagram's sender.
	Wake()
}
