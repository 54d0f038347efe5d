package evio

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/evio-go/evio/internal/buffer"
)

// TLS on the loop, on the standard crypto/tls (see docs/ARCHITECTURE.md,
// "TLS"). A tls.Conn runs over a tlsSession, an in-memory transport that
// the loop feeds with what the socket read and that appends the records
// crypto/tls writes to the connection's output queue. After the handshake
// every Read, Write and close_notify happens on the loop, and a Read that
// finds no whole record gets a would-block error, which crypto/tls does not
// keep. The handshake cannot be resumed that way (its state lives on the
// stack of the goroutine that runs it), so it runs on a goroutine of its
// own, over the same transport in blocking mode, bounded in number
// (Events.MaxTLSHandshakes, per loop a share) and in time (the
// connection's one heap entry). Until it has ended the loop calls nothing
// on the tls.Conn: a Read would make the handshake fail for good, and
// ConnectionState would wait for the handshake's lock.
//
// The transport gives crypto/tls whole records only (Read), and counts
// them (held), so the loop calls Read only when a whole record is waiting
// (recordReady): a Read that finds nothing is never made. Every read
// crypto/tls makes from its transport allocates 24 bytes (readFromUntil's
// atLeastReader, which escapes), the one allocation per request that no
// transport can avoid without a fork of crypto/tls; a Read until
// would-block would make it three (TestTLSRoundTripAllocations), and
// records that arrive together share one.

const (
	// defaultTLSHandshakeTimeout bounds a handshake, from the accept (or
	// the connect), when Events.TLSHandshakeTimeout is 0.
	defaultTLSHandshakeTimeout = 10 * time.Second
	// defaultMaxTLSHandshakes is the server's bound on handshakes in
	// flight when Events.MaxTLSHandshakes is 0.
	defaultMaxTLSHandshakes = 1024
	// handshakeInputCap is how much input a connection may have waiting
	// for its handshake goroutine before the loop stops reading it.
	handshakeInputCap = 64 << 10

	recordHeaderLen = 5
	// maxPlaintext is the most plaintext one record carries, and so one
	// tls.Conn.Read returns.
	maxPlaintext = 16 << 10
	// maxCiphertext is the largest record crypto/tls accepts.
	maxCiphertext = maxPlaintext + 2048
)

// tlsMode says who drives a session's tls.Conn.
type tlsMode uint8

const (
	modeHandshake tlsMode = iota // the handshake goroutine, blocking on tlsHandshake
	modeLoop                     // the loop, never blocking
	modeDetached                 // whoever has the Detached stream
)

// tlsSession is a TLS connection's state, and the transport (a net.Conn)
// its tls.Conn reads and writes. It changes mode only on the loop, at the
// end of the handshake (observed through the inbox) or at Detach.
type tlsSession struct {
	c    *conn
	tc   *tls.Conn
	hs   *tlsHandshake // until the handshake has ended
	mode tlsMode

	// modeLoop: input the socket gave that crypto/tls has not taken, in
	// the loop's pooled chunks, then lent: the loop's read buffer, during
	// the drain that follows a read.
	in   *buffer.Output
	lent []byte
	// held counts the whole records crypto/tls took and has not yet read
	// through (an estimate: one Read goes through at least one; when it
	// went through more, the next Read asks for input and it is 0 again).
	held int
	// recLeft counts the bytes of the record crypto/tls is reading that it
	// has not been given; 0 at a record boundary.
	recLeft int
	eof     bool // the socket's end of stream came after in and lent

	notified    bool  // close_notify is queued
	failed      bool  // crypto/tls failed (and sent its alert): no close_notify
	drainPosted bool  // a taskTLS asks the loop to drain input that waited
	closeErr    error // what Closed gets after a close that waited for close_notify

	detached io.ReadWriteCloser // modeDetached: the socket's stream
	rest     []byte             // modeDetached: input read before the Detach
}

// tlsHandshake is what a session shares with its handshake goroutine,
// under mu; dropped when the handshake ends.
type tlsHandshake struct {
	mu       sync.Mutex
	cond     sync.Cond // the goroutine waits here for input
	in       []byte    // fed by the loop, taken by the goroutine
	out      []byte    // written by the goroutine, taken by the loop
	full     bool      // in reached handshakeInputCap: the loop stopped reading
	eof      bool      // the socket's end of stream follows in
	closed   bool      // the connection ended: the goroutine's reads and writes fail
	posted   bool      // a taskTLS is in the inbox
	finished bool      // the handshake returned, with err
	err      error
	// viaLoop is set once a write went through the loop (out): from then
	// on every write does, to keep their order. Before, the goroutine
	// writes to the socket itself (transport.writeAside), counted in
	// asideBytes and asideWrites for the loop's counters.
	viaLoop                 bool
	asideBytes, asideWrites uint64

	// The loop's alone.
	deadline int64 // loop time by which it must be done
	started  bool  // it has a goroutine
	queued   bool  // it waits in loop.handshakeQueue for a slot
	released bool  // its slot was given back
	cancel   context.CancelFunc
}

// tlsSession returns c's TLS session, or nil for a plain connection.
func (c *conn) tlsSession() *tlsSession {
	if c.ext == nil {
		return nil
	}
	return c.ext.tls
}

func (c *conn) TLSConnectionState() (tls.ConnectionState, bool) {
	s := c.tlsSession()
	if s == nil || s.tc == nil || c.flags&flagHandshaking != 0 {
		return tls.ConnectionState{}, false
	}
	return s.tc.ConnectionState(), true
}

// beginHandshake makes c, registered and counted as open, a TLS
// connection whose handshake starts now, or when a slot is free. Until it
// ends c has no events.
func (l *loop) beginHandshake(c *conn, config *tls.Config, client bool, deadline int64) {
	s := &tlsSession{c: c, hs: &tlsHandshake{}}
	s.hs.cond.L = &s.hs.mu
	if client {
		s.tc = tls.Client(s, config)
	} else {
		s.tc = tls.Server(s, config)
	}
	c.extend().tls = s
	c.flags |= flagHandshaking
	limit := addTime(monotime(), int64(l.server.handshakeTimeout()))
	if deadline == 0 || limit < deadline {
		deadline = limit
	}
	s.hs.deadline = deadline
	l.timers.scheduleBy(c, deadline)
	if client {
		l.startHandshake(s) // the client speaks first
	}
	// A server's handshake starts when the ClientHello comes (tlsInput):
	// a client that sends nothing holds no goroutine and no slot.
}

// requestHandshake starts c's handshake, or queues it until a slot is
// free.
func (l *loop) requestHandshake(c *conn, s *tlsSession) {
	if l.handshakes < l.server.handshakesPerLoop {
		l.startHandshake(s)
		return
	}
	s.hs.queued = true
	l.handshakeQueue = append(l.handshakeQueue, c)
}

// startHandshake runs s's handshake on a goroutine of its own.
func (l *loop) startHandshake(s *tlsSession) {
	hs := s.hs
	hs.started, hs.queued = true, false
	l.handshakes++
	l.yieldToHandshakes = true
	ctx, cancel := context.WithCancel(context.Background())
	hs.cancel = cancel
	l.server.handshakeGoroutines.Add(1)
	go s.runHandshake(ctx, hs, l.server)
}

// runHandshake is the handshake goroutine: it runs the handshake over the
// blocking transport and posts its end to the loop. A panic in the
// configuration's callbacks (GetCertificate, VerifyConnection, ...) fails
// the handshake, unless Events.NoRecover lets it crash the program.
func (s *tlsSession) runHandshake(ctx context.Context, hs *tlsHandshake, srv *server) {
	defer srv.handshakeGoroutines.Done()
	err := func() (err error) {
		if !srv.events.NoRecover {
			defer func() {
				if r := recover(); r != nil {
					err = &PanicError{Event: "TLS handshake", Value: r, Stack: debug.Stack()}
				}
			}()
		}
		return s.tc.HandshakeContext(ctx)
	}()
	hs.mu.Lock()
	hs.finished, hs.err = true, err
	post := !hs.posted
	hs.posted = true
	hs.mu.Unlock()
	if post {
		s.c.loop.post(task{kind: taskTLS, c: s.c})
	}
}

// serveTLS handles taskTLS: output or the end of c's handshake, or, after
// it, input that waited while c was not read from.
func (l *loop) serveTLS(c *conn) {
	s := c.tlsSession()
	hs := s.hs
	if hs == nil {
		s.drainPosted = false
		if !c.ended() && s.mode == modeLoop && l.wantsRead(c) {
			l.drainTLS(c, s, false)
		}
		return
	}
	hs.mu.Lock()
	out := hs.out
	hs.out = nil
	finished, err := hs.finished, hs.err
	hs.posted = false
	l.counters.bytesOut += hs.asideBytes
	l.counters.writes += hs.asideWrites
	hs.asideBytes, hs.asideWrites = 0, 0
	hs.mu.Unlock()
	if finished && hs.started && !hs.released {
		hs.released = true
		l.handshakeSlotFreed()
	}
	if c.ended() {
		return
	}
	if len(out) > 0 {
		l.pool.Append(&c.out, out)
		l.queued += len(out)
	}
	l.markDirty(c) // write what came; read again if input had filled up
	if finished {
		l.handshakeDone(c, s, err)
	}
}

// handshakeSlotFreed starts the next waiting handshake, if any.
func (l *loop) handshakeSlotFreed() {
	l.handshakes--
	for len(l.handshakeQueue) > 0 && l.handshakes < l.server.handshakesPerLoop {
		c := l.handshakeQueue[0]
		l.handshakeQueue[0] = nil
		l.handshakeQueue = l.handshakeQueue[1:]
		if !c.ended() {
			l.startHandshake(c.ext.tls)
		}
	}
	if len(l.handshakeQueue) == 0 {
		l.handshakeQueue = nil // let a burst's array go
	}
}

// handshakeDone switches c to the loop once its handshake has ended well,
// fires Opened, and reads what crypto/tls or the transport already holds:
// the client's first request may have come with its Finished, and no
// readiness would report it again.
func (l *loop) handshakeDone(c *conn, s *tlsSession, err error) {
	if err != nil {
		// The alert crypto/tls sent goes out first, and the close is
		// graceful (lingering while input is unread), so that the peer
		// reads the alert rather than a reset.
		// settle closes once the engine holds none of it (drained).
		s.failed = true
		s.closeErr = fmt.Errorf("evio: tls handshake: %w", err)
		c.action = pendingClose
		l.markDirty(c)
		return
	}
	hs := s.hs
	hs.cancel()
	s.hs = nil
	s.mode = modeLoop
	s.eof = hs.eof
	l.pool.Append(&s.in, hs.in)
	c.flags &^= flagHandshaking
	l.timers.cancel(c)
	l.counters.tlsHandshakes++
	l.opened(c)
	if c.ended() {
		return
	}
	if c.async.Load()&asyncWoken != 0 {
		l.post(task{kind: taskWake, c: c}) // woken during the handshake
	}
	if l.wantsRead(c) {
		l.drainTLS(c, s, true)
	}
}

// handshakeTimedOut is the timer of a connection in its handshake.
func (l *loop) handshakeTimedOut(c *conn, now int64) {
	hs := c.ext.tls.hs
	if now < hs.deadline {
		l.timers.schedule(c, hs.deadline, 0)
		return
	}
	l.closeConn(c, fmt.Errorf("evio: tls handshake: %w", os.ErrDeadlineExceeded))
}

// tlsInput takes what c's socket read: for the handshake goroutine, or
// decrypted and delivered now.
func (l *loop) tlsInput(c *conn, s *tlsSession, b []byte) {
	if hs := s.hs; hs != nil {
		hs.feed(b, false)
		switch {
		case hs.started:
			// Let it run before the loop sleeps: on one P, a goroutine
			// woken while the loop waits in epoll_wait runs only once
			// the runtime takes the P back from the waiting thread.
			l.yieldToHandshakes = true
		case !hs.queued:
			l.requestHandshake(c, s)
		}
		return
	}
	s.lent = b
	l.drainTLS(c, s, false)
	if len(s.lent) > 0 && !c.ended() {
		l.pool.Append(&s.in, s.lent) // a record's head: it waits for its tail
	}
	s.lent = nil
}

// tlsEnd takes c's socket's end of stream.
func (l *loop) tlsEnd(c *conn, s *tlsSession) {
	if hs := s.hs; hs != nil {
		if !hs.started && c.origin.tls != nil {
			// A client that leaves before its handshake could start
			// will not finish one.
			l.closeConn(c, fmt.Errorf("evio: tls handshake: %w", io.ErrUnexpectedEOF))
			return
		}
		// The handshake may still end well with what came before: the
		// loop stops reading (inputFull) and drains once it is done.
		hs.feed(nil, true)
		l.markDirty(c)
		return
	}
	s.eof = true
	l.drainTLS(c, s, false)
	if !c.ended() && c.flags&flagEOF == 0 {
		l.peerFinished(c)
	}
}

// drainTLS delivers the plaintext of the whole records waiting for c, as
// long as c is read from, up to 64 KiB per Data event. force makes it call
// Read once whatever the framing says (at the end of the handshake).
func (l *loop) drainTLS(c *conn, s *tlsSession, force bool) {
	if l.plain == nil {
		l.plain = make([]byte, readBufferSize)
	}
	buf := l.plain
	for !c.ended() && l.wantsRead(c) {
		n := 0
		var err error
		for len(buf)-n >= maxPlaintext && (force || s.recordReady()) {
			force = false
			var m int
			m, err = s.tc.Read(buf[n:])
			n += m
			if s.held > 0 {
				s.held--
			}
			if err != nil {
				break
			}
		}
		if n > 0 {
			in := buf[:n]
			if c.flags&flagReuseInput == 0 {
				in = append([]byte(nil), in...)
			}
			l.fireData(c, in)
			if c.ended() {
				return
			}
		}
		switch {
		case err == nil:
			if n == 0 {
				return // no whole record waits
			}
		case err == errWouldBlock:
			return
		case err == io.EOF: // close_notify, or the socket's end at a record boundary
			if c.flags&flagEOF == 0 {
				l.peerFinished(c)
			}
			return
		default:
			l.tlsFailed(c, s, err)
			return
		}
	}
}

// tlsFailed closes c after a TLS error (an alert from the peer, a record
// that does not decrypt, a stream cut inside a record), once the alert
// crypto/tls queued for the peer is written.
func (l *loop) tlsFailed(c *conn, s *tlsSession, err error) {
	s.failed = true
	s.closeErr = err
	c.action = pendingClose
	l.markDirty(c)
}

// tlsResume asks for a drain of input that waited while c was not read
// from, once c is read from again: no readiness will report it.
func (l *loop) tlsResume(c *conn, s *tlsSession) {
	if s.mode == modeLoop && !s.drainPosted && s.recordReady() {
		s.drainPosted = true
		l.post(task{kind: taskTLS, c: c})
	}
}

// encrypt queues out for c as TLS records.
func (l *loop) encrypt(c *conn, s *tlsSession, out []byte) {
	if s.failed {
		return // only the alert leaves now
	}
	if _, err := s.tc.Write(out); err != nil {
		l.abortConn(c, err)
	}
}

// notify queues a close_notify alert after c's output, once: the peer can
// tell the end of the stream from a cut. It reports whether it queued it.
func (s *tlsSession) notify() bool {
	if s.mode != modeLoop || s.notified || s.failed {
		return false
	}
	s.notified = true
	s.tc.CloseWrite()
	return s.c.out.Len() > 0
}

// forgetTLS releases what c's session holds as c ends: a handshake in
// flight is told to stop (a connection accepted and not yet opened ends
// without events, and counts as a failed handshake).
func (l *loop) forgetTLS(c *conn, s *tlsSession) {
	if hs := s.hs; hs != nil {
		l.counters.tlsFailures++
		hs.mu.Lock()
		hs.closed = true
		hs.in, hs.out = nil, nil
		hs.cond.Broadcast()
		hs.mu.Unlock()
		if hs.cancel != nil {
			hs.cancel()
		}
	}
	l.pool.Reset(&s.in)
	s.lent = nil
}

// detachTLS hands c's tls.Conn over with the socket's stream underneath:
// the input read before comes first.
func (l *loop) detachTLS(s *tlsSession) {
	s.rest = make([]byte, 0, s.in.Len()+len(s.lent))
	for i := 0; i < s.in.Chunks(); i++ {
		s.rest = append(s.rest, s.in.Chunk(i)...)
	}
	s.rest = append(s.rest, s.lent...)
	l.pool.Reset(&s.in)
	s.lent = nil
	s.mode = modeDetached
}
