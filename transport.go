package evio

import (
	"errors"
	"io"
	"time"

	"github.com/evio-go/evio/internal/socket"
)

// transport is what an engine does for one loop: wait for readiness and
// move bytes. The loop (loop.go) and the connection core (core.go) decide
// everything else: what to read and when, output bounds, actions, closing
// and lingering, timers, the order of events. An engine is a transport and
// the code that creates its listeners and loops (engine_poll.go for epoll
// and kqueue, engine_std.go for the portable engine on package net).
//
// Every method is called on the loop's goroutine, except wake, which any
// goroutine may call.
type transport interface {
	// poll waits until something is ready, the loop is woken or timeout
	// passes (forever when negative), calls l.woke, and hands each ready
	// connection to l.serve and each ready listener to the engine's own
	// accept. An error means the poller itself failed: the server stops.
	poll(timeout time.Duration) error
	// wake makes a poll in progress, or the next one, return. Any
	// goroutine; never blocks.
	wake()
	// handle runs an inbox task of kind taskIO: readiness or a datagram
	// that an engine's goroutine reported through the inbox.
	handle(t *task)

	// connect starts connecting c, an outbound connection, to d: at once
	// (connected), or in the background, reporting readiness of c when
	// the connect is done, after which finishConnect says how it went. An
	// error means it failed; c's socket is closed.
	connect(c *conn, d *dialState) (connected bool, err error)
	// finishConnect is the outcome of a connect that was in progress.
	finishConnect(c *conn) error

	// register starts watching a new connection for want; on error the
	// connection was not registered and the caller closes it.
	register(c *conn, want interest) error
	// arm changes what c is watched for, from c.armed to want.
	arm(c *conn, want interest) error
	// read reads what c's peer sent into p: (0, nil) at its end of
	// stream, (0, errAgain) when nothing is waiting. Other errors are the
	// connection's failure, as Closed reports it.
	read(c *conn, p []byte) (int, error)
	// write writes from c.out what the peer takes now, at most about
	// writeBudget bytes, reporting each write with l.wrote. An error is
	// the connection's failure.
	write(c *conn) error
	// drained reports whether the engine holds none of c's output any
	// more beyond what the socket itself holds. When it does not, a
	// writable readiness follows once it has (if c is armed for writing).
	drained(c *conn) bool
	// unsettled reports whether closing c now could make the kernel reset
	// it and destroy output in flight: unread input, or output the peer
	// has not acknowledged.
	unsettled(c *conn) bool
	// shutdownWrite sends c's peer an end of stream (FIN) after the
	// output already written.
	shutdownWrite(c *conn) error
	// writtenAt is the loop time (monotime) at which the engine last moved
	// some of c's output into its socket, for an engine that writes on
	// goroutines of its own; 0 for one that writes in the loop, where
	// l.wrote records it. The idle timeout counts it as activity.
	writtenAt(c *conn) int64
	// writeAside writes p to c's socket at once, without blocking, from a
	// goroutine other than the loop's, while the loop writes nothing to
	// it (a TLS handshake's flights); n < len(p) leaves the rest to the
	// caller, and an engine that cannot returns 0. The caller makes sure
	// the socket is open.
	writeAside(c *conn, p []byte) (n int)
	// setKeepAlive turns TCP keepalive on for c with the given period; a
	// no-op for unix sockets.
	setKeepAlive(c *conn, period time.Duration)
	// close closes c's socket; c is already unregistered from the loop.
	// With reset, queued output is discarded and a TCP peer gets a reset
	// (RST) instead of an end of stream.
	close(c *conn, reset bool)
	// detach stops watching c and hands its socket over as a blocking
	// stream. On error the socket is closed.
	detach(c *conn) (io.ReadWriteCloser, error)
	// sendTo sends one datagram from the UDP socket of o. Delivery is best
	// effort: a full socket buffer drops it.
	sendTo(o *origin, to socket.Addr, b []byte)
	// stopAccepting stops watching the listeners this loop accepts on,
	// for shutdown.
	stopAccepting()
	// localAddr asks c's socket for its local address; ok is false once
	// the socket is gone. Any goroutine: Conn.LocalAddr calls it.
	localAddr(c *conn) (a socket.Addr, ok bool)
	// exit runs on the loop's goroutine as the loop ends, after its last
	// poll: the engine releases what only that goroutine may touch (the
	// io_uring engine's ring, which accepts submissions from its thread
	// only).
	exit()
}

// interest is what a connection is watched for.
type interest uint8

const (
	wantRead interest = 1 << iota
	wantWrite
)

// ready is what a transport reports for a connection.
type ready uint8

const (
	readyRead   ready = 1 << iota // input, an end of stream or an error to read
	readyWrite                    // room for output
	readyHangup                   // the peer is gone or finished; a read or write tells which
	readyError                    // a socket error is pending; a read or write returns it
)

// errAgain is what transport.read returns when nothing is waiting.
var errAgain = errors.New("evio: nothing to read")

// writeBudget bounds the bytes one flush writes to one connection, so that a
// connection with a large queue and a fast reader cannot keep its loop from
// the others: what is left is written on the next iteration (the
// connection stays armed for writing, so the poller reports it at once).
const writeBudget = 512 << 10
