package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/evio-go/evio"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		// A test started this binary as the server: run main with the
		// arguments after "--".
		for i, arg := range os.Args {
			if arg == "--" {
				os.Args = append(os.Args[:1], os.Args[i+1:]...)
				break
			}
		}
		main()
		return
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		serverProc.Remove()
		os.Exit(code)
	}))
}

// setup is one way of running the server that the behavioural tests are
// repeated over.
type setup struct {
	name   string
	loops  int
	stdlib bool // evio's portable engine
	unix   bool // clients connect over the unix socket
}

var setups = []setup{
	{name: "tcp/1-loop", loops: 1},
	{name: "tcp/2-loops", loops: 2},
	{name: "unix/1-loop", loops: 1, unix: true},
	{name: "unix/2-loops", loops: 2, unix: true},
	{name: "portable/tcp/2-loops", loops: 2, stdlib: true},
	{name: "portable/unix/1-loop", loops: 1, stdlib: true, unix: true},
}

// testServer is a server running in the test's process.
type testServer struct {
	srv     *server
	tcpAddr string // the plain port's address; "" when it is off
	tlsAddr string // the TLS port's address; "" without TLS
	addrs   []boundAddr
	unix    string // socket path
	done    chan error
	stopped bool
}

// startServer starts a server on a free port of 127.0.0.1 and on a unix
// socket in a temporary directory, and stops it when the test ends.
func startServer(t testing.TB, cfg config) *testServer {
	t.Helper()
	cfg.bind = "127.0.0.1"
	cfg.Port = 0
	if cfg.UnixSocket == "" {
		cfg.UnixSocket = filepath.Join(t.TempDir(), "redis.sock")
	}
	if cfg.logf == nil {
		cfg.logf = t.Logf
	}
	srv, err := newServer(cfg)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	ts := &testServer{srv: srv, unix: cfg.UnixSocket, done: make(chan error, 1)}
	ready := make(chan []boundAddr, 1)
	go func() {
		ts.done <- srv.serve(func(addrs []boundAddr, loops int) {
			ready <- addrs
		})
	}()
	select {
	case ts.addrs = <-ready:
		for _, a := range ts.addrs {
			switch {
			case a.Network() != "tcp":
			case a.TLS:
				ts.tlsAddr = a.String()
			default:
				ts.tcpAddr = a.String()
			}
		}
	case err := <-ts.done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start within 10s")
	}
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop stops the server and waits for it, failing the test if serve
// returned an error or took too long.
func (ts *testServer) stop(t testing.TB) {
	t.Helper()
	if ts.stopped {
		return
	}
	ts.stopped = true
	if err := ts.srv.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("server did not stop within 10s")
	}
	if n := ts.srv.stats.panics.Load(); n > 0 {
		t.Errorf("%d connections were closed by a panic in the server (see the log)", n)
	}
}

// startSetup starts a server for a setup and returns the network and
// address its clients use.
func startSetup(t testing.TB, s setup, cfg config) (ts *testServer, network, addr string) {
	cfg.Loops = s.loops
	cfg.Stdlib = s.stdlib
	cfg.Balance = evio.RoundRobin
	ts = startServer(t, cfg)
	if s.unix {
		return ts, "unix", ts.unix
	}
	return ts, "tcp", ts.tcpAddr
}

// newClient returns a go-redis client of the server, closed when the test
// ends. It keeps go-redis's defaults: HELLO 3 first, then CLIENT SETINFO,
// as an application would connect. Only the maintenance-notification
// handshake, which is for Redis Cloud and only logs when it fails, is
// turned off to keep the test output quiet.
func newClient(t testing.TB, network, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Network:                  network,
		Addr:                     addr,
		DialTimeout:              5 * time.Second,
		ReadTimeout:              5 * time.Second,
		WriteTimeout:             5 * time.Second,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// testContext is a context that ends with the test or after a minute.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// rawConn is a plain connection to the server, for sending bytes no client
// library would send.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t testing.TB, network, addr string) *rawConn {
	t.Helper()
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, r: bufio.NewReader(conn)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.conn, s); err != nil {
		rc.t.Fatalf("write: %v", err)
	}
}

// readReply reads one RESP2 reply and returns its bytes.
func (rc *rawConn) readReply() (string, error) {
	var buf bytes.Buffer
	err := readRESP(rc.r, &buf)
	return buf.String(), err
}

// mustReply reads one reply and fails the test unless it is want.
func (rc *rawConn) mustReply(want string) {
	rc.t.Helper()
	got, err := rc.readReply()
	if err != nil {
		rc.t.Fatalf("reading reply (want %q): %v (got %q)", want, err, got)
	}
	if got != want {
		rc.t.Fatalf("reply %q, want %q", got, want)
	}
}

// mustClose fails the test unless the server closes the connection without
// sending anything more.
func (rc *rawConn) mustClose() {
	rc.t.Helper()
	rest, err := io.ReadAll(rc.r)
	if err != nil && !isConnReset(err) {
		rc.t.Fatalf("waiting for close: %v (after %q)", err, rest)
	}
	if len(rest) > 0 {
		rc.t.Fatalf("unexpected bytes before close: %q", rest)
	}
}

func isConnReset(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr) && !opErr.Timeout()
}

// readRESP copies one RESP2 value from r to w.
func readRESP(r *bufio.Reader, w *bytes.Buffer) error {
	line, err := r.ReadString('\n')
	w.WriteString(line)
	if err != nil {
		return err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return fmt.Errorf("malformed line %q", line)
	}
	switch line[0] {
	case '+', '-', ':':
		return nil
	case '$':
		n, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil {
			return err
		}
		if n < 0 {
			return nil
		}
		body := make([]byte, n+2)
		_, err = io.ReadFull(r, body)
		w.Write(body)
		return err
	case '*':
		n, err := strconv.Atoi(line[1 : len(line)-2])
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			if err := readRESP(r, w); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown reply type in %q", line)
}
