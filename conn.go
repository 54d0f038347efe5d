package evio

import (
	"crypto/tls"
	"net"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/internal/buffer"
	"github.com/evio-go/evio/internal/socket"
)

// Conn is a connection of a server, or for UDP the sender of one datagram.
//
// Its methods may be called from the events of that connection, and from
// the functions of its timers (AfterFunc), which run on the same loop.
// Write, Close, CloseWrite, Abort, Wake, LocalAddr, RemoteAddr and
// AddrIndex are also safe to call from any other goroutine, at any time,
// even after the connection has closed; Context and SetContext are not
// synchronised, so use them from the connection's events only (or guard
// the value yourself); the others belong to the connection's loop.
//
// Conn is an interface that grows: methods are added to it as evio gains
// capabilities. A test double that implements it should embed Conn (a nil
// one is fine) and override what the test needs, so that it keeps
// compiling when methods are added.
type Conn interface {
	// Context returns the value last stored by SetContext, or nil.
	Context() interface{}
	// SetContext stores a value of the caller's with the connection.
	SetContext(interface{})
	// AddrIndex is the index, in the addr arguments of Serve and in
	// Server.Addrs, of the address that accepted the connection.
	AddrIndex() int
	// LocalAddr is the local address of the connection: *net.TCPAddr,
	// *net.UDPAddr or *net.UnixAddr. On a listener whose address names no
	// IP it is asked of the socket the first time it is wanted (in Closed
	// too); asked first from another goroutine after the connection closed,
	// it can only be the listener's.
	LocalAddr() net.Addr
	// RemoteAddr is the peer's address: *net.TCPAddr, *net.UDPAddr or
	// *net.UnixAddr.
	RemoteAddr() net.Addr
	// Wake makes the server fire Data(c, nil) for the connection on its
	// loop, so that output produced on another goroutine can be returned
	// from there. It never blocks; wakes that arrive before the event runs
	// are coalesced into one event; it is ignored once the connection has
	// closed or an event has returned Close or Detach for it; and it never
	// drops output already queued nor cancels an action already requested.
	// For a UDP Conn, the out of that Data event is sent to the datagram's
	// sender.
	Wake()

	// Write queues a copy of b for the connection, from any goroutine,
	// without blocking on the network: writes reach the peer in the order
	// of the calls, and, seen from the loop, in order with the output of
	// the connection's events (a Write inside an event goes before that
	// event's out). A burst of writes wakes the loop once. It returns
	// ErrOutputLimit, and queues nothing, when the connection's queue
	// (as the loop last saw it) with what is waiting and b would pass
	// Options.MaxOutput, and net.ErrClosed once the connection has ended
	// or Close or Abort was called. Bytes of a Write that returned nil
	// reach the peer unless the connection fails or is aborted. An error
	// for a UDP Conn.
	Write(b []byte) error
	// Close closes the connection once everything queued (by events and
	// by Write) has been written, as the Close action does; from any
	// goroutine. Later writes fail with net.ErrClosed.
	Close() error
	// Abort closes the connection at once with a reset, discarding what is
	// queued, as the Abort action does; from any goroutine.
	Abort() error
	// CloseWrite shuts down the connection's sending side once everything
	// queued has been written, as the CloseWrite action does (the peer
	// reads an end of stream; reading goes on); from any goroutine. Later
	// writes fail with net.ErrClosed. A proxy passes a half-close on with
	// it.
	CloseWrite() error

	// SetReadDeadline sets the time by which the connection must be done
	// waiting for input, as net.Conn's read deadline does: when it passes
	// (and the peer has not finished sending), the connection is closed
	// with a reset and Closed gets ErrReadDeadline, whether or not reading
	// is paused. Input that arrives before it is delivered as usual, and
	// the deadline stays until it is set again; the zero time clears it.
	// Setting it costs no system call and does not allocate after the
	// first time. It returns net.ErrClosed once the connection has ended,
	// and an error for a UDP Conn.
	SetReadDeadline(t time.Time) error
	// SetWriteDeadline sets the time by which the peer must have taken the
	// output queued for it: when it passes with output still queued, the
	// connection is closed with a reset and Closed gets ErrWriteDeadline;
	// when it passes with nothing queued, output returned later closes the
	// connection the same way, until the deadline is set again. The zero
	// time clears it. Errors as for SetReadDeadline.
	SetWriteDeadline(t time.Time) error
	// SetDeadline sets both the read and the write deadline.
	SetDeadline(t time.Time) error
	// PauseRead stops reading the connection: no Data event with input
	// fires, and a peer that keeps sending is held back by TCP flow
	// control, until ResumeRead. Input already delivered is not affected;
	// Wake, timers and Drained still fire. A no-op for a UDP Conn.
	PauseRead()
	// ResumeRead undoes PauseRead: input that waited is delivered, in
	// order. Reading may still wait for the output bounds (see Options).
	ResumeRead()
	// QueuedOutput is the number of bytes queued for the connection that
	// its socket has not yet taken: what Options.OutputHighWater and
	// MaxOutput are compared with. A server that produces a large reply in
	// steps stops when this and the output it is about to return reach
	// its high mark, and carries on in Drained.
	QueuedOutput() int
	// AfterFunc runs f on the connection's loop once d has passed, as an
	// event of the connection: its out and action are as for Data (for a
	// UDP Conn, out goes to the datagram's sender). It starts no goroutine
	// and no runtime timer: the loop keeps one timer heap, and sleeps
	// until its earliest entry. The timer is stopped when the connection
	// closes, and does not fire once the server is shutting down. After
	// the connection has ended it returns a Timer that never fires.
	AfterFunc(d time.Duration, f func() (out []byte, action Action)) *Timer

	// TLSConnectionState returns the negotiated state of a TLS connection
	// (version, cipher suite, ALPN protocol, the peer's certificates,
	// resumption), and ok true; ok is false for a plain connection. A TLS
	// connection's events start once its handshake is done, so the state
	// is there from Opened on.
	TLSConnectionState() (state tls.ConnectionState, ok bool)
}

// conn is a connection of any engine, or the sender of one datagram: the
// state the connection core (core.go) keeps. Fields are owned by the
// loop's goroutine unless marked otherwise. The struct fits Go's 112-byte
// size class: an idle server's memory is mostly these, so what only some
// connections need lives in ext, and the local address is not kept.
type conn struct {
	loop   *loop   // immutable
	origin *origin // immutable: the listener that accepted it
	ctx    interface{}
	out    *buffer.Output // output not yet taken by the transport; nil while empty
	ext    *connExt       // nil unless the connection needs more than the defaults

	// addrCache holds the addresses as net.Addr values once asked for
	// (any goroutine; racing callers may both convert, either result is
	// correct). The portable engine fills it when it opens the connection.
	addrCache atomic.Pointer[connAddrs]
	// The peer's address as accept gave it (immutable); unused by the
	// portable engine's stream connections. The local address is the
	// listener's, or, when that names no IP, asked of the socket the first
	// time it is wanted (transport.localAddr): most connections never are.
	remote socket.Addr

	fd    int32  // poll engine: the socket; -1 elsewhere and for a datagram's sender
	slot  int32  // position in loop.conns while registered; -1 otherwise
	gen   uint32 // the loop's registration count when it was registered: tells stale poller events apart
	timer int32  // position in loop.timers + 1; 0 when not scheduled

	// outbox holds writes and closes from outside the connection's events
	// (outbox.go); nil until the first. Any goroutine.
	outbox atomic.Pointer[outbox]
	// async holds the flags other goroutines read or set (asyncWoken,
	// asyncSocketGone); any goroutine, atomically.
	async atomic.Uint32

	action pendingAction // what runs once the output is written
	armed  interest      // what the transport watches now
	flags  connFlags
}

// Bits of conn.async.
const (
	// asyncWoken is set by the Wake that posts the connection to its loop
	// and cleared when the loop runs Data(c, nil).
	asyncWoken uint32 = 1 << iota
	// asyncSocketGone is set by the loop before the descriptor is closed or
	// handed over: from then on its number may name another socket.
	asyncSocketGone
)

// setAsync sets bits of c.async and reports whether any of them was clear.
func (c *conn) setAsync(bits uint32) bool {
	for {
		old := c.async.Load()
		if old&bits == bits {
			return false
		}
		if c.async.CompareAndSwap(old, old|bits) {
			return true
		}
	}
}

// clearAsync clears bits of c.async.
func (c *conn) clearAsync(bits uint32) {
	for {
		old := c.async.Load()
		if old&bits == 0 || c.async.CompareAndSwap(old, old&^bits) {
			return
		}
	}
}

// connExt is what only some connections need: options other than the
// defaults, timeouts and timers, and the portable engine's goroutines.
// Allocated the first time one of them is set, never on the hot path.
type connExt struct {
	maxOutput int        // Options.MaxOutput; 0 for the default
	highWater int        // Options.OutputHighWater, clamped; 0 for maxOutput
	lowWater  int        // Options.OutputLowWater, clamped; 0 for the high mark
	stream    *stdStream // the portable engine's reader and writer

	// Timeouts, in loop time (monotime); 0 when not set. Input and output
	// only record activity (active); the connection's one heap entry is
	// moved only when a deadline comes earlier than it, and otherwise
	// looked at when it fires (see checkDeadlines).
	idle          int64 // Options.IdleTimeout
	active        int64 // when input or output last moved, if idle > 0
	readDeadline  int64
	writeDeadline int64

	timers *Timer // the connection's AfterFunc timers still to fire

	dial *dialState // an outbound connection until it has connected

	tls *tlsSession // a TLS connection (tls.go)
}

// pendingAction is a Close or Detach that waits for the output to be
// written.
type pendingAction uint8

const (
	pendingNone pendingAction = iota
	pendingClose
	pendingDetach
)

type connFlags uint16

const (
	flagReuseInput   connFlags = 1 << iota // Options.ReuseInputBuffer
	flagEOF                                // the peer has finished sending
	flagDirty                              // in loop.dirty
	flagEnded                              // Closed or Detached has fired: gone for the events, whatever the socket does
	flagLingering                          // ended, but the socket stays open until the peer finishes (see closeGracefully)
	flagHeld                               // not read from because of the server-wide output total; in loop.held
	flagPaused                             // PauseRead
	flagAboveHigh                          // the queue reached the high mark and has not yet fallen below the low one
	flagCloseWrite                         // CloseWrite: shut down the sending side once the output is written
	flagWriteClosed                        // the sending side is shut down
	flagWriteExpired                       // the write deadline passed with nothing queued: output now fails
	flagConnecting                         // an outbound connect is in progress: no events yet
	flagHandshaking                        // the TLS handshake is in progress (or waits for a slot): no events yet
)

func (c *conn) ended() bool { return c.flags&flagEnded != 0 }

// closeWritePending reports whether a CloseWrite waits for the output to
// be written.
func (c *conn) closeWritePending() bool {
	return c.flags&(flagCloseWrite|flagWriteClosed) == flagCloseWrite
}

// maxOutput is the connection's bound on queued output.
func (c *conn) maxOutput() int {
	if c.ext != nil && c.ext.maxOutput > 0 {
		return c.ext.maxOutput
	}
	return defaultMaxOutput
}

// waterMarks are the queue sizes at which the connection stops being read
// (high) and below which it is read again and Drained fires (low).
func (c *conn) waterMarks() (high, low int) {
	high = c.maxOutput()
	if c.ext == nil {
		return high, high
	}
	if c.ext.highWater > 0 && c.ext.highWater < high {
		high = c.ext.highWater
	}
	low = high
	if c.ext.lowWater > 0 && c.ext.lowWater < high {
		low = c.ext.lowWater
	}
	return high, low
}

// extend returns c.ext, allocating it the first time.
func (c *conn) extend() *connExt {
	if c.ext == nil {
		c.ext = new(connExt)
	}
	return c.ext
}

// origin is where a connection came from: for now always a listener
// (Serve's addresses); it carries what a connection reports about itself
// apart from its peer. Immutable once the loops run.
type origin struct {
	index    int         // Conn.AddrIndex: position in Serve's addresses
	addr     net.Addr    // the bound address, as Server.Addrs reports it
	family   int         // poll engine: the socket's address family
	fd       int         // poll engine: the listening or UDP socket
	unix     bool        // a unix socket: no keepalive, no IP addresses
	wildcard bool        // bound to an unspecified IP: each connection's local address is asked for
	datagram bool        // UDP
	dialed   bool        // an outbound connection of Handle.Dial; index is -1
	tls      *tls.Config // TLS for the connections it accepts; nil for plain

	packet net.PacketConn // portable engine: the UDP socket
}

// connAddrs caches a connection's addresses as net.Addr values.
type connAddrs struct {
	local, remote net.Addr
}

func (c *conn) Context() interface{}       { return c.ctx }
func (c *conn) SetContext(ctx interface{}) { c.ctx = ctx }
func (c *conn) AddrIndex() int             { return c.origin.index }
func (c *conn) LocalAddr() net.Addr        { return c.addrs().local }
func (c *conn) RemoteAddr() net.Addr       { return c.addrs().remote }

// addrs converts the connection's addresses on first use.
func (c *conn) addrs() *connAddrs {
	if a := c.addrCache.Load(); a != nil {
		return a
	}
	a := &connAddrs{local: c.origin.addr}
	switch {
	case c.origin.unix:
		a.remote = &net.UnixAddr{Net: "unix"}
	case c.origin.datagram:
		a.remote = net.UDPAddrFromAddrPort(c.remote.AddrPort())
	default:
		a.remote = net.TCPAddrFromAddrPort(c.remote.AddrPort())
		if c.origin.wildcard {
			local, ok := c.loop.tp.localAddr(c)
			if !ok {
				// The socket is gone and its address was never asked
				// for: the listener's is all that is known. Not cached,
				// so that it is never mistaken for the real one.
				return a
			}
			a.local = net.TCPAddrFromAddrPort(local.AddrPort())
		}
	}
	c.addrCache.Store(a)
	return a
}

// Wake is safe from any goroutine: only the call that sets asyncWoken posts
// the connection, so a burst of wakes costs one atomic operation each.
func (c *conn) Wake() {
	if c.setAsync(asyncWoken) {
		c.loop.post(task{kind: taskWake, c: c})
	}
}

// timerIndex and onTimer make a connection a timerTarget. Its one entry in
// the heap serves its deadlines and idle timeout while it is open, and the
// re-check of its lingering close after.
func (c *conn) timerIndex() *int32 { return &c.timer }

func (c *conn) onTimer(l *loop, now, arg int64) {
	if c.flags&flagLingering != 0 {
		l.recheckLinger(c, now, arg)
		return
	}
	if c.flags&flagConnecting != 0 {
		l.connectTimedOut(c, now)
		return
	}
	if c.flags&flagHandshaking != 0 {
		l.handshakeTimedOut(c, now)
		return
	}
	l.checkDeadlines(c, now)
}
