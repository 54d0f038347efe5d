package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/evio-go/evio/examples/internal/testcert"
)

// The proxy as a TLS terminator: clients speak TLS to it, the backend gets
// plaintext (or TLS again, with -backend-tls). These tests use Go's TLS
// client; tls_clients_test.go uses curl and redis-cli.

// certs returns the test certificates and their PEM files in a temporary
// directory of t.
func certs(t testing.TB) (*testcert.Set, testcert.Files) {
	t.Helper()
	set, err := testcert.Get()
	if err != nil {
		t.Fatal(err)
	}
	files, err := set.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return set, files
}

// startTLSProxy runs the proxy in front of backend with a TLS listener
// made from the test certificate's files; edit, if given, changes the
// configuration first.
func startTLSProxy(t testing.TB, s setup, backend string, edit func(*config)) *proxy {
	t.Helper()
	_, files := certs(t)
	cfg := config{backend: backend, connectTimeout: 5 * time.Second, tlsCertFile: files.Cert, tlsKeyFile: files.Key}
	if edit != nil {
		edit(&cfg)
	}
	return runProxy(t, s, cfg)
}

// dialTLS connects to the proxy at addr with Go's TLS client, which
// verifies the proxy's certificate against the test CA; maxVersion 0
// lets it choose (TLS 1.3). raw is the TCP connection beneath.
func dialTLS(t testing.TB, addr string, maxVersion uint16) (c *tls.Conn, raw *recordReader) {
	t.Helper()
	set, _ := certs(t)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(time.Minute))
	raw = &recordReader{Conn: nc}
	cfg := set.ClientConfig()
	cfg.MaxVersion = maxVersion
	c = tls.Client(raw, cfg)
	if err := c.Handshake(); err != nil {
		t.Fatalf("handshake with the proxy: %v", err)
	}
	return c, raw
}

// recordReader is a connection that notes the content type of the last TLS
// record it read, so that a test can tell a close_notify (an alert record,
// in TLS 1.2, where alerts are not disguised as application data) from a
// plain end of the TCP stream, which crypto/tls also reports as io.EOF.
type recordReader struct {
	net.Conn
	pending  []byte // the start of a record header not yet whole
	left     int    // bytes of the current record still to come
	lastType byte   // the content type of the last record that began
}

func (r *recordReader) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	b := p[:n]
	for len(b) > 0 {
		if r.left > 0 {
			k := r.left
			if k > len(b) {
				k = len(b)
			}
			r.left -= k
			b = b[k:]
			continue
		}
		k := 5 - len(r.pending)
		if k > len(b) {
			k = len(b)
		}
		r.pending = append(r.pending, b[:k]...)
		b = b[k:]
		if len(r.pending) == 5 {
			r.lastType = r.pending[0]
			r.left = int(r.pending[3])<<8 | int(r.pending[4])
			r.pending = r.pending[:0]
		}
	}
	return n, err
}

// recordAlert is TLS's content type of an alert record.
const recordAlert = 21

// halfStream is what both kinds of backend connection offer: a TCP
// connection sends a FIN on CloseWrite, a TLS connection a close_notify.
type halfStream interface {
	io.ReadWriter
	CloseWrite() error
}

// tlsBackend is a backend that speaks TLS with the test certificate, for
// the proxy's -backend-tls.
func tlsBackend(t testing.TB, serve func(c halfStream)) string {
	t.Helper()
	set, _ := certs(t)
	return goBackend(t, func(c *net.TCPConn) {
		tc := tls.Server(c, set.ServerConfig())
		defer tc.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		if tc.Handshake() != nil {
			return
		}
		serve(tc)
	})
}

// plainBackend is goBackend with serve taking the halfStream view.
func plainBackend(t testing.TB, serve func(c halfStream)) string {
	t.Helper()
	return goBackend(t, func(c *net.TCPConn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		serve(c)
	})
}

// transferSize is what each side sends in TestTLSTransfer.
const transferSize = 10 << 20

// sendRandom writes n random bytes from seed to w and returns their
// SHA-256.
func sendRandom(w io.Writer, n int, seed int64) ([32]byte, error) {
	rng := rand.New(rand.NewSource(seed))
	h := sha256.New()
	buf := make([]byte, 64<<10)
	for sent := 0; sent < n; {
		chunk := buf
		if n-sent < len(chunk) {
			chunk = chunk[:n-sent]
		}
		rng.Read(chunk)
		h.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			return [32]byte{}, err
		}
		sent += len(chunk)
	}
	return [32]byte(h.Sum(nil)), nil
}

// readSum reads r to its end and returns the SHA-256 and length of what it
// read.
func readSum(r io.Reader) ([32]byte, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return [32]byte(h.Sum(nil)), n, err
}

// sums is what one side sent and received.
type sums struct {
	sent, got [32]byte
	gotN      int64
	err       error
}

// exchange sends transferSize random bytes on c and half-closes, while
// reading c to its end.
func exchange(c halfStream, seed int64) sums {
	var s sums
	sent := make(chan error, 1)
	go func() {
		var err error
		s.sent, err = sendRandom(c, transferSize, seed)
		if err == nil {
			err = c.CloseWrite()
		}
		sent <- err
	}()
	s.got, s.gotN, s.err = readSum(c)
	if err := <-sent; s.err == nil {
		s.err = err
	}
	return s
}

// TestTLSTransfer: a Go TLS client and the backend each send 10 MiB of
// random bytes at once through the TLS-terminating proxy and then
// half-close (the client with close_notify, the backend with a FIN, or
// close_notify over -backend-tls); each reads the other's bytes to the
// end, and the SHA-256 of what each received is that of what the other
// sent.
func TestTLSTransfer(t *testing.T) {
	for _, backendTLS := range []bool{false, true} {
		for _, s := range setups {
			name := s.name
			if backendTLS {
				name += "/backend-tls"
			}
			t.Run(name, func(t *testing.T) {
				seed := time.Now().UnixNano()
				result := make(chan sums, 1)
				serve := func(c halfStream) { result <- exchange(c, seed+1) }
				var backend string
				if backendTLS {
					backend = tlsBackend(t, serve)
				} else {
					backend = plainBackend(t, serve)
				}
				_, files := certs(t)
				px := startTLSProxy(t, s, backend, func(cfg *config) {
					cfg.backendTLS, cfg.backendCAFile = backendTLS, files.CA
					if !backendTLS {
						cfg.backendCAFile = ""
					}
				})
				c, _ := dialTLS(t, px.handle.Addrs()[0].String(), 0)
				client := exchange(c, seed)
				if client.err != nil {
					t.Fatalf("the client: %v after reading %d bytes", client.err, client.gotN)
				}
				var server sums
				select {
				case server = <-result:
				case <-time.After(time.Minute):
					t.Fatal("the backend never finished")
				}
				if server.err != nil {
					t.Fatalf("the backend: %v after reading %d bytes", server.err, server.gotN)
				}
				if client.gotN != transferSize || server.gotN != transferSize {
					t.Fatalf("the client read %d bytes, the backend %d; want %d each", client.gotN, server.gotN, transferSize)
				}
				if client.got != server.sent {
					t.Error("the backend's bytes reached the client changed")
				}
				if server.got != client.sent {
					t.Error("the client's bytes reached the backend changed")
				}
			})
		}
	}
}

// tlsVersions are the versions the half-close tests run over: in TLS 1.2
// the close_notify shows as an alert record.
var tlsVersions = []struct {
	name string
	max  uint16
}{{"TLS1.3", 0}, {"TLS1.2", tls.VersionTLS12}}

// expectCloseNotify checks that the client's read has ended cleanly with
// the proxy's close_notify, followed by its FIN.
func expectCloseNotify(t *testing.T, raw *recordReader, maxVersion uint16) {
	t.Helper()
	if maxVersion == tls.VersionTLS12 && raw.lastType != recordAlert {
		t.Fatalf("the last record from the proxy has type %d, want an alert (%d): no close_notify", raw.lastType, recordAlert)
	}
	if n, err := raw.Conn.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the close_notify, the TCP stream read %d, %v; want its end (the FIN)", n, err)
	}
}

// TestTLSHalfCloseFromClient: the client sends, then CloseWrite (a
// close_notify, its TCP side left open); the backend reads to its end of
// stream, replies and closes; the client reads the whole reply, then
// io.EOF from the proxy's close_notify, then the FIN.
func TestTLSHalfCloseFromClient(t *testing.T) {
	backend := plainBackend(t, func(c halfStream) {
		req, err := io.ReadAll(c)
		if err != nil {
			return
		}
		fmt.Fprintf(c, "got %d bytes: %s", len(req), req)
	})
	for _, v := range tlsVersions {
		for _, s := range setups {
			t.Run(v.name+"/"+s.name, func(t *testing.T) {
				px := startTLSProxy(t, s, backend, nil)
				c, raw := dialTLS(t, px.handle.Addrs()[0].String(), v.max)
				io.WriteString(c, "hello, backend")
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				reply, err := io.ReadAll(c)
				if err != nil {
					t.Fatalf("reading the reply: %v (after %q)", err, reply)
				}
				if want := "got 14 bytes: hello, backend"; string(reply) != want {
					t.Fatalf("reply %q, want %q", reply, want)
				}
				expectCloseNotify(t, raw, v.max)
			})
		}
	}
}

// TestTLSHalfCloseFromBackend: the backend sends a greeting and its FIN;
// the client reads the greeting and io.EOF (the proxy's close_notify),
// and still sends, which the backend reads to the end (the client's
// close_notify, passed on as a FIN) before it closes.
func TestTLSHalfCloseFromBackend(t *testing.T) {
	got := make(chan string, len(setups)*len(tlsVersions))
	backend := plainBackend(t, func(c halfStream) {
		io.WriteString(c, "greeting")
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		got <- string(b)
	})
	for _, v := range tlsVersions {
		for _, s := range setups {
			t.Run(v.name+"/"+s.name, func(t *testing.T) {
				px := startTLSProxy(t, s, backend, nil)
				c, raw := dialTLS(t, px.handle.Addrs()[0].String(), v.max)
				greeting, err := io.ReadAll(c)
				if err != nil || string(greeting) != "greeting" {
					t.Fatalf("read %q, %v; want the greeting then the end of stream", greeting, err)
				}
				if v.max == tls.VersionTLS12 && raw.lastType != recordAlert {
					t.Fatalf("the last record from the proxy has type %d, want an alert: no close_notify", raw.lastType)
				}
				if _, err := io.WriteString(c, "still sending"); err != nil {
					t.Fatal(err)
				}
				c.CloseWrite()
				select {
				case s := <-got:
					if s != "still sending" {
						t.Fatalf("the backend read %q", s)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the backend never saw the client's end of stream")
				}
				if n, err := raw.Conn.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					t.Fatalf("after both ends finished, the TCP stream read %d, %v; want its end", n, err)
				}
			})
		}
	}
}

// TestTLSResetFromBackend: a backend that resets makes the TLS client's
// read fail with ECONNRESET, not end as if the reply were complete.
func TestTLSResetFromBackend(t *testing.T) {
	backend := goBackend(t, func(c *net.TCPConn) {
		io.ReadFull(c, make([]byte, 5))
		c.Write([]byte("partial"))
		time.Sleep(50 * time.Millisecond)
		reset(c)
	})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			px := startTLSProxy(t, s, backend, nil)
			c, _ := dialTLS(t, px.handle.Addrs()[0].String(), 0)
			io.WriteString(c, "hello")
			got, err := io.ReadAll(c)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the client's read ended with %q, %v; want ECONNRESET", got, err)
			}
		})
	}
}

// TestTLSResetFromClient: a TLS client whose TCP connection resets makes
// the backend's read fail with ECONNRESET.
func TestTLSResetFromClient(t *testing.T) {
	got := make(chan error, len(setups))
	backend := goBackend(t, func(c *net.TCPConn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		c.Write([]byte("ready"))
		_, err := io.ReadAll(c)
		got <- err
	})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			px := startTLSProxy(t, s, backend, nil)
			c, raw := dialTLS(t, px.handle.Addrs()[0].String(), 0)
			if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "some data")
			reset(raw.Conn.(*net.TCPConn))
			select {
			case err := <-got:
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("the backend's read ended with %v, want ECONNRESET", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the backend's read did not end")
			}
		})
	}
}

// TestBackendTLSUnverified: with -backend-tls and no -backend-ca-file, a
// backend whose certificate the system does not trust fails its handshake,
// and the (plain) client is reset rather than served unverified.
func TestBackendTLSUnverified(t *testing.T) {
	backend := tlsBackend(t, func(c halfStream) { io.Copy(c, c) })
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			px := runProxy(t, s, config{backend: backend, connectTimeout: 5 * time.Second, backendTLS: true})
			if err := expectReset(px.handle.Addrs()[0].String()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// halfClientHello returns the first half of a real ClientHello record, as
// Go's TLS client would send it to the proxy.
func halfClientHello(t *testing.T) []byte {
	t.Helper()
	set, _ := certs(t)
	client, server := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(client, set.ClientConfig()).Handshake() // fails when the pipe closes
	}()
	server.SetDeadline(time.Now().Add(10 * time.Second))
	header := make([]byte, 5)
	_, err := io.ReadFull(server, header)
	var body []byte
	if err == nil {
		body = make([]byte, int(header[3])<<8|int(header[4]))
		_, err = io.ReadFull(server, body)
	}
	server.Close()
	client.Close()
	<-done
	if err != nil {
		t.Fatalf("capturing a ClientHello: %v", err)
	}
	hello := append(header, body...)
	return hello[:len(hello)/2]
}

// TestTLSStalledHandshake: clients that send half a ClientHello and go
// silent do not hold the proxy up: a client that arrives after them is
// served while they wait; at -tls-handshake-timeout the proxy closes them,
// and no backend connection was ever dialed for them.
func TestTLSStalledHandshake(t *testing.T) {
	const (
		stalled = 8
		timeout = 1500 * time.Millisecond
	)
	hello := halfClientHello(t)
	for _, s := range setups {
		s := s
		t.Run(s.name, func(t *testing.T) {
			t.Parallel() // each waits out the timeout: together, not in turn
			accepted := make(chan struct{}, stalled+1)
			backend := goBackend(t, func(c *net.TCPConn) {
				accepted <- struct{}{}
				echo(c)
			})
			px := startTLSProxy(t, s, backend, func(cfg *config) { cfg.tlsHandshakeTimeout = timeout })
			addr := px.handle.Addrs()[0].String()
			start := time.Now()
			var silent []net.Conn
			for i := 0; i < stalled; i++ {
				c := dial(t, addr)
				if _, err := c.Write(hello); err != nil {
					t.Fatal(err)
				}
				silent = append(silent, c)
			}

			c, _ := dialTLS(t, addr, 0)
			if _, err := io.WriteString(c, "served meanwhile"); err != nil {
				t.Fatal(err)
			}
			echoed := make([]byte, len("served meanwhile"))
			if _, err := io.ReadFull(c, echoed); err != nil || string(echoed) != "served meanwhile" {
				t.Fatalf("the other client read %q, %v", echoed, err)
			}
			if served := time.Since(start); served >= timeout {
				t.Fatalf("the other client was served after %v, not before the stalled ones timed out (%v)", served, timeout)
			}
			c.Close()

			for i, sc := range silent {
				sc.SetReadDeadline(start.Add(timeout + 5*time.Second))
				n, err := sc.Read(make([]byte, 1))
				took := time.Since(start)
				if n != 0 || !(err == io.EOF || errors.Is(err, syscall.ECONNRESET)) {
					t.Fatalf("stalled client %d: read %d, %v after %v; want the proxy to close it", i, n, err, took)
				}
				if took < timeout-100*time.Millisecond {
					t.Fatalf("stalled client %d was closed after %v, before the %v timeout", i, took, timeout)
				}
			}
			if n := len(accepted); n != 1 {
				t.Fatalf("the backend accepted %d connections, want 1 (the served client's)", n)
			}
			if n := px.handle.Counters(); n.Dialed != 1 || n.TLSHandshakeFailures != stalled {
				t.Fatalf("the proxy dialed %d backend connections and counted %d failed handshakes; want 1 and %d", n.Dialed, n.TLSHandshakeFailures, stalled)
			}
		})
	}
}

// TestTLSFlags: the certificate and key go together; files that do not
// load stop the proxy from starting; -backend-ca-file needs -backend-tls.
func TestTLSFlags(t *testing.T) {
	_, files := certs(t)
	for _, args := range [][]string{
		{"-tls-cert-file", files.Cert},
		{"-tls-key-file", files.Key},
		{"-backend-ca-file", files.CA},
		{"-tls-cert-file", files.Cert, "-tls-key-file", files.Key, "-tls-handshake-timeout", "0s"},
	} {
		if _, err := parseFlags(append([]string{"-backend", "127.0.0.1:1"}, args...), io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	cfg, err := parseFlags([]string{"-backend", "127.0.0.1:1", "-port", "0", "-bind", "127.0.0.1", "-tls-cert-file", files.Key, "-tls-key-file", files.Cert}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if px, err := start(cfg, nil); err == nil {
		px.handle.Stop(context.Background())
		t.Fatal("started with the certificate and key files swapped")
	}
	cfg.tlsCertFile, cfg.tlsKeyFile = files.Cert, files.Key
	var serving bool
	px, err := start(cfg, func(_ []net.Addr, _ int, useTLS bool) { serving = useTLS })
	if err != nil {
		t.Fatal(err)
	}
	defer px.handle.Stop(context.Background())
	if !serving {
		t.Error("serving reported a plain listener")
	}
	c, _ := dialTLS(t, px.handle.Addrs()[0].String(), 0)
	set, _ := certs(t)
	if !bytes.Equal(c.ConnectionState().PeerCertificates[0].Raw, set.Server.Certificate[0]) {
		t.Error("the proxy presented another certificate than -tls-cert-file's")
	}
}

// TestBackendTLSSilent: a backend that accepts the connection but never
// answers the TLS handshake holds a client no longer than
// -connect-timeout, which bounds the backend's handshake too: the client
// is then reset.
func TestBackendTLSSilent(t *testing.T) {
	const timeout = 300 * time.Millisecond
	_, files := certs(t)
	backend := goBackend(t, func(c *net.TCPConn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		io.Copy(io.Discard, c) // reads the ClientHello, says nothing
	})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			px := runProxy(t, s, config{backend: backend, connectTimeout: timeout, backendTLS: true, backendCAFile: files.CA})
			start := time.Now()
			if err := expectReset(px.handle.Addrs()[0].String()); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < timeout-50*time.Millisecond || took > timeout+3*time.Second {
				t.Fatalf("the client was reset after %v, want about %v", took, timeout)
			}
		})
	}
}
