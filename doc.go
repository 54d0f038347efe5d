// Package evio is an event-loop networking library: a server gets callbacks
// for connections opening, data arriving and connections closing, and
// answers by returning bytes and an Action. It is a drop-in replacement for
// github.com/tidwall/evio v1.0.8 (same names, types and behaviour, minus its
// bugs) on a faster engine.
//
// A minimal echo server:
//
//	var events evio.Events
//	events.Data = func(c evio.Conn, in []byte) (out []byte, action evio.Action) {
//		return in, evio.None
//	}
//	if err := evio.Serve(events, "tcp://:5000"); err != nil {
//		log.Fatal(err)
//	}
//
// # Events
//
// Serving fires once, after every address is bound and before anything
// else. On one loop, Tick fires right after the loops start and then
// whenever its delay has passed. For each connection, Opened fires first,
// then Data for each read (and Data(c, nil) after each Conn.Wake), then
// Closed exactly once, or Detached instead of Closed. UDP datagrams fire only
// Data, once per datagram. PreWrite fires on a loop before each batch of
// socket writes.
//
// What an event returns runs in order: out is queued for writing, then the
// action runs once out has been written. So out returned with Close or
// Detach is delivered before the connection closes or is handed over.
// Shutdown, from any event, stops accepting, writes what every connection
// has queued (for at most five seconds), fires Closed for each connection
// and makes Serve return nil.
//
// # Goroutines
//
// Each loop is a goroutine. All events of one connection run on its loop,
// one at a time, so per-connection state (Conn.Context) needs no locking.
// With NumLoops above one, events of different connections run at the same
// time, and state shared between them needs locking; Tick and PreWrite run
// on loops too. Events should not block: a blocked event stalls every
// connection of its loop. Conn.Wake is the way to hand work back to a
// connection from another goroutine, and is safe to call from anywhere,
// including events.
//
// The slices passed to events and returned from them follow two rules: the
// in of Data is the callee's to keep unless Options.ReuseInputBuffer is set
// (then it is valid only during the call), and out is copied before the
// event returns control, so its memory may be reused at once.
//
// # Errors and limits
//
// Serve returns an error when an address cannot be listened on, or when the
// server fails as a whole (the poller itself failing). A failing connection
// is not a server failure: it is closed, Closed gets the socket error (the
// bare syscall.Errno, as evio passes it), and the other connections carry
// on. Running out of file descriptors
// pauses accepting with a back-off; open connections keep being served. A
// panic in an event is recovered into a *PanicError (see Events.NoRecover).
//
// Output is bounded: per connection by Options.MaxOutput (the connection
// stops being read from at the bound, and is closed with ErrOutputLimit if
// events push more), and across the server by Events.MaxTotalOutput. A
// connection closed while its peer is still sending lingers half-closed
// until the peer has its output, instead of being reset. The repository's
// docs/GUARANTEES.md lists every promise with the test that proves it.
//
// # Time and flow control
//
// Timeouts live on the loop, with no goroutine or runtime timer per
// connection: Options.IdleTimeout closes a connection whose input and
// output have not moved for a while; Conn.SetReadDeadline and
// SetWriteDeadline close it when the peer has not finished sending, or
// not taken its output, by an absolute time. Closed then gets
// ErrIdleTimeout, ErrReadDeadline or ErrWriteDeadline, each of which
// wraps os.ErrDeadlineExceeded. Conn.AfterFunc runs a function as an event
// of the connection after a delay, returning output and an action like
// Data; its Timer can be stopped or reset. Each loop keeps one timer heap
// and sleeps until its earliest entry; reads and writes only record that
// they happened, so timeouts cost the hot path nothing.
//
// Conn.PauseRead and ResumeRead stop and restart reading a connection
// (a proxy pausing one side while the other drains). Options.
// OutputHighWater stops reading a connection whose queued output reaches
// it; once the queue falls below Options.OutputLowWater, Events.Drained
// fires, so that a server that stopped producing at the high mark (see
// Conn.QueuedOutput) carries on: a request/response server answers until
// its output reaches the mark, keeps the rest of the input, and continues
// in Drained, with memory bounded whatever the peer pipelines.
//
// Events.HalfClosed keeps a connection open for output after its peer
// has finished sending; the CloseWrite action finishes the server's side
// (FIN) while it keeps reading. A stream that ends short is visible: a
// connection cut by its output bound, closed by a deadline or by the Abort
// action, or left with output at the end of the shutdown drain, is reset
// (RST), so its peer gets an error instead of a clean end of stream; an
// ordinary Close stays graceful.
//
// # From other goroutines
//
// Conn.Write queues bytes for a connection from any goroutine, in order
// with the output of its events and bounded by Options.MaxOutput
// (ErrOutputLimit); Conn.Close and Conn.Abort close it from anywhere.
// Start runs a server in the background and returns a Handle whose Stop
// drains and closes it for as long as a context allows, whose Dial makes
// outbound connections on the loops (the same events as accepted ones),
// and whose Counters reports what the server has done.
//
// # TLS
//
// Events.TLSConfig makes the stream listeners speak TLS with the standard
// crypto/tls (an address with tls=false stays plain, beside them), and
// DialOptions.TLSConfig makes an outbound connection TLS. Events see
// plaintext: Data's in is decrypted, out is encrypted, and every event,
// action, bound, deadline and counter keeps its meaning. A connection's
// events start when its handshake is done, so Opened can ask
// Conn.TLSConnectionState what was negotiated (ALPN, client
// certificates). The handshake runs on a short-lived goroutine of its own,
// bounded in number (Events.MaxTLSHandshakes) and in time
// (Events.TLSHandshakeTimeout), so configuration callbacks may block;
// everything after it runs on the loop, with no goroutine per connection.
// Close and CloseWrite send close_notify after the output; the peer's
// close_notify is an end of stream.
//
// # Engines
//
//	System                                  Engine
//	Linux                                   epoll
//	Linux 6.1 or later, any -uring address  io_uring (opt-in)
//	macOS, FreeBSD, NetBSD, OpenBSD, DragonFly  kqueue
//	Windows and others; any -net address    portable engine on package net
//
// The engines implement the same contract and pass the same tests;
// Server.Engine names the one that runs. The portable engine runs a reader
// goroutine per connection (and a writer while there is output), so it
// costs more memory and CPU per connection; it exists so that a program
// runs everywhere, and for comparison.
//
// The io_uring engine keeps one ring per loop: a multishot receive per
// connection into a ring of provided buffers (an idle connection holds
// none), at most one send in flight per connection, and one system call
// per loop iteration, which submits the iteration's sends and waits for
// the next completions. Each loop's goroutine stays on its own thread. It
// is opt-in until it wins the benchmarks (see the README); where the
// system refuses io_uring (an old kernel, the io_uring_disabled sysctl, a
// container's seccomp profile), the server runs on epoll and
// Server.EngineFallback says why, without logging.
package evio
