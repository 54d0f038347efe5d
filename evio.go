package evio

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// Action is what the server does after an event returns.
type Action int

const (
	// None indicates that no action should occur following an event.
	None Action = iota
	// Detach hands the connection over to the Detached event once its
	// pending output has been written. Ignored for UDP.
	Detach
	// Close closes the connection once its pending output has been
	// written. Ignored for UDP.
	Close
	// Shutdown shuts the whole server down: see Serve.
	Shutdown
	// CloseWrite shuts down the connection's sending side once its
	// pending output has been written: the peer reads an end of stream
	// (FIN), and the connection stays open for reading. It closes when the
	// peer finishes sending too. Output returned after CloseWrite closes
	// the connection with ErrWriteClosed. Ignored for UDP.
	CloseWrite
	// Abort closes the connection at once, discarding its queued output,
	// and the peer sees a reset (RST), not an end of stream, so that it
	// cannot take a truncated reply for a complete one. Output returned
	// with Abort is discarded too. Ignored for UDP.
	Abort
)

// LoadBalance sets how accepted connections are spread over the loops.
type LoadBalance int

const (
	// Random assigns each new connection to a loop chosen uniformly at
	// random.
	Random LoadBalance = iota
	// RoundRobin assigns new connections to the loops in turn.
	RoundRobin
	// LeastConnections assigns each new connection to the loop with the
	// fewest open connections (the lowest-numbered one on a tie).
	LeastConnections
)

// Options are per-connection settings, returned by the Opened event.
type Options struct {
	// TCPKeepAlive, when positive, turns SO_KEEPALIVE on for a TCP
	// connection and sets both the idle time before the first probe and
	// the interval between probes to this duration, rounded up to whole
	// seconds. Zero leaves the operating system's defaults. It is ignored
	// for unix sockets.
	TCPKeepAlive time.Duration
	// ReuseInputBuffer makes the in slice passed to Data alias a buffer
	// owned by the connection's loop, valid only until Data returns; the
	// next read on that loop overwrites it. It saves one allocation and
	// one copy per read. When false (the default) in is a fresh copy that
	// the callee owns and may keep.
	ReuseInputBuffer bool
	// MaxOutput bounds the bytes queued for the connection and not yet
	// taken by its peer (beyond what the socket's buffer holds); 0 means
	// 64 MiB, and any positive int means what it says. While the queue is
	// at the bound, the connection is not read from, so a peer that sends
	// but does not read is held back by TCP flow control; reading resumes
	// as soon as the queue falls below it (or below OutputLowWater, if
	// OutputHighWater is set). An event that returns output while the
	// queue is at the bound closes the connection instead, with a reset
	// (RST), and Closed gets ErrOutputLimit: output pushed (by Wake) to a
	// peer that does not keep up cannot grow without bound. The output of
	// one event may take the queue past the bound; it is never cut.
	MaxOutput int
	// OutputHighWater is the queue size at which the connection stops
	// being read from, so that a server can bound its memory against a
	// peer that sends requests but does not read the replies; 0 means
	// MaxOutput, and a larger value counts as MaxOutput. Unlike MaxOutput
	// it cuts nothing: events may still return output above it.
	OutputHighWater int
	// OutputLowWater is the mark a queue that reached OutputHighWater
	// must fall below before the connection is read from again; then the
	// Drained event fires, before any more input is read. 0 means the high
	// mark; 1 means the queue must be empty. A value above the high mark
	// counts as the high mark.
	OutputLowWater int
	// IdleTimeout, when positive, closes the connection when neither its
	// input nor its output has moved for this long: Closed gets
	// ErrIdleTimeout. The close is graceful when nothing is queued, and a
	// reset (RST) when output is still waiting for the peer.
	IdleTimeout time.Duration
}

// Server describes a running server. It is passed to the Serving event.
type Server struct {
	// Addrs holds the listening addresses, in the order of the addr
	// arguments of Serve (Conn.AddrIndex indexes it). An address given
	// with port 0 or without a port shows the port actually bound.
	Addrs []net.Addr
	// NumLoops is the number of event loops the server runs.
	NumLoops int
	// Engine names the engine the loops run on: "epoll" or "kqueue" (the
	// default), "io_uring" (asked for with the -uring scheme suffix, on
	// Linux), or "net" (the portable engine, asked for with -net, and the
	// only one where the system has neither epoll nor kqueue).
	Engine string
	// EngineFallback is nil unless io_uring was asked for and the system
	// refused it (a kernel older than 6.1, the io_uring_disabled sysctl,
	// a container's seccomp profile): it then wraps ErrIOUringUnavailable
	// and the system's error, and the server runs on Engine instead, with
	// the same events and guarantees. Nothing is logged.
	EngineFallback error
}

// Events holds the callbacks of a server and its settings. Every field is
// optional. Each event returns an Action that tells the server what to do
// next; the package documentation gives the order in which events fire and
// the goroutine each one runs on.
type Events struct {
	// NumLoops sets the number of event loops, each a goroutine with its
	// own poller. 0 or 1 runs one loop, N runs N loops and a negative value
	// runs runtime.NumCPU() loops. With more than one loop, events of
	// different connections run concurrently, so state shared between
	// connections needs locking; the events of one connection always run
	// serially on one loop.
	NumLoops int
	// LoadBalance sets how new connections are assigned to loops. It
	// matters only when there is more than one loop.
	LoadBalance LoadBalance
	// Serving fires once, on the goroutine that called Serve, after every
	// address is bound and before any other event. Returning Shutdown makes
	// Serve return nil at once; other actions are ignored.
	Serving func(server Server) (action Action)
	// Opened fires when a connection has been accepted (on a TLS
	// listener: once its handshake is done), before any other event of
	// that connection. out is written to the connection first,
	// opts apply to it, and action runs after out has been written. It does
	// not fire for UDP.
	Opened func(c Conn) (out []byte, opts Options, action Action)
	// Closed fires once when a connection has closed: after the peer's EOF
	// and after a Close or Abort action (err is nil), after a socket error
	// (err is the syscall.Errno of the failed read or write, itself, as
	// evio passes it: err == syscall.ECONNRESET holds), when its output
	// bound cut it (ErrOutputLimit), at a timeout (ErrIdleTimeout,
	// ErrReadDeadline, ErrWriteDeadline), after output that followed
	// CloseWrite (ErrWriteClosed), after a panic in its events
	// (*PanicError) and at shutdown (err is nil). It does not fire for detached connections or
	// for UDP. It fires before the socket is released, so the connection's
	// addresses can still be asked for. Returning Shutdown shuts the server
	// down; other actions are ignored.
	Closed func(c Conn, err error) (action Action)
	// Detached fires after a Detach action, once the connection's pending
	// output has been written. The connection has left its loop: rwc is a
	// blocking stream that the callee owns and must close; it may be used
	// from any goroutine, and on the epoll/kqueue engine it is a net.Conn.
	// If Detached is nil, a Detach action closes the connection instead.
	// Returning Shutdown shuts the server down; other actions are ignored.
	Detached func(c Conn, rwc io.ReadWriteCloser) (action Action)
	// PreWrite fires on a loop before each batch of socket writes, so that
	// whatever must be durable before a reply leaves (an append-only log,
	// say) can be flushed once for the whole batch. It also fires before a
	// UDP reply is sent.
	PreWrite func()
	// Data fires when a connection has received data, with in holding it,
	// and with in == nil after each Conn.Wake. out is queued to be written
	// after the event, and action runs after out has been written. See
	// Options.ReuseInputBuffer for how long in stays valid; out is copied,
	// so the callee may reuse its memory after returning.
	Data func(c Conn, in []byte) (out []byte, action Action)
	// Drained fires when the output queue of a connection that reached
	// its high mark (Options.OutputHighWater) falls below its low mark
	// (Options.OutputLowWater), once per crossing, before the connection
	// is read from again: a server that stopped producing at the high
	// mark carries on here. out and action are as for Data.
	Drained func(c Conn) (out []byte, action Action)
	// HalfClosed fires when the peer has shut down its sending side (an
	// end of stream) while the server may still write. The connection
	// stays open for output, returned here or from later events (Wake,
	// Drained, timers), until an event returns Close; it is no longer
	// read from. If HalfClosed is nil, an end of stream closes the
	// connection once its queued output has been written, as in evio.
	// When the server has already shut down its own side (CloseWrite),
	// the connection closes without this event.
	HalfClosed func(c Conn) (out []byte, action Action)
	// Tick fires on one loop right after the loops start, then again delay
	// after each return (at once for a delay of zero or less). Only the
	// Shutdown action is honoured.
	Tick func() (delay time.Duration, action Action)

	// MaxTotalOutput bounds the bytes queued across all connections of the
	// server; 0 means 1 GiB. Once the total reaches it, every connection
	// with more than 64 KiB queued counts as being at its MaxOutput (not
	// read from; closed with ErrOutputLimit if an event adds output), so
	// that many slow readers together cannot take all memory, while
	// connections with small replies carry on.
	MaxTotalOutput int
	// TLSConfig, when not nil, makes the server speak TLS, with the
	// standard crypto/tls, on every TCP and unix listener except those
	// whose address has tls=false (tcp://:6379?tls=false beside
	// tcp://:6380 serves plain and TLS side by side); an address with
	// tls=true and no TLSConfig is an error. Data sees plaintext and out is
	// encrypted; every event, action, bound, deadline and counter keeps its
	// meaning, with the output bounds counted in encrypted bytes.
	// Close and CloseWrite send close_notify after the output, and a
	// peer's close_notify is an end of stream. A connection's events start
	// when its handshake is done (Opened can ask TLSConnectionState for
	// the ALPN protocol); a connection whose handshake fails or times out
	// ends without events (Counters counts it). The handshake runs on a
	// short-lived goroutine of its own, so the configuration's callbacks
	// (GetCertificate, GetConfigForClient, VerifyConnection) may block;
	// everything after it runs on the loop, with no goroutine per
	// connection. Renegotiation is refused, as crypto/tls's server does.
	// Detached receives the *tls.Conn, which goes on over the socket.
	TLSConfig *tls.Config
	// TLSHandshakeTimeout bounds a TLS handshake, counted from the accept;
	// 0 means 10 seconds.
	TLSHandshakeTimeout time.Duration
	// MaxTLSHandshakes bounds the TLS handshakes in flight across the
	// server (each loop gets an equal share). A handshake starts when the
	// client's first bytes arrive, so a silent client holds none; one
	// beyond the bound waits (its input buffered, up to 64 KiB) for a
	// handshake to end, within its own handshake timeout, so that slow
	// clients cannot make the server hold a goroutine and its buffers
	// each. 0 means 1024; a negative value means no bound.
	MaxTLSHandshakes int

	// NoRecover lets a panic in an event crash the program, as it would
	// without evio. By default a panic is recovered and becomes a
	// *PanicError: in Opened or Data it closes that connection (Closed gets
	// the error) and the server keeps serving; in Serving, Tick or PreWrite
	// it shuts the server down and Serve returns it; in Closed or Detached,
	// whose connection is already gone, it is dropped.
	NoRecover bool
}

// Serve starts a server on the given addresses and blocks until it shuts
// down. It returns nil after a Shutdown action, and an error if an address
// cannot be used or the server fails; nothing stays listening after it
// returns.
//
// An address has the form scheme://address[?key=value&...]; without a
// scheme it is tcp. The schemes are:
//
//	tcp    IPv4 and IPv6 (tcp://:8080, tcp://127.0.0.1:8080, tcp://[::1]:8080)
//	tcp4   IPv4 only
//	tcp6   IPv6 only
//	udp    IPv4 and IPv6 datagrams
//	udp4   IPv4 datagrams only
//	udp6   IPv6 datagrams only
//	unix   a unix domain stream socket at a file path (unix:///tmp/evio.sock)
//
// An empty address (tcp://) listens on a free port; Server.Addrs reports it.
// A scheme ending in -net (tcp-net://) runs the whole server on the portable
// engine built on package net; one ending in -uring (tcp-uring://), on the
// io_uring engine where the system allows it (Linux 6.1 or later), and on
// epoll or kqueue otherwise, which Server.EngineFallback reports. The two
// suffixes in one server are an error. The query key reuseport (tcp://:8080?reuseport=true)
// sets SO_REUSEPORT, so that other processes can listen on the same port;
// its value is true when it starts with t, T, y, Y or a digit 1-9. With
// more than one loop, on Linux, it also gives each loop a socket of its
// own on the port (TCP and UDP): the kernel spreads connections over them
// and each loop serves what its socket accepts, with no hand-off between
// loops (LoadBalance does not apply to such an address). Unknown keys are
// ignored. For unix, a stale socket file at the path is removed
// before listening, and the file is removed at shutdown; a path that is a
// regular file or a directory is an error and is left alone.
//
// Shutdown, from any event, stops accepting, writes what every connection
// already has queued (for at most a few seconds), fires Closed for each
// connection, closes the listeners and removes unix socket files.
func Serve(events Events, addr ...string) error {
	return serve(events, addr, nil)
}

// ErrOutputLimit is the error Closed reports for a connection closed
// because an event returned output while the connection's queue was at its
// bound (see Options.MaxOutput and Events.MaxTotalOutput): its peer was not
// reading fast enough.
var ErrOutputLimit = errors.New("evio: output limit exceeded")

// ErrIOUringUnavailable is what Server.EngineFallback wraps when a server
// asked for io_uring runs on another engine because the system refused it.
var ErrIOUringUnavailable = errors.New("evio: io_uring is not available")

// ErrWriteClosed is the error Closed reports for a connection whose event
// returned output after the CloseWrite action.
var ErrWriteClosed = errors.New("evio: output after CloseWrite")

// The errors Closed reports for a connection closed by a timeout. Each
// wraps os.ErrDeadlineExceeded, so errors.Is(err, os.ErrDeadlineExceeded)
// holds for all three, and errors.Is against one of them tells which.
var (
	// ErrIdleTimeout: neither input nor output moved for
	// Options.IdleTimeout.
	ErrIdleTimeout = fmt.Errorf("evio: idle timeout: %w", os.ErrDeadlineExceeded)
	// ErrReadDeadline: the read deadline passed (Conn.SetReadDeadline).
	ErrReadDeadline = fmt.Errorf("evio: read deadline exceeded: %w", os.ErrDeadlineExceeded)
	// ErrWriteDeadline: the write deadline passed with output the peer had
	// not taken (Conn.SetWriteDeadline).
	ErrWriteDeadline = fmt.Errorf("evio: write deadline exceeded: %w", os.ErrDeadlineExceeded)
)

// PanicError is the error an event's panic turns into (unless
// Events.NoRecover is set). Closed receives it when the panic happened in
// Opened or Data of that connection; Serve returns it when the panic
// happened in Serving, Tick or PreWrite.
type PanicError struct {
	Event string      // the event that panicked: "Data", "Tick", ...
	Value interface{} // the value passed to panic
	Stack []byte      // the panicking goroutine's stack, from runtime/debug.Stack
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("evio: panic in %s: %v", e.Event, e.Value)
}

// Unwrap returns the panic value if it is an error, so that errors.Is and
// errors.As see through the panic.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
