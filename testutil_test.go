package evio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// childEnv names, in a child process started by a test, the function the
// test binary runs instead of the tests (see childMains).
const childEnv = "EVIO_TEST_CHILD"

// childMains are the programs a test can run in a child process of the
// test binary: for descriptor limits and crashes, which must not touch the
// test process itself.
var childMains = map[string]func() int{}

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		os.Exit(childMains[name]())
	}
	code := m.Run()
	if code == 0 {
		if leaked := leakedGoroutines(5 * time.Second); leaked != "" {
			fmt.Fprintf(os.Stderr, "goroutines left running after the tests:\n\n%s\n", leaked)
			code = 1
		}
	}
	os.Exit(code)
}

// leakedGoroutines waits up to d for every goroutine that runs code of this
// package (a loop, an engine's reader or writer, a test's helper) to end,
// and returns the stacks of those that did not. The library's go.mod may
// require nothing but golang.org/x/sys, so this stands in for goleak here;
// the examples module uses goleak itself.
func leakedGoroutines(d time.Duration) string {
	deadline := time.Now().Add(d)
	for {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var leaked []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "leakedGoroutines") {
				continue // this one
			}
			if strings.Contains(g, "github.com/evio-go/evio") {
				leaked = append(leaked, g)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return strings.Join(leaked, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startChild runs the child program name with extra environment variables
// and returns it with its stdin and stdout.
func startChild(t *testing.T, name string, env ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), childEnv+"="+name), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin, bufio.NewReader(stdout)
}

// engine is one of the two engines, selected by the scheme suffix.
type engine struct {
	name   string
	suffix string // "" for epoll/kqueue, "-net" for the portable engine
}

var engines = []engine{{"poll", ""}, {"std", "-net"}, {"uring", "-uring"}}

// addr builds an address for this engine: e.addr("tcp", "127.0.0.1:0").
func (e engine) addr(scheme, address string) string {
	return scheme + e.suffix + "://" + address
}

// forEachEngine runs f as a subtest on each engine.
func forEachEngine(t *testing.T, f func(t *testing.T, e engine)) {
	t.Helper()
	for _, e := range engines {
		e := e
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// testServer is a Serve call running in the background.
type testServer struct {
	t        testing.TB
	addrs    []net.Addr
	numLoops int
	stop     atomic.Bool
	done     chan error
	once     sync.Once
	err      error
}

// startServer runs Serve on a goroutine and returns once Serving has fired.
// Unless events has its own Tick, the server gets one that shuts it down
// when Stop is called. The server is stopped at the end of the test.
func startServer(t testing.TB, events Events, addrs ...string) *testServer {
	t.Helper()
	s := &testServer{t: t, done: make(chan error, 1)}
	serving := make(chan struct{})
	userServing := events.Serving
	events.Serving = func(srv Server) Action {
		s.addrs = srv.Addrs
		s.numLoops = srv.NumLoops
		close(serving)
		if userServing != nil {
			return userServing(srv)
		}
		return None
	}
	if events.Tick == nil {
		events.Tick = func() (time.Duration, Action) {
			if s.stop.Load() {
				return 0, Shutdown
			}
			return 5 * time.Millisecond, None
		}
	}
	go func() { s.done <- Serve(events, addrs...) }()
	select {
	case <-serving:
	case err := <-s.done:
		t.Fatalf("Serve(%q) returned before serving: %v", addrs, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("Serve(%q) did not start serving within 10s", addrs)
	}
	t.Cleanup(func() { s.Stop() })
	return s
}

// Stop shuts the server down (if its Tick is the default one) and returns
// Serve's result.
func (s *testServer) Stop() error {
	s.t.Helper()
	s.once.Do(func() {
		s.stop.Store(true)
		s.err = s.Wait()
	})
	return s.err
}

// Wait returns Serve's result, failing the test if it does not come within
// 15 seconds.
func (s *testServer) Wait() error {
	s.t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // let a later Wait see it too
		return err
	case <-time.After(15 * time.Second):
		s.t.Fatalf("Serve did not return within 15s of shutdown")
		return nil
	}
}

// dial connects to the i-th address of the server.
func (s *testServer) dial(i int) net.Conn {
	s.t.Helper()
	a := s.addrs[i]
	c, err := net.DialTimeout(a.Network(), dialable(a), 5*time.Second)
	if err != nil {
		s.t.Fatalf("dial %s: %v", a, err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

// dialable turns a wildcard listening address into one a client can dial.
func dialable(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		if a.IP.IsUnspecified() {
			return net.JoinHostPort("localhost", strconv.Itoa(a.Port))
		}
	case *net.UDPAddr:
		if a.IP.IsUnspecified() {
			return net.JoinHostPort("localhost", strconv.Itoa(a.Port))
		}
	}
	return a.String()
}

// echoEvents echoes everything back.
func echoEvents() Events {
	return Events{Data: func(c Conn, in []byte) ([]byte, Action) { return in, None }}
}

// unixPath is a socket path in the test's temporary directory.
func unixPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "evio.sock")
}

// readAllWithin reads until EOF, failing after d.
func readAllWithin(t *testing.T, c net.Conn, d time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading until EOF: %v (got %d bytes)", err, len(b))
	}
	return b
}

// readLine reads one \n-terminated line, failing after 5 seconds.
func readLine(t *testing.T, r *bufio.Reader, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (got %q)", err, line)
	}
	return strings.TrimSuffix(line, "\n")
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// dialTimeout dials TCP with a 5 second timeout.
func dialTimeout(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, 5*time.Second)
}

// loopIndexOf tells which loop serves c.
func loopIndexOf(c Conn) int { return c.(*conn).loop.index }

// engineOf tells which engine serves c: "poll", "std" or "uring".
func engineOf(c Conn) string {
	cc := c.(*conn)
	switch {
	case cc.ext != nil && cc.ext.stream != nil:
		return "std"
	case strings.Contains(fmt.Sprintf("%T", cc.loop.tp), "uring"):
		return "uring"
	}
	return "poll"
}

// loopIterations is how many iterations c's loop has run; any goroutine.
func loopIterations(c Conn) uint64 { return c.(*conn).loop.iterations.Load() }

// outputExhausted reports whether c's server holds its MaxTotalOutput, as
// its loops last published; any goroutine.
func outputExhausted(c Conn) bool { return c.(*conn).loop.server.budget.exhausted() }

// queuedOutput is the output c's loop holds for it; from c's events only.
func queuedOutput(c Conn) int { return c.(*conn).out.Len() }

// connTableSize is the length of c's loop's connection table; from c's
// events only.
func connTableSize(c Conn) int { return len(c.(*conn).loop.conns) }

// keepSending writes chunk to c over and over, as a pipelining client
// would, until stop is called or a write fails other than by timing out (a
// server that does not read makes writes time out; the next one tries
// again).
func keepSending(c net.Conn, chunk []byte) (stop func()) {
	done := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := c.Write(chunk); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
		}
	}()
	return func() {
		close(done)
		writer.Wait()
		c.SetWriteDeadline(time.Time{})
	}
}

// replyPerLine is a Data event that answers each newline-terminated
// request in its input with reply, counting them in served.
func replyPerLine(reply []byte, served *atomic.Int64) func(Conn, []byte) ([]byte, Action) {
	return func(c Conn, in []byte) ([]byte, Action) {
		var out []byte
		for _, b := range in {
			if b == '\n' {
				out = append(out, reply...)
				served.Add(1)
			}
		}
		return out, None
	}
}

// startQuietServer is startServer with a Tick every tick instead of every
// 5 ms, for tests of the loop's timing: a frequent Tick keeps waking the
// loop and so keeps its clock fresh, which can hide a stale one, as a
// server without Tick would see it. Stop takes up to tick.
func startQuietServer(t testing.TB, events Events, tick time.Duration, addrs ...string) *testServer {
	t.Helper()
	var sp atomic.Pointer[testServer]
	events.Tick = func() (time.Duration, Action) {
		if s := sp.Load(); s != nil && s.stop.Load() {
			return 0, Shutdown
		}
		return tick, None
	}
	s := startServer(t, events, addrs...)
	sp.Store(s)
	return s
}

// readUntilError reads and discards what c receives until a read fails,
// for at most d, and returns how much it read and the error (io.EOF for a
// clean end of stream).
func readUntilError(c net.Conn, d time.Duration) (int64, error) {
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64<<10)
	var total int64
	for {
		n, err := c.Read(buf)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
}

// patterned is n bytes whose value at stream offset off+i is a function of
// off+i, so that a reader can check each byte's place in the stream.
func patterned(off, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = patternByte(off + i)
	}
	return b
}

func patternByte(off int) byte { return byte(off % 251) }

// checkPatterned reports the first offset at which b, found at stream
// offset off, differs from patterned, or -1.
func checkPatterned(off int, b []byte) int {
	for i, v := range b {
		if v != patternByte(off+i) {
			return off + i
		}
	}
	return -1
}

// within checks that d, the time something took, is at least min (never
// early) and at most max.
func within(t *testing.T, what string, d, min, max time.Duration) {
	t.Helper()
	if d < min {
		t.Errorf("%s after %v: early, want at least %v", what, d, min)
	}
	if d > max {
		t.Errorf("%s after %v: want at most %v", what, d, max)
	}
}

// isTimeout reports a deadline that passed (a net.Error that says so).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
