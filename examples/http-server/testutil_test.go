package main

import (
	"bufio"
	"context"
	"errors"
	"github.com/evio-go/evio/examples/internal/listenflags"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evio-go/evio"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(tlsClientEnv) != "" {
		// This test binary, run again by TestTLSServerAllocatesOnlyInCryptoTLS
		// as its client process.
		os.Exit(tlsClientProcess())
	}
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every wait of a test, so that a server bug fails the
// test instead of hanging CI.
const testTimeout = 10 * time.Second

// testTick is the servers' Tick interval in tests: how long stopping takes.
const testTick = 5 * time.Millisecond

// variant is one way of running the server that the behavioural tests
// cover: transport, number of loops and engine.
type variant struct {
	name   string
	loops  int
	unix   bool // clients dial the unix socket instead of TCP
	stdlib bool // the portable engine (-net schemes)
}

// variants are run by every behavioural test. The -net ones need the
// portable engine.
var variants = []variant{
	{name: "tcp-1loop", loops: 1},
	{name: "tcp-2loops", loops: 2},
	{name: "unix-1loop", loops: 1, unix: true},
	{name: "unix-2loops", loops: 2, unix: true},
	{name: "net-tcp-2loops", loops: 2, stdlib: true},
	{name: "net-unix-1loop", loops: 1, unix: true, stdlib: true},
}

// forEachVariant runs test as a subtest per variant.
func forEachVariant(t *testing.T, test func(t *testing.T, v variant)) {
	for _, v := range variants {
		v := v
		t.Run(v.name, func(t *testing.T) { test(t, v) })
	}
}

// testServer is a server started by a test, stopped by the test's cleanup.
type testServer struct {
	network, address string // where clients dial
	tcpAddr          net.Addr
	client           *http.Client
	transport        *http.Transport
	scheme           string // of url: https for a TLS server
}

// defaultTimeouts are the flags' defaults, which the test servers run with
// unless a test changes them: long enough never to fire in a test that is
// not about them, and their timer is set on every request.
var defaultTimeouts = timeouts{header: defaultHeaderTimeout, body: defaultBodyTimeout, keepAlive: defaultKeepAliveTimeout}

// startServer starts a server for v on a free port (and a unix socket in
// t.TempDir for unix variants), with tweak, if any, changing the config
// first. Cleanup stops it and checks that it stopped.
func startServer(t testing.TB, v variant, tweak func(*config)) *testServer {
	t.Helper()
	cfg := config{host: "127.0.0.1", Listen: listenflags.Listen{Loops: v.loops, Balance: evio.RoundRobin, Stdlib: v.stdlib},
		maxBody: defaultMaxBody, timeouts: defaultTimeouts}
	if v.unix {
		cfg.UnixSocket = filepath.Join(t.TempDir(), "http.sock")
	}
	if tweak != nil {
		tweak(&cfg)
	}
	srv := newServer(cfg)
	srv.tick = testTick
	bound := make(chan []net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.serve(func(s evio.Server) { bound <- s.Addrs }) }()
	var addrs []net.Addr
	select {
	case addrs = <-bound:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(testTimeout):
		t.Fatal("server did not start in time")
	}
	t.Cleanup(func() {
		srv.stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(testTimeout):
			t.Error("server did not stop in time")
		}
	})
	ts := &testServer{network: "tcp", address: addrs[0].String(), tcpAddr: addrs[0], scheme: "http"}
	if v.unix {
		ts.network, ts.address = "unix", cfg.UnixSocket
	}
	ts.transport = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, ts.network, ts.address)
		},
		MaxIdleConnsPerHost:   64,
		ExpectContinueTimeout: testTimeout,
	}
	ts.client = &http.Client{Transport: ts.transport, Timeout: testTimeout}
	t.Cleanup(ts.transport.CloseIdleConnections)
	return ts
}

// url is the URL of path on the server; the host part only names it, the
// transport dials the real address.
func (ts *testServer) url(path string) string { return ts.scheme + "://evio.test" + path }

// dial opens a raw connection with a deadline of testTimeout, closed by the
// test's cleanup.
func (ts *testServer) dial(t testing.TB) *rawConn {
	t.Helper()
	c, err := net.DialTimeout(ts.network, ts.address, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(testTimeout))
	t.Cleanup(func() { c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// rawConn is a client connection that writes bytes as given and reads
// responses with net/http's parser.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *rawConn) send(t testing.TB, data string) {
	t.Helper()
	if _, err := io.WriteString(c.Conn, data); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// response reads one response, to a request of method, with its body.
func (c *rawConn) response(t testing.TB, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(c.r, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading response body: %v", err)
	}
	return resp, string(body)
}

// expectEOF checks that the server closes the connection with nothing more
// to read.
func (c *rawConn) expectEOF(t testing.TB) {
	t.Helper()
	rest, err := io.ReadAll(c.r)
	if err != nil && !errors.Is(err, net.ErrClosed) && !isConnReset(err) {
		t.Fatalf("waiting for the server to close: %v", err)
	}
	if len(rest) > 0 {
		t.Fatalf("unexpected bytes before close: %q", rest)
	}
}

func isConnReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// checkResponse checks a response's status, body and Connection field.
func checkResponse(t testing.TB, resp *http.Response, body string, status int, wantBody string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d (body %q)", resp.StatusCode, status, body)
	}
	if wantBody != "" && body != wantBody {
		t.Fatalf("body %q, want %q", clip(body), clip(wantBody))
	}
}

// clip shortens a string for a failure message.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// get is a minimal HTTP/1.1 request.
func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: evio.test\r\n\r\n" }

// post is an HTTP/1.1 request with a Content-Length body.
func post(path, body string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: evio.test\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}
