package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/evio-go/evio/examples/internal/testcert"
)

// HTTPS: the server with -tls-cert-file and -tls-key-file, through Go's
// net/http client and raw crypto/tls connections. tls_clients_test.go has
// curl and openssl, tls_alloc_test.go the allocations.

// tlsVariants are the variants the HTTPS tests with Go clients run on:
// both engines, TCP and a unix socket.
var tlsVariants = []variant{variants[0], variants[3], variants[4]}

// startTLSServer starts a server for v with the testcert server
// certificate, loaded from PEM files as the flags would name them, and a
// client that trusts it; tweak, if any, changes the config first. It
// returns the PEM files too, for the external clients.
func startTLSServer(t testing.TB, v variant, tweak func(*config)) (*testServer, testcert.Files) {
	t.Helper()
	certs, err := testcert.Get()
	if err != nil {
		t.Fatal(err)
	}
	files, err := certs.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, v, func(cfg *config) {
		cfg.tlsCertFile, cfg.tlsKeyFile = files.Cert, files.Key
		if tweak != nil {
			tweak(cfg)
		}
	})
	ts.scheme = "https"
	tc := certs.ClientConfig()
	// Offer h2 first, as browsers and curl do: the server must pick
	// http/1.1, which the tests check.
	tc.NextProtos = []string{"h2", "http/1.1"}
	ts.transport.TLSClientConfig = tc
	return ts, files
}

// dialTLS opens a TLS connection to ts, handshake done, closed by the
// test's cleanup.
func (ts *testServer) dialTLS(t testing.TB) *rawConn {
	t.Helper()
	c := ts.dial(t)
	tc := tls.Client(c.Conn, ts.transport.TLSClientConfig)
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return &rawConn{Conn: tc, r: bufio.NewReader(tc)}
}

// checkServesTLS makes a request on a new TLS connection: the server is
// alive and still speaks TLS.
func checkServesTLS(t testing.TB, ts *testServer) {
	t.Helper()
	c := ts.dialTLS(t)
	c.send(t, get("/"))
	resp, body := c.response(t, "GET")
	checkResponse(t, resp, body, 200, helloBody)
	c.Close()
}

func TestParseTLSFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-tls-cert-file", "a.crt", "-tls-key-file", "a.key"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.tlsCertFile != "a.crt" || cfg.tlsKeyFile != "a.key" || !cfg.tls() {
		t.Fatalf("config %+v", cfg)
	}
	if cfg, err := parseFlags(nil, io.Discard); err != nil || cfg.tls() {
		t.Fatalf("no flags: tls %v, %v", cfg.tls(), err)
	}
	for _, bad := range [][]string{{"-tls-cert-file", "a.crt"}, {"-tls-key-file", "a.key"}} {
		var stderr bytes.Buffer
		if _, err := parseFlags(bad, &stderr); err == nil || !strings.Contains(stderr.String(), "give both") {
			t.Errorf("%q: %v, stderr %q", bad, err, stderr.String())
		}
	}
}

// TestTLSBadKeyPair: files that are not a certificate and its key stop the
// server before it listens, with an error naming them.
func TestTLSBadKeyPair(t *testing.T) {
	certs, err := testcert.Get()
	if err != nil {
		t.Fatal(err)
	}
	files, err := certs.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{
		{files.Cert, files.ClientKey}, // a key of another certificate
		{files.Cert, filepath.Join(t.TempDir(), "missing.key")},
	} {
		cfg := config{host: "127.0.0.1", tlsCertFile: pair[0], tlsKeyFile: pair[1], maxBody: defaultMaxBody}
		var stdout bytes.Buffer
		err := run(cfg, &stdout, make(chan struct{}))
		if err == nil || !strings.Contains(err.Error(), pair[1]) {
			t.Errorf("%q: error %v", pair, err)
		}
		if stdout.Len() != 0 {
			t.Errorf("%q: printed %q", pair, stdout.String())
		}
	}
}

// TestTLSRunPrintsAddress: run says the listener speaks TLS, at the end of
// the line the scripts parse.
func TestTLSRunPrintsAddress(t *testing.T) {
	certs, err := testcert.Get()
	if err != nil {
		t.Fatal(err)
	}
	files, err := certs.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{host: "127.0.0.1", tlsCertFile: files.Cert, tlsKeyFile: files.Key, maxBody: defaultMaxBody}
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- run(cfg, pw, stop) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, "http-server: listening on tcp://127.0.0.1:") || !strings.HasSuffix(line, " (loops: 1, TLS)\n") {
		t.Errorf("line %q", line)
	}
	close(stop)
	go io.Copy(io.Discard, pr)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("run did not return after stop")
	}
	pw.Close()
}

// TestTLSKeepAlive is net/http's client over HTTPS: several GETs, a POST
// whose body and echo span several TLS records, a 404 and more GETs, all
// on one TLS connection, which negotiated HTTP/1.1 although the client
// offered h2 first.
func TestTLSKeepAlive(t *testing.T) {
	forEachTLSVariant(t, tlsVariants, func(t *testing.T, v variant) {
		ts, _ := startTLSServer(t, v, nil)
		var dials atomic.Int32
		dial := ts.transport.DialContext
		ts.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dial(ctx, network, addr)
		}
		upload := make([]byte, 100<<10) // more than six records of 16 KiB
		rand.New(rand.NewSource(1)).Read(upload)
		requests := []struct {
			method, path string
			body         []byte
			status       int
			want         string
		}{
			{"GET", "/", nil, 200, helloBody},
			{"GET", "/", nil, 200, helloBody},
			{"POST", "/echo", upload, 200, string(upload)},
			{"GET", "/missing", nil, 404, notFoundBody},
			{"POST", "/echo", []byte("small"), 200, "small"},
			{"GET", "/", nil, 200, helloBody},
		}
		for i, r := range requests {
			var reused, gotConn bool
			trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
				gotConn, reused = true, info.Reused
			}}
			ctx := httptrace.WithClientTrace(context.Background(), trace)
			req, err := http.NewRequestWithContext(ctx, r.method, ts.url(r.path), bytes.NewReader(r.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := ts.client.Do(req)
			if err != nil {
				t.Fatalf("request %d (%s %s): %v", i, r.method, r.path, err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatalf("request %d: reading the body: %v", i, err)
			}
			checkResponse(t, resp, string(body), r.status, r.want)
			if resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" || resp.Proto != "HTTP/1.1" {
				t.Fatalf("request %d: %s over TLS %+v", i, resp.Proto, resp.TLS)
			}
			if !gotConn || reused != (i > 0) {
				t.Fatalf("request %d: connection reused %v (traced %v)", i, reused, gotConn)
			}
		}
		if n := dials.Load(); n != 1 {
			t.Fatalf("%d connections for %d requests", n, len(requests))
		}
	})
}

// TestTLSALPN: the server offers http/1.1 alone, so a client that offers
// only h2 fails the handshake (RFC 7301 §3.2, no_application_protocol) and
// one that offers no protocol gets none and is served.
func TestTLSALPN(t *testing.T) {
	ts, _ := startTLSServer(t, variants[0], nil)
	for _, protos := range [][]string{{"h2"}, nil} {
		cfg := ts.transport.TLSClientConfig.Clone()
		cfg.NextProtos = protos
		c := ts.dial(t)
		tc := tls.Client(c.Conn, cfg)
		err := tc.Handshake()
		if protos != nil {
			if err == nil || !strings.Contains(err.Error(), "no application protocol") {
				t.Fatalf("offering %q: handshake %v, protocol %q", protos, err, tc.ConnectionState().NegotiatedProtocol)
			}
			continue
		}
		if err != nil || tc.ConnectionState().NegotiatedProtocol != "" {
			t.Fatalf("offering nothing: handshake %v, protocol %q", err, tc.ConnectionState().NegotiatedProtocol)
		}
		rc := &rawConn{Conn: tc, r: bufio.NewReader(tc)}
		rc.send(t, get("/"))
		resp, body := rc.response(t, "GET")
		checkResponse(t, resp, body, 200, helloBody)
	}
}

// TestTLSPipelined: requests written in one TLS record are answered in
// order, and requests split across records are put together.
func TestTLSPipelined(t *testing.T) {
	forEachTLSVariant(t, tlsVariants, func(t *testing.T, v variant) {
		ts, _ := startTLSServer(t, v, nil)
		c := ts.dialTLS(t)
		c.send(t, strings.Repeat(get("/"), 8)+post("/echo", "piped")+get("/missing"))
		for i := 0; i < 8; i++ {
			resp, body := c.response(t, "GET")
			checkResponse(t, resp, body, 200, helloBody)
		}
		resp, body := c.response(t, "POST")
		checkResponse(t, resp, body, 200, "piped")
		resp, body = c.response(t, "GET")
		checkResponse(t, resp, body, 404, notFoundBody)
		req := post("/echo", "split over records")
		for rest := req; rest != ""; { // a record each
			n := len(rest)
			if n > 7 {
				n = 7
			}
			c.send(t, rest[:n])
			rest = rest[n:]
		}
		resp, body = c.response(t, "POST")
		checkResponse(t, resp, body, 200, "split over records")
	})
}

// TestTLSNotTLS: a plaintext HTTP request, random bytes, and a handshake
// record whose message is garbage, sent to the HTTPS port, get no HTTP
// response: the handshake fails and the server closes the connection at
// once (the header timeout, which would also close it, is a minute here),
// with at most a TLS alert. The server carries on serving TLS.
func TestTLSNotTLS(t *testing.T) {
	junk := make([]byte, 300)
	rand.New(rand.NewSource(2)).Read(junk)
	junk[0] = 0x80 // neither a handshake (0x16) nor an alert (0x15) record
	garbledHello := append([]byte{0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c}, junk[:0x3c]...)
	inputs := []struct{ name, data string }{
		{"plaintext HTTP", get("/")},
		{"random bytes", string(junk)},
		{"garbled ClientHello", string(garbledHello)},
	}
	forEachTLSVariant(t, tlsVariants, func(t *testing.T, v variant) {
		ts, _ := startTLSServer(t, v, func(cfg *config) { cfg.timeouts.header = time.Minute })
		for _, in := range inputs {
			c := ts.dial(t)
			c.send(t, in.data)
			got, err := io.ReadAll(c.r)
			if err != nil && !isConnReset(err) {
				t.Fatalf("%s: not closed: %v (read %q)", in.name, err, got)
			}
			if len(got) > 0 && !(got[0] == 0x15 && len(got) == 7) { // one alert record
				t.Fatalf("%s: server answered %q", in.name, got)
			}
			c.Close()
			checkServesTLS(t, ts)
		}
	})
}

// TestTLSHandshakeTimeout: a connection that never starts its handshake is
// closed at the header timeout, which bounds the handshake as nginx's
// client_header_timeout does, although the keep-alive timeout, the bound
// on a plain connection that sends nothing, is off.
func TestTLSHandshakeTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	forEachTLSVariant(t, []variant{variants[0], variants[4]}, func(t *testing.T, v variant) {
		ts, _ := startTLSServer(t, v, func(cfg *config) {
			cfg.timeouts.header, cfg.timeouts.keepAlive = timeout, 0
		})
		start := time.Now()
		c := ts.dial(t)
		got, err := io.ReadAll(c.r)
		took := time.Since(start)
		if err != nil && !isConnReset(err) {
			t.Fatalf("not closed: %v", err)
		}
		if len(got) > 0 || took < timeout || took > timeout+timingSlack {
			t.Fatalf("closed after %v (timeout %v), having sent %q", took, timeout, got)
		}
		checkServesTLS(t, ts)
	})
}

// forEachTLSVariant runs test as a subtest per variant in vs.
func forEachTLSVariant(t *testing.T, vs []variant, test func(t *testing.T, v variant)) {
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) { test(t, v) })
	}
}

// tlsClientEnv, set in the environment, makes the test binary the client
// process of TestTLSServerAllocatesOnlyInCryptoTLS (see tlsClientProcess): the
// server's address and the CA file, separated by a space.
const tlsClientEnv = "EVIO_HTTP_TLS_CLIENT"

// tlsClientProcess is a keep-alive HTTPS client in a process of its own,
// so that its allocations are not counted with the server's. It connects
// to the server named by tlsClientEnv and then, for each byte on stdin,
// sends GET / (in one record for 'w', in two records 1 ms apart for 's'),
// reads the response and checks it, and writes 'k' to stdout; on an error
// it writes the error and exits. Everything per request is preallocated.
func tlsClientProcess() int {
	fail := func(err error) int {
		io.WriteString(os.Stdout, "error: "+err.Error()+"\n")
		return 1
	}
	addr, caFile, _ := strings.Cut(os.Getenv(tlsClientEnv), " ")
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return fail(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return fail(errors.New("no certificate in " + caFile))
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, ServerName: "localhost"})
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	whole := []byte(get("/"))
	buf := make([]byte, 4096)
	if _, err := c.Write(whole); err != nil {
		return fail(err)
	}
	// Every response is as long as the first: one record, since the
	// server writes each in one piece.
	n, err := c.Read(buf)
	if err != nil {
		return fail(err)
	}
	buf = buf[:n]
	if !bytes.HasPrefix(buf, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(buf, []byte(helloBody)) {
		return fail(errors.New("first response " + string(buf)))
	}
	cmd, ok := make([]byte, 1), []byte("k")
	for {
		if _, err := io.ReadFull(os.Stdin, cmd); err != nil {
			return 0 // the test is done
		}
		switch cmd[0] {
		case 'w':
			_, err = c.Write(whole)
		case 's':
			if _, err = c.Write(whole[:10]); err == nil {
				time.Sleep(time.Millisecond) // most likely two Data events
				_, err = c.Write(whole[10:])
			}
		default:
			err = errors.New("unknown command " + string(cmd))
		}
		if err == nil {
			_, err = io.ReadFull(c, buf)
		}
		if err == nil && !bytes.HasSuffix(buf, []byte(helloBody)) {
			err = errors.New("response " + string(buf))
		}
		if err != nil {
			return fail(err)
		}
		if _, err := os.Stdout.Write(ok); err != nil {
			return 1
		}
	}
}
