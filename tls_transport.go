package evio

import (
	"io"
	"net"
	"os"
	"time"

	"github.com/evio-go/evio/internal/buffer"
)

// The transport a TLS connection's tls.Conn runs over (tls.go): an
// in-memory net.Conn, blocking on a condition variable while the handshake
// goroutine drives it, never blocking once the loop does. Reads give
// crypto/tls whole records only; writes copy and always succeed. What
// crypto/tls relies on here is checked on each Go release by
// TestTLSCanary.

// errWouldBlock is what the transport's Read returns when it has nothing
// to give. crypto/tls keeps a transport's read error for good unless it is
// a net.Error whose Temporary method reports true, which it checks with a
// plain type assertion: so this value is returned as it is, never wrapped
// (TestTLSCanary guards the behaviour).
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "evio: tls: no whole record yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Is makes errors.Is(errWouldBlock, os.ErrDeadlineExceeded) hold, as for a
// net.Conn whose read deadline passed: the other reading of a temporary
// error that crypto/tls could come to rely on.
func (wouldBlock) Is(target error) bool { return target == os.ErrDeadlineExceeded }

// feed gives the handshake goroutine what the socket read (eof: its end).
func (hs *tlsHandshake) feed(b []byte, eof bool) {
	hs.mu.Lock()
	hs.in = append(hs.in, b...)
	hs.eof = hs.eof || eof
	if len(hs.in) >= handshakeInputCap {
		hs.full = true
	}
	hs.cond.Signal()
	hs.mu.Unlock()
}

// inputFull reports whether the handshake goroutine has as much input
// waiting as it may, or all there will be: the loop stops reading until
// it takes some, or until the handshake is done.
func (hs *tlsHandshake) inputFull() bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.full || hs.eof
}

// startRecord reads the header at the front of the input (at a record
// boundary, with at least recordHeaderLen bytes).
func (s *tlsSession) startRecord(h []byte) {
	s.recLeft = recordHeaderLen + (int(h[3])<<8 | int(h[4]))
}

// gave records that m bytes went to crypto/tls.
func (s *tlsSession) gave(m int) {
	s.recLeft -= m
	if s.recLeft < 0 {
		s.recLeft = 0 // a header cut by the end of the stream
	}
}

// recordReady reports whether a tls.Conn.Read would find a whole record
// (or the end of the stream, or a header crypto/tls will refuse) without
// asking for more: a Read that finds nothing costs an allocation in
// crypto/tls, and the loop calls none.
func (s *tlsSession) recordReady() bool {
	if s.held > 0 || s.eof {
		return true
	}
	avail := s.in.Len() + len(s.lent)
	if s.recLeft > 0 {
		return avail >= s.recLeft
	}
	var h [recordHeaderLen]byte
	if !s.peek(0, h[:]) {
		return false
	}
	size, valid := recordSize(h[:])
	return !valid || avail >= size
}

// recordSize is the size of the record whose header is h; valid is false
// for a header crypto/tls refuses at once.
func recordSize(h []byte) (size int, valid bool) {
	n := int(h[3])<<8 | int(h[4])
	return recordHeaderLen + n, h[0] >= 20 && h[0] <= 24 && n <= maxCiphertext
}

// peek copies len(h) bytes from offset off of the loop-mode input (in,
// then lent), and reports false if there are not that many.
func (s *tlsSession) peek(off int, h []byte) bool {
	if off+len(h) > s.in.Len()+len(s.lent) {
		return false
	}
	k := 0
	for i := 0; i < s.in.Chunks() && k < len(h); i++ {
		c := s.in.Chunk(i)
		if off >= len(c) {
			off -= len(c)
			continue
		}
		k += copy(h[k:], c[off:])
		off = 0
	}
	if k < len(h) {
		copy(h[k:], s.lent[off:])
	}
	return true
}

// Read is the transport's: crypto/tls reads through it.
func (s *tlsSession) Read(p []byte) (int, error) {
	switch s.mode {
	case modeHandshake:
		return s.hs.read(s, p)
	case modeDetached:
		if len(s.rest) > 0 {
			n := copy(p, s.rest)
			s.rest = s.rest[n:]
			return n, nil
		}
		return s.detached.Read(p)
	}
	// crypto/tls asks only when it holds no whole record. It gets every
	// whole record that fits in p, so that pipelined requests cost it one
	// read (and one allocation) together, and never the head of one that
	// is not whole, unless that one cannot fit at all or the stream ends
	// with it.
	s.held = 0
	avail := s.in.Len() + len(s.lent)
	n := 0
	if s.recLeft > 0 { // the rest of a record larger than p was
		n = s.recLeft
		if n > avail {
			n = avail
		}
		if n > len(p) {
			n = len(p)
		}
		s.recLeft -= n
	} else {
		var h [recordHeaderLen]byte
		for n < len(p) && s.peek(n, h[:]) {
			size, valid := recordSize(h[:])
			switch {
			case !valid:
				n = avail // crypto/tls refuses it at once
			case n+size > avail:
				// not whole yet
			case n+size <= len(p):
				n += size
				s.held++
				continue
			case n == 0: // whole, but larger than p: its head now
				n = len(p)
				s.recLeft = size - n
			}
			break
		}
		if n == 0 && s.eof {
			n = avail // the stream ends inside a record
		}
		if n > len(p) {
			n = len(p)
		}
	}
	if n == 0 {
		if s.eof && avail == 0 {
			return 0, io.EOF
		}
		return 0, errWouldBlock
	}
	pool := &s.c.loop.pool
	k := 0
	for k < n && s.in.Len() > 0 {
		m := copy(p[k:n], s.in.Pending())
		pool.Consume(&s.in, m)
		k += m
	}
	if k < n {
		m := copy(p[k:n], s.lent)
		s.lent = s.lent[m:]
	}
	return n, nil
}

// read is the transport's Read during the handshake, on its goroutine:
// it waits for input.
func (hs *tlsHandshake) read(s *tlsSession, p []byte) (int, error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for {
		if hs.closed {
			return 0, net.ErrClosed
		}
		avail := len(hs.in)
		if s.recLeft == 0 && avail >= recordHeaderLen {
			s.startRecord(hs.in)
		}
		n := avail
		if s.recLeft > 0 && n > s.recLeft {
			n = s.recLeft
		}
		if s.recLeft == 0 && !hs.eof {
			n = 0
		}
		if n > 0 {
			n = copy(p, hs.in[:n])
			hs.in = hs.in[n:]
			if len(hs.in) == 0 {
				hs.in = nil
			}
			s.gave(n)
			if hs.full && len(hs.in) < handshakeInputCap {
				hs.full = false
				if !hs.posted {
					hs.posted = true
					s.c.loop.post(task{kind: taskTLS, c: s.c}) // read again
				}
			}
			return n, nil
		}
		if hs.eof {
			return 0, io.EOF
		}
		hs.cond.Wait()
	}
}

// Write is the transport's: each call is a record (or a flight of the
// handshake) that crypto/tls may overwrite once it returns, so it is
// copied. It never fails while the connection is open: a failed Write
// would break the tls.Conn for good; the output bounds hold the peer back
// instead.
func (s *tlsSession) Write(p []byte) (int, error) {
	switch s.mode {
	case modeHandshake:
		hs := s.hs
		hs.mu.Lock()
		if hs.closed {
			hs.mu.Unlock()
			return 0, net.ErrClosed
		}
		n := len(p)
		if !hs.viaLoop {
			// Straight to the socket, which the loop does not write while
			// the handshake runs, and does not close while hs.mu is held
			// (forgetTLS sets closed first): no wakeup of the loop, no
			// copy, for a flight that nearly always fits.
			m := s.c.loop.tp.writeAside(s.c, p)
			if m > 0 {
				hs.asideBytes += uint64(m)
				hs.asideWrites++
			}
			if p = p[m:]; len(p) == 0 {
				hs.mu.Unlock()
				return n, nil
			}
			hs.viaLoop = true
		}
		hs.out = append(hs.out, p...)
		post := !hs.posted
		hs.posted = true
		hs.mu.Unlock()
		if post {
			s.c.loop.post(task{kind: taskTLS, c: s.c})
		}
		return n, nil
	case modeDetached:
		return s.detached.Write(p)
	}
	c := s.c
	if c.ended() {
		return 0, net.ErrClosed
	}
	l := c.loop
	// A record (up to 16 KiB and a bit) goes into pooled chunks, as many
	// as it takes, rather than a chunk of its own size: streaming output
	// is a record after another, and each would be an allocation.
	for rest := p; len(rest) > 0; {
		n := len(rest)
		if n > buffer.ChunkSize {
			n = buffer.ChunkSize
		}
		l.pool.Append(&c.out, rest[:n])
		rest = rest[n:]
	}
	l.queued += len(p)
	l.markDirty(c)
	return len(p), nil
}

// Close is the transport's. The loop never closes the tls.Conn (it sends
// close_notify with CloseWrite and closes the socket itself); after a
// Detach, closing the tls.Conn closes the stream.
func (s *tlsSession) Close() error {
	if s.mode == modeDetached {
		return s.detached.Close()
	}
	return nil
}

func (s *tlsSession) LocalAddr() net.Addr  { return s.c.LocalAddr() }
func (s *tlsSession) RemoteAddr() net.Addr { return s.c.RemoteAddr() }

// The deadline setters reach the stream after a Detach; before, the
// loop's own deadlines and the handshake timeout apply, and crypto/tls's
// calls (around close_notify) are no-ops.
func (s *tlsSession) SetDeadline(t time.Time) error {
	if nc, ok := s.detached.(net.Conn); ok && s.mode == modeDetached {
		return nc.SetDeadline(t)
	}
	return nil
}

func (s *tlsSession) SetReadDeadline(t time.Time) error {
	if nc, ok := s.detached.(net.Conn); ok && s.mode == modeDetached {
		return nc.SetReadDeadline(t)
	}
	return nil
}

func (s *tlsSession) SetWriteDeadline(t time.Time) error {
	if nc, ok := s.detached.(net.Conn); ok && s.mode == modeDetached {
		return nc.SetWriteDeadline(t)
	}
	return nil
}
