package evio

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"math/rand"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// The twelve cases of TLS on a loop (docs/GUARANTEES.md, "TLS"), on both
// engines, with Go's crypto/tls as the client and, where Go cannot send
// it (KeyUpdate, renegotiation), openssl s_client (tls_openssl_test.go).

// tlsEchoEvents echoes plaintext on a TLS listener.
func tlsEchoEvents(t testing.TB) Events {
	events := echoEvents()
	events.TLSConfig = serverTLS(t)
	return events
}

// tlsSuite is a protocol version and cipher suite a client insists on.
type tlsSuite struct {
	name    string
	version uint16
	suite   uint16 // TLS 1.2 only; 0 for TLS 1.3's default
}

var tlsSuites = []tlsSuite{
	{"TLS13", tls.VersionTLS13, 0},
	{"TLS12-GCM", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
	{"TLS12-ChaCha20", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256},
	{"TLS12-CBC", tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
}

func (s tlsSuite) client(t testing.TB) *tls.Config {
	cfg := clientTLS(t)
	cfg.MinVersion, cfg.MaxVersion = s.version, s.version
	if s.suite != 0 {
		cfg.CipherSuites = []uint16{s.suite}
	}
	return cfg
}

// fragmenter cuts what a TLS client writes before it reaches the socket,
// one write per piece (TCP_NODELAY is on, so pieces leave as segments of
// their own and mostly arrive apart): the server's transport must put
// records together from any cut.
type fragmenter struct {
	net.Conn
	mode string // "1byte", "rand64", "boundary" or "whole"
	rng  *rand.Rand
	// boundary mode: where the record being written started, and its
	// length once its header is known, across writes.
	inRecord, recordLen int
	header              []byte
}

func (f *fragmenter) Write(p []byte) (int, error) {
	switch f.mode {
	case "whole":
		return f.Conn.Write(p)
	case "1byte":
		for i := range p {
			if _, err := f.Conn.Write(p[i : i+1]); err != nil {
				return i, err
			}
		}
		return len(p), nil
	case "rand64":
		for off := 0; off < len(p); {
			n := 1 + f.rng.Intn(64)
			if off+n > len(p) {
				n = len(p) - off
			}
			if _, err := f.Conn.Write(p[off : off+n]); err != nil {
				return off, err
			}
			off += n
		}
		return len(p), nil
	}
	// boundary: cut each record after header bytes 1, 3 and 5, before its
	// last byte, and at its end.
	for off := 0; off < len(p); {
		var cuts []int
		for _, at := range []int{1, 3, 5} {
			if at > f.inRecord {
				cuts = append(cuts, at)
			}
		}
		if f.recordLen == 0 {
			need := recordHeaderLen - len(f.header)
			if need > len(p)-off {
				need = len(p) - off
			}
			f.header = append(f.header, p[off:off+need]...)
			if len(f.header) == recordHeaderLen {
				f.recordLen = recordHeaderLen + (int(f.header[3])<<8 | int(f.header[4]))
			}
		}
		end := len(p) - off + f.inRecord // the record's end, as far as p goes
		if f.recordLen > 0 && f.recordLen < end {
			end = f.recordLen
		}
		if f.recordLen > 0 && f.recordLen-1 > f.inRecord {
			cuts = append(cuts, f.recordLen-1)
		}
		cuts = append(cuts, end)
		for _, at := range cuts {
			if at > end || at <= f.inRecord {
				continue
			}
			n := at - f.inRecord
			if _, err := f.Conn.Write(p[off : off+n]); err != nil {
				return off, err
			}
			off += n
			f.inRecord = at
		}
		if f.recordLen > 0 && f.inRecord == f.recordLen {
			f.inRecord, f.recordLen, f.header = 0, 0, f.header[:0]
		}
	}
	return len(p), nil
}

// echoHashed sends total random bytes in writes of random sizes through
// tc and checks that the echo has the same SHA-256.
func echoHashed(t *testing.T, tc *tls.Conn, total int) {
	t.Helper()
	sent := sha256.New()
	done := make(chan error, 1)
	go func() {
		rng := rand.New(rand.NewSource(int64(total)))
		b := make([]byte, 40000)
		for n := 0; n < total; {
			k := 1 + rng.Intn(len(b))
			if n+k > total {
				k = total - n
			}
			rng.Read(b[:k])
			sent.Write(b[:k])
			if _, err := tc.Write(b[:k]); err != nil {
				done <- err
				return
			}
			n += k
		}
		done <- nil
	}()
	got := sha256.New()
	tc.SetReadDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.CopyN(got, tc, int64(total)); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("writing: %v", err)
	}
	if !bytes.Equal(got.Sum(nil), sent.Sum(nil)) {
		t.Fatalf("the echo of %d bytes differs from what was sent", total)
	}
}

// Case 1: 10 MiB (less for the slow cuts) echoed and hash-checked, for
// TLS 1.3 and TLS 1.2 with GCM, ChaCha20 and CBC, fed whole, in 1-byte and
// random pieces, and cut around record headers and ends; the handshake
// goes through the same cuts (case 6).
func TestTLSEchoEveryFragmentation(t *testing.T) {
	volumes := map[string]int{"whole": 10 << 20, "boundary": 2 << 20, "rand64": 512 << 10, "1byte": 32 << 10}
	forEachEngine(t, func(t *testing.T, e engine) {
		s := startServer(t, tlsEchoEvents(t), e.addr("tcp", "127.0.0.1:0"))
		for _, suite := range tlsSuites {
			for _, mode := range []string{"whole", "boundary", "rand64", "1byte"} {
				t.Run(suite.name+"/"+mode, func(t *testing.T) {
					raw := s.dial(0)
					tc := tls.Client(&fragmenter{Conn: raw, mode: mode, rng: rand.New(rand.NewSource(7))}, suite.client(t))
					tc.SetDeadline(time.Now().Add(20 * time.Second))
					if err := tc.Handshake(); err != nil {
						t.Fatalf("handshake: %v", err)
					}
					if st := tc.ConnectionState(); st.Version != suite.version || (suite.suite != 0 && st.CipherSuite != suite.suite) {
						t.Fatalf("negotiated %x/%x, want %x/%x", st.Version, st.CipherSuite, suite.version, suite.suite)
					}
					echoHashed(t, tc, volumes[mode])
					tc.Close()
				})
			}
		}
	})
}

// recorder keeps what a client's socket reads, to look at the records the
// server sent.
type recorder struct {
	net.Conn
	got bytes.Buffer
}

func (r *recorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.got.Write(p[:n])
	return n, err
}

// records splits a raw TLS stream into its records.
func records(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= recordHeaderLen {
		n := recordHeaderLen + (int(b[3])<<8 | int(b[4]))
		if n > len(b) {
			break
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

// Case 8: a Close action sends close_notify after the output, before the
// socket's FIN: the client reads the reply, then a clean io.EOF, and the
// last record on the wire is the alert (visible as type 21 in TLS 1.2; in
// TLS 1.3 alerts travel encrypted, as a 24-byte record).
func TestTLSCloseSendsCloseNotify(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		events := Events{TLSConfig: serverTLS(t)}
		events.Data = func(c Conn, in []byte) ([]byte, Action) {
			return append([]byte("bye "), in...), Close
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			rec := &recorder{Conn: s.dial(0)}
			cfg := clientTLS(t)
			cfg.MaxVersion = v
			tc := tls.Client(rec, cfg)
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := tc.Write([]byte("now")); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(tc)
			if err != nil {
				t.Fatalf("version %x: reading to the end: %v (want a clean end after close_notify)", v, err)
			}
			if string(got) != "bye now" {
				t.Fatalf("version %x: got %q", v, got)
			}
			recs := records(rec.got.Bytes())
			last := recs[len(recs)-1]
			switch v {
			case tls.VersionTLS12:
				if last[0] != 21 || len(last) != 31 {
					t.Fatalf("TLS 1.2: last record has type %d and %d bytes, want a 31-byte alert (21)", last[0], len(last))
				}
			case tls.VersionTLS13:
				if last[0] != 23 || len(last) != 24 {
					t.Fatalf("TLS 1.3: last record has type %d and %d bytes, want the 24-byte encrypted alert", last[0], len(last))
				}
			}
		}
	})
}

// Case 8, half-close both ways: the CloseWrite action sends close_notify
// and FIN while the server keeps reading; the client's close_notify is the
// server's end of stream (HalfClosed), after which the server still
// writes.
func TestTLSHalfClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var halfClosed atomic.Int32
		events := Events{TLSConfig: serverTLS(t)}
		events.Data = func(c Conn, in []byte) ([]byte, Action) {
			if string(in) == "close your side" {
				return []byte("closing"), CloseWrite
			}
			return nil, None
		}
		events.HalfClosed = func(c Conn) ([]byte, Action) {
			halfClosed.Add(1)
			return []byte("after your close_notify"), Close
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))

		// The server closes its side first; the client still sends.
		tc := s.dialTLS(0, clientTLS(t))
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		tc.Write([]byte("close your side"))
		got, err := io.ReadAll(tc)
		if err != nil || string(got) != "closing" {
			t.Fatalf("after CloseWrite: %q, %v; want \"closing\" and a clean end", got, err)
		}
		if _, err := tc.Write([]byte("still talking")); err != nil {
			t.Fatalf("write after the server's close_notify: %v", err)
		}
		tc.Close()

		// The client closes its side first; the server still sends.
		tc = s.dialTLS(0, clientTLS(t))
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err = io.ReadAll(tc)
		if err != nil || string(got) != "after your close_notify" {
			t.Fatalf("after the client's close_notify: %q, %v", got, err)
		}
		if halfClosed.Load() != 1 {
			t.Fatalf("HalfClosed fired %d times, want 1", halfClosed.Load())
		}
	})
}

// Case 2: a TCP end of stream without close_notify is an end of stream at
// a record boundary (as crypto/tls reads it: many clients skip the alert)
// and io.ErrUnexpectedEOF inside a record.
func TestTLSEndOfStreamWithoutCloseNotify(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 4)
		events := tlsEchoEvents(t)
		events.Closed = func(c Conn, err error) Action {
			closed <- err
			return None
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		for _, cut := range []bool{false, true} {
			raw := s.dial(0)
			rec := &capture{Conn: raw}
			tc := tls.Client(rec, clientTLS(t))
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			rec.hold = true
			tc.Write([]byte("last words"))
			record := rec.held
			if cut {
				record = record[:len(record)-3] // the record's tail never comes
			}
			raw.Write(record)
			raw.(*net.TCPConn).CloseWrite() // FIN, no close_notify
			select {
			case err := <-closed:
				switch {
				case !cut && err != nil:
					t.Fatalf("FIN at a record boundary: Closed got %v, want nil", err)
				case cut && !errors.Is(err, io.ErrUnexpectedEOF):
					t.Fatalf("FIN inside a record: Closed got %v, want io.ErrUnexpectedEOF", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no Closed")
			}
			if !cut {
				got := make([]byte, len("last words"))
				if _, err := io.ReadFull(tc, got); err != nil || string(got) != "last words" {
					t.Fatalf("the echo before the end: %q, %v", got, err)
				}
			}
		}
	})
}

// capture passes writes through until hold is set, then keeps them.
type capture struct {
	net.Conn
	hold bool
	held []byte
}

func (c *capture) Write(p []byte) (int, error) {
	if c.hold {
		c.held = append(c.held, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// Case 5: the client's Finished and its first request in one segment:
// the handshake goroutine's read takes the request too, into crypto/tls,
// and no readiness will report it again; the loop must read at once when
// the handshake ends.
func TestTLSRequestWithFinished(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s := startServer(t, tlsEchoEvents(t), e.addr("tcp", "127.0.0.1:0"))
		for i := 0; i < 20; i++ {
			raw := s.dial(0)
			cw := &coalescer{Conn: raw}
			tc := tls.Client(cw, clientTLS(t)) // TLS 1.3: the client sends Finished and does not wait
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			if _, err := tc.Write([]byte("first request")); err != nil {
				t.Fatal(err)
			}
			if cw.writes != 2 {
				t.Fatalf("the client wrote %d segments, want 2 (hello; Finished+request)", cw.writes)
			}
			got := make([]byte, len("first request"))
			if _, err := io.ReadFull(tc, got); err != nil || string(got) != "first request" {
				t.Fatalf("echo of the request sent with Finished: %q, %v", got, err)
			}
			tc.Close()
		}
	})
}

// coalescer sends the client's first flight, holds the second (Finished),
// and sends it with the first record that follows, in one write.
type coalescer struct {
	net.Conn
	writes int
	held   []byte
}

func (c *coalescer) Write(p []byte) (int, error) {
	switch c.writes {
	case 0:
		c.writes++
		return c.Conn.Write(p)
	case 1:
		if c.held == nil {
			c.held = append([]byte(nil), p...)
			return len(p), nil
		}
		c.writes++
		_, err := c.Conn.Write(append(c.held, p...))
		return len(p), err
	}
	c.writes++
	return c.Conn.Write(p)
}

// Case 6: handshakes that do not end well end without events: a silent
// client (the handshake timeout), plain HTTP, garbage, an end of stream
// before the ClientHello, a client that stops halfway. Each counts as a
// failed handshake; the server goes on serving.
func TestTLSHandshakeFailuresHaveNoEvents(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var opened, closed atomic.Int32
		events := tlsEchoEvents(t)
		events.TLSHandshakeTimeout = 300 * time.Millisecond
		events.Opened = func(c Conn) ([]byte, Options, Action) {
			opened.Add(1)
			return nil, Options{}, None
		}
		events.Closed = func(c Conn, err error) Action {
			closed.Add(1)
			return None
		}
		h := startHandle(t, events, e.addr("tcp", "127.0.0.1:0"))
		addr := h.Addrs()[0].String()
		dial := func() net.Conn {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			return raw
		}
		ends := func(name string, send []byte, closeWrite bool) {
			t.Helper()
			raw := dial()
			start := time.Now()
			if len(send) > 0 {
				raw.Write(send)
			}
			if closeWrite {
				raw.(*net.TCPConn).CloseWrite()
			}
			raw.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(raw)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("%s: the server did not close within 5s", name)
			}
			if bytes.Contains(b, []byte("HTTP")) {
				t.Fatalf("%s: the server answered %q", name, b)
			}
			t.Logf("%s: closed after %v", name, time.Since(start).Round(time.Millisecond))
		}
		ends("silent", nil, false)
		ends("plain HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false)
		ends("garbage", bytes.Repeat([]byte{0x16, 0x03, 0x01, 0xff, 0xff, 0x42}, 50), false)
		ends("end of stream first", nil, true)
		// Half a ClientHello, then silence.
		hello := clientHello(t)
		ends("half a ClientHello", hello[:len(hello)/2], false)
		waitFor(t, "five failed handshakes counted", func() bool { return h.Counters().TLSHandshakeFailures == 5 })

		// The server still serves.
		tc := tls.Client(dial(), clientTLS(t))
		tc.Write([]byte("ok?"))
		got := make([]byte, 3)
		tc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(tc, got); err != nil || string(got) != "ok?" {
			t.Fatalf("after the failures: %q, %v", got, err)
		}
		tc.Close()
		waitFor(t, "the good connection's Closed", func() bool { return closed.Load() == 1 })
		if opened.Load() != 1 {
			t.Fatalf("Opened fired %d times, want 1 (the good connection only)", opened.Load())
		}
		if n := h.Counters(); n.TLSHandshakes != 1 || n.TLSHandshakeFailures != 5 {
			t.Fatalf("counted %d handshakes and %d failures, want 1 and 5", n.TLSHandshakes, n.TLSHandshakeFailures)
		}
	})
}

// clientHello is the first flight of a Go TLS client: its ClientHello
// record.
func clientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(a, clientTLS(t)).Handshake() // fails once the pipe closes
	}()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	head := make([]byte, recordHeaderLen)
	if _, err := io.ReadFull(b, head); err != nil {
		t.Fatalf("reading the ClientHello: %v", err)
	}
	body := make([]byte, int(head[3])<<8|int(head[4]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatalf("reading the ClientHello: %v", err)
	}
	b.Close()
	<-done
	return append(head, body...)
}

// BenchmarkTLSRoundTrip is a 64-byte request and its echo over TLS 1.3,
// in process: its allocations include the crypto/tls client's (one per
// read, as the server's); TestTLSRoundTripAllocations counts the
// server's alone.
func BenchmarkTLSRoundTrip(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			events := reuseEcho()
			events.TLSConfig = serverTLS(b)
			addr, stop := benchServer(b, events, e.suffix)
			defer stop()
			tc, err := tls.Dial("tcp", addr.String(), clientTLS(b))
			if err != nil {
				b.Fatal(err)
			}
			defer tc.Close()
			msg, buf := make([]byte, 64), make([]byte, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := roundTrip(tc, msg, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
