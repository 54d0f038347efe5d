package evio

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// Case 12, the canary: what the TLS layer relies on in crypto/tls, checked
// on crypto/tls alone, so that a Go release that changes it fails here,
// by name, rather than as a hang somewhere else.
//
//  1. A transport read error that is a net.Error with Temporary() true is
//     not kept: after (0, errWouldBlock), feeding a record and reading
//     again returns its plaintext (crypto/tls conn.go, readRecordOrCCS).
//  2. That error comes back from Read unwrapped, so the loop can tell it
//     from a failure with ==.
//  3. One Read returns one record's plaintext and asks the transport for
//     no more than that record once it has it: with a transport that
//     stops at record ends, crypto/tls holds nothing the loop does not
//     know about.
//  4. Each transport Write is a whole record (or flight) that crypto/tls
//     may reuse the memory of after the call: the transport copies.
func TestTLSCanary(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	tr := &canaryTransport{blocking: server}
	srv := tls.Server(tr, serverTLS(t))
	cli := tls.Client(client, clientTLS(t))
	errc := make(chan error, 1)
	go func() { errc <- cli.Handshake() }()
	if err := srv.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	tr.switchToBuffer()

	buf := make([]byte, 64<<10)
	n, err := srv.Read(buf)
	if n != 0 || err != errWouldBlock {
		t.Fatalf("Read with nothing buffered = (%d, %v), want (0, errWouldBlock) unwrapped", n, err)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("errWouldBlock does not match os.ErrDeadlineExceeded")
	}

	// Two records in one feed: each Read returns one of them, and the
	// transport is asked only up to the end of the first.
	go func() {
		cli.Write([]byte("first"))
		cli.Write([]byte("second"))
	}()
	tr.feed(t, 2)
	n, err = srv.Read(buf)
	if err != nil || string(buf[:n]) != "first" {
		t.Fatalf("Read after the would-block = (%q, %v), want \"first\": crypto/tls kept the temporary error", buf[:n], err)
	}
	if tr.given != tr.recordEnds[0] {
		t.Fatalf("crypto/tls was given %d bytes for a first record of %d", tr.given, tr.recordEnds[0])
	}
	n, err = srv.Read(buf)
	if err != nil || string(buf[:n]) != "second" {
		t.Fatalf("second Read = (%q, %v), want \"second\"", buf[:n], err)
	}
	n, err = srv.Read(buf)
	if n != 0 || err != errWouldBlock {
		t.Fatalf("Read past the records = (%d, %v), want (0, errWouldBlock)", n, err)
	}

	// Writes: each call a record, its memory reused after.
	writes := len(tr.writes)
	if _, err := srv.Write(bytes.Repeat([]byte("x"), 100)); err != nil {
		t.Fatal(err)
	}
	if len(tr.writes) != writes+1 {
		t.Fatalf("one small Write made %d transport writes, want 1", len(tr.writes)-writes)
	}
	if rec := tr.writes[len(tr.writes)-1]; len(rec) < recordHeaderLen+100 || rec[0] != 23 {
		t.Fatalf("the transport write is not an application_data record: % x", rec[:recordHeaderLen])
	}
}

// canaryTransport is the TLS layer's transport contract in miniature:
// blocking on a pipe for the handshake, then a buffer that says
// would-block when it is empty and never gives more than the rest of a
// record.
type canaryTransport struct {
	blocking net.Conn
	mu       sync.Mutex
	buffered bool
	in       []byte
	recLeft  int
	given    int // bytes given to crypto/tls since the switch
	// recordEnds are the offsets, in what was fed, where records end.
	recordEnds []int
	writes     [][]byte // copies of every write, in order
}

func (c *canaryTransport) switchToBuffer() {
	c.mu.Lock()
	c.buffered = true
	c.mu.Unlock()
}

// feed reads n whole records from the pipe into the buffer.
func (c *canaryTransport) feed(t *testing.T, n int) {
	t.Helper()
	c.blocking.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < n; i++ {
		head := make([]byte, recordHeaderLen)
		if _, err := io.ReadFull(c.blocking, head); err != nil {
			t.Fatalf("feeding: %v", err)
		}
		body := make([]byte, int(head[3])<<8|int(head[4]))
		if _, err := io.ReadFull(c.blocking, body); err != nil {
			t.Fatalf("feeding: %v", err)
		}
		c.mu.Lock()
		c.in = append(append(c.in, head...), body...)
		c.recordEnds = append(c.recordEnds, c.given+len(c.in))
		c.mu.Unlock()
	}
}

func (c *canaryTransport) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.buffered {
		return c.blocking.Read(p)
	}
	if c.recLeft == 0 && len(c.in) >= recordHeaderLen {
		c.recLeft = recordHeaderLen + (int(c.in[3])<<8 | int(c.in[4]))
	}
	n := len(c.in)
	if n > c.recLeft {
		n = c.recLeft
	}
	if n == 0 {
		return 0, errWouldBlock
	}
	n = copy(p, c.in[:n])
	c.in = c.in[n:]
	c.recLeft -= n
	c.given += n
	return n, nil
}

func (c *canaryTransport) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, append([]byte(nil), p...))
	buffered := c.buffered
	c.mu.Unlock()
	if !buffered {
		return c.blocking.Write(p)
	}
	return len(p), nil
}

func (c *canaryTransport) Close() error                       { return c.blocking.Close() }
func (c *canaryTransport) LocalAddr() net.Addr                { return c.blocking.LocalAddr() }
func (c *canaryTransport) RemoteAddr() net.Addr               { return c.blocking.RemoteAddr() }
func (c *canaryTransport) SetDeadline(t time.Time) error      { return nil }
func (c *canaryTransport) SetReadDeadline(t time.Time) error  { return nil }
func (c *canaryTransport) SetWriteDeadline(t time.Time) error { return nil }
