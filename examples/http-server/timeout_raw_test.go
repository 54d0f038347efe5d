package main

import (
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The timeouts against a running server, timed from the client. Each
// timeout is measured from a moment the client knows to precede the one
// the server starts it at (just before the write or dial that starts it),
// so the lower bound is exact: nothing may happen before it. The upper
// bound is generous, for loaded CI machines under -race.

// timingSlack is how late a timeout may act, measured from the client.
// The timer fires within a few milliseconds on an idle machine; the slack
// is for a 2-core CI runner under -race, where a loop or the test's
// goroutines can wait for a CPU for hundreds of milliseconds.
const timingSlack = 1500 * time.Millisecond

// off is a timeout too long to act in a test that is not about it.
const off = 10 * time.Second

// Each test that proves one timeout does not act when another should sets
// the one that must not act shorter, by a margin of several hundred
// milliseconds: a loaded machine can delay a client's write, or the
// portable engine's reader goroutine, by that much, which no test can
// tell from a server acting too early.

// withTimeouts is a startServer tweak that sets the timeouts.
func withTimeouts(t timeouts) func(*config) {
	return func(c *config) { c.timeouts = t }
}

// concurrently runs f(i) for i in [0, n) at once, each on its own
// goroutine, and waits for them all. The timing tests mostly wait, and go
// test runs only GOMAXPROCS parallel subtests at a time (two on CI), which
// would add their waits up. f gets a TB whose Fatal ends f's goroutine
// alone, having failed the test with prefix(i) before the message.
func concurrently(t *testing.T, n int, prefix func(i int) string, f func(t testing.TB, i int)) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		i := i
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(&goroutineTB{TB: t, prefix: prefix(i) + ": "}, i)
		}()
	}
	wg.Wait()
}

// goroutineTB is a testing.TB for a goroutine other than the test's: it
// reports failures with Errorf, which any goroutine may call, and ends
// only its own goroutine on Fatal (t.FailNow must not be called from
// another goroutine). Log lines carry a prefix naming the goroutine's
// case; Cleanup, TempDir and the rest go to the test.
type goroutineTB struct {
	testing.TB
	prefix string
}

func (t *goroutineTB) Errorf(format string, args ...any) {
	t.TB.Helper()
	t.TB.Errorf(t.prefix+format, args...)
}

func (t *goroutineTB) Error(args ...any) {
	t.TB.Helper()
	t.TB.Error(append([]any{t.prefix}, args...)...)
}

func (t *goroutineTB) Logf(format string, args ...any) {
	t.TB.Helper()
	t.TB.Logf(t.prefix+format, args...)
}

func (t *goroutineTB) Fatalf(format string, args ...any) {
	t.TB.Helper()
	t.TB.Errorf(t.prefix+format, args...)
	runtime.Goexit()
}

func (t *goroutineTB) Fatal(args ...any) {
	t.TB.Helper()
	t.TB.Error(append([]any{t.prefix}, args...)...)
	runtime.Goexit()
}

func (t *goroutineTB) FailNow() {
	t.TB.Fail()
	runtime.Goexit()
}

// forEachVariantConcurrently runs test for every variant at once.
func forEachVariantConcurrently(t *testing.T, test func(t testing.TB, v variant)) {
	concurrently(t, len(variants), func(i int) string { return variants[i].name },
		func(t testing.TB, i int) { test(t, variants[i]) })
}

// checkElapsed fails unless what happened at least want after start, and
// not more than timingSlack later. It logs how late it was.
func checkElapsed(t testing.TB, what string, start time.Time, want time.Duration) {
	t.Helper()
	got := time.Since(start)
	if got < want {
		t.Fatalf("%s after %v, before the timeout of %v", what, got, want)
	}
	if got > want+timingSlack {
		t.Fatalf("%s after %v, more than %v past the timeout of %v", what, got, timingSlack, want)
	}
	t.Logf("%s %v after the timeout of %v", what, got-want, want)
}

// dribbler writes data to a connection a byte at a time from a goroutine.
type dribbler struct {
	stopped chan struct{}
	done    sync.WaitGroup
	written int // bytes written; read after stop
}

// dribble starts writing data to c a byte every interval, until it is all
// written, a write fails or stop is called. It returns once the first byte
// is written, with the time just before that write.
func dribble(t testing.TB, c net.Conn, data string, interval time.Duration) (*dribbler, time.Time) {
	t.Helper()
	d := &dribbler{stopped: make(chan struct{})}
	first := time.Now()
	if _, err := io.WriteString(c, data[:1]); err != nil {
		t.Fatal(err)
	}
	d.written = 1
	d.done.Add(1)
	go func() {
		defer d.done.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for d.written < len(data) {
			select {
			case <-d.stopped:
				return
			case <-tick.C:
			}
			if _, err := io.WriteString(c, data[d.written:d.written+1]); err != nil {
				return // the server closed: expected
			}
			d.written++
		}
	}()
	t.Cleanup(func() { d.stop() })
	return d, first
}

// stop ends the writing and returns how many bytes were written.
func (d *dribbler) stop() int {
	select {
	case <-d.stopped:
	default:
		close(d.stopped)
	}
	d.done.Wait()
	return d.written
}

// expect408 reads a 408 Request Timeout with Connection: close to a
// request of method, then the close.
func expect408(t testing.TB, c *rawConn, method string, reason *protocolError) {
	t.Helper()
	resp, body := c.response(t, method)
	want := reason.reason + "\n"
	if method == "HEAD" {
		want = ""
	}
	if resp.StatusCode != 408 || !resp.Close || body != want {
		t.Fatalf("status %d, close %v, body %q, want 408, Connection: close and %q", resp.StatusCode, resp.Close, body, want)
	}
	c.expectEOF(t)
}

// TestHeaderTimeoutSlowloris dribbles a head a byte every 100 ms: the
// server answers 408 and closes once the header timeout has passed since
// the first byte. A server that restarted the timeout with each byte would
// not act before the dribble ran out, 20 s later. The keep-alive timeout
// is shorter, so a server that left it running after the first byte would
// close first, without the 408.
func TestHeaderTimeoutSlowloris(t *testing.T) {
	const header = time.Second
	forEachVariantConcurrently(t, func(t testing.TB, v variant) {
		ts := startServer(t, v, withTimeouts(timeouts{header: header, body: off, keepAlive: header * 6 / 10}))
		c := ts.dial(t)
		head := "GET / HTTP/1.1\r\nHost: evio.test\r\nX-Slow: " + strings.Repeat("z", 200) + "\r\n\r\n"
		d, first := dribble(t, c.Conn, head, 100*time.Millisecond)
		expect408(t, c, "GET", errHeadTimeout)
		checkElapsed(t, "408 and close", first, header)
		if n := d.stop(); n < 2 {
			t.Fatalf("only %d byte dribbled: the test proves nothing", n)
		}
	})
}

// TestHeaderTimeoutPerRequest checks that the header timeout starts again
// with each request and does not run between requests: two heads, each
// written in four pieces over a third of it, are answered on a connection
// left idle for longer than it in between. The other timeouts are off
// (0), so the timer Opened creates is stopped at once, and must stay so.
func TestHeaderTimeoutPerRequest(t *testing.T) {
	const header = time.Second
	forEachVariantConcurrently(t, func(t testing.TB, v variant) {
		ts := startServer(t, v, withTimeouts(timeouts{header: header}))
		c := ts.dial(t)
		request := get("/")
		for i := 0; i < 2; i++ {
			if i > 0 {
				time.Sleep(header * 11 / 10)
			}
			for j := 0; j < 4; j++ {
				if j > 0 {
					time.Sleep(header / 10)
				}
				c.send(t, request[j*len(request)/4:(j+1)*len(request)/4])
			}
			resp, body := c.response(t, "GET")
			checkResponse(t, resp, body, 200, helloBody)
		}
	})
}

// TestTimeoutsOff checks that with every timeout 0 nothing is timed: a
// silent connection, a started head and a stalled body all stay open.
func TestTimeoutsOff(t *testing.T) {
	forEachVariantConcurrently(t, func(t testing.TB, v variant) {
		ts := startServer(t, v, withTimeouts(timeouts{}))
		silent, head, body := ts.dial(t), ts.dial(t), ts.dial(t)
		head.send(t, "GET / HTTP/1.1\r\nHost: ")
		body.send(t, "POST /echo HTTP/1.1\r\nHost: evio.test\r\nContent-Length: 4\r\n\r\nab")
		time.Sleep(500 * time.Millisecond)
		silent.send(t, get("/"))
		resp, got := silent.response(t, "GET")
		checkResponse(t, resp, got, 200, helloBody)
		head.send(t, "evio.test\r\n\r\n")
		resp, got = head.response(t, "GET")
		checkResponse(t, resp, got, 200, helloBody)
		body.send(t, "cd")
		resp, got = body.response(t, "POST")
		checkResponse(t, resp, got, 200, "abcd")
	})
}

// TestKeepAliveTimeoutSilentConnection checks that a connection that sends
// nothing is closed after the keep-alive timeout, without a response (it
// started no request), and not after the shorter header timeout.
func TestKeepAliveTimeoutSilentConnection(t *testing.T) {
	const keepAlive = 400 * time.Millisecond
	forEachVariantConcurrently(t, func(t testing.TB, v variant) {
		ts := startServer(t, v, withTimeouts(timeouts{header: keepAlive / 2, body: keepAlive / 2, keepAlive: keepAlive}))
		start := time.Now()
		c := ts.dial(t)
		c.expectEOF(t)
		checkElapsed(t, "silent close", start, keepAlive)
	})
}

// TestKeepAliveTimeoutAfterResponse checks that requests keep a connection
// open past the keep-alive timeout, and that it is closed silently once it
// has been idle that long after a response. Empty lines dribbled after the
// response start no request: they must neither restart the timeout (a
// client could hold the connection for ever with them) nor earn a 408.
func TestKeepAliveTimeoutAfterResponse(t *testing.T) {
	const keepAlive = 800 * time.Millisecond
	forEachVariantConcurrently(t, func(t testing.TB, v variant) {
		ts := startServer(t, v, withTimeouts(timeouts{header: off, body: off, keepAlive: keepAlive}))
		c := ts.dial(t)
		opened := time.Now()
		var last time.Time
		for i := 0; i < 4; i++ {
			if i > 0 {
				time.Sleep(keepAlive * 3 / 8)
			}
			last = time.Now()
			c.send(t, get("/"))
			resp, body := c.response(t, "GET")
			checkResponse(t, resp, body, 200, helloBody)
		}
		if d := time.Since(opened); d <= keepAlive {
			t.Fatalf("requests for %v only: the test proves nothing", d)
		}
		d, _ := dribble(t, c.Conn, strings.Repeat("\r\n", 40), keepAlive/8)
		c.expectEOF(t)
		checkElapsed(t, "idle close", last, keepAlive)
		if n := d.stop(); n < 2 {
			t.Fatalf("only %d byte of empty lines sent: the test proves nothing", n)
		}
	})
}

// TestKeepAliveWaitsForSlowReader sends a large /echo and reads the
// response only after several keep-alive timeouts: the connection must
// stay open while the response is being written, and for another request
// once it has gone. (evio writes queued output before a Close acts, so the
// response would arrive whole either way; the second request is what a
// premature close loses.) Only on TCP, whose socket buffers are far
// smaller than the response.
//
// The server cannot see what its socket holds: the keep-alive timeout
// starts once evio's queue is empty, as nginx's does after its last send,
// with up to the socket buffers' worth still to reach the client. The
// client shrinks its receive buffer, so that reading that rest takes far
// less than the timeout even on a loaded machine.
func TestKeepAliveWaitsForSlowReader(t *testing.T) {
	const keepAlive, size = time.Second, 12 << 20
	// Built before dialling: making 12 MiB takes long enough under -race
	// for the keep-alive timeout of the connection, waiting for its first
	// request, to pass.
	payload := strings.Repeat("slow reader ", size/12)
	request := post("/echo", payload)
	tcp := []variant{variants[0], variants[4]}
	concurrently(t, len(tcp), func(i int) string { return tcp[i].name }, func(t testing.TB, i int) {
		ts := startServer(t, tcp[i], func(c *config) {
			c.maxBody = size
			c.timeouts = timeouts{header: off, body: off, keepAlive: keepAlive}
		})
		c := ts.dial(t)
		if err := c.Conn.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
			t.Fatal(err)
		}
		c.send(t, request)
		time.Sleep(2 * keepAlive)
		resp, body := c.response(t, "POST")
		if resp.StatusCode != 200 || body != payload {
			t.Fatalf("status %d, %d bytes of %d", resp.StatusCode, len(body), len(payload))
		}
		last := time.Now()
		c.send(t, get("/"))
		resp, body = c.response(t, "GET")
		checkResponse(t, resp, body, 200, helloBody)
		c.expectEOF(t)
		checkElapsed(t, "idle close", last, keepAlive)
	})
}

// TestBodyTimeoutStalled stops sending a body part-way: 408 once the body
// timeout has passed since the last bytes, then a close. The keep-alive
// timeout is shorter, so a server that left it running would close first.
func TestBodyTimeoutStalled(t *testing.T) {
	const body = 600 * time.Millisecond
	cases := []struct {
		name, method string
		head, body   string // body: what is sent of it, in a later write
		interim      bool   // a 100 Continue comes before the 408
	}{
		{"no body bytes", "POST", "POST /echo HTTP/1.1\r\nHost: evio.test\r\nContent-Length: 10\r\n\r\n", "", false},
		{"part of the body", "POST", "POST /echo HTTP/1.1\r\nHost: evio.test\r\nContent-Length: 10\r\n\r\n", "0123", false},
		{"part of a chunk", "PUT", "PUT /echo HTTP/1.1\r\nHost: evio.test\r\nTransfer-Encoding: chunked\r\n\r\n", "5\r\nab", false},
		{"no end of trailers", "POST", "POST / HTTP/1.1\r\nHost: evio.test\r\nTransfer-Encoding: chunked\r\n\r\n", "2\r\nab\r\n0\r\n", false},
		{"HEAD with a body", "HEAD", "HEAD / HTTP/1.1\r\nHost: evio.test\r\nContent-Length: 3\r\n\r\n", "a", false},
		// The body timeout runs from the 100 Continue.
		{"100-continue, no body", "POST", "POST /echo HTTP/1.1\r\nHost: evio.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", "", true},
	}
	servers := make([]*testServer, len(variants))
	for i, v := range variants {
		servers[i] = startServer(t, v, withTimeouts(timeouts{header: off, body: body, keepAlive: body * 6 / 10}))
	}
	name := func(i int) string { return variants[i/len(cases)].name + ": " + cases[i%len(cases)].name }
	concurrently(t, len(variants)*len(cases), name, func(t testing.TB, i int) {
		tc := cases[i%len(cases)]
		c := servers[i/len(cases)].dial(t)
		last := time.Now()
		c.send(t, tc.head)
		if tc.body != "" {
			time.Sleep(body / 2)
			last = time.Now()
			c.send(t, tc.body)
		}
		if tc.interim {
			if resp, _ := c.response(t, tc.method); resp.StatusCode != 100 {
				t.Fatalf("status %d, want 100", resp.StatusCode)
			}
		}
		expect408(t, c, tc.method, errBodyTimeout)
		checkElapsed(t, "408 and close", last, body)
	})
}

// TestBodyTimeoutTrickle sends bodies a byte every 100 ms, each taking
// several body timeouts in all: the body timeout bounds the pause between
// reads, not the body, so they are answered.
func TestBodyTimeoutTrickle(t *testing.T) {
	const body = 500 * time.Millisecond
	requests := []struct{ name, method, head, body, want string }{
		{"Content-Length", "POST", "POST /echo HTTP/1.1\r\nHost: evio.test\r\nContent-Length: 16\r\n\r\n", "a trickled body.", "a trickled body."},
		{"chunked", "PUT", "PUT /echo HTTP/1.1\r\nHost: evio.test\r\nTransfer-Encoding: chunked\r\n\r\n", "8\r\ntrickled\r\n0\r\n\r\n", "trickled"},
	}
	servers := make([]*testServer, len(variants))
	for i, v := range variants {
		servers[i] = startServer(t, v, withTimeouts(timeouts{header: off, body: body, keepAlive: off}))
	}
	name := func(i int) string { return variants[i/len(requests)].name + ": " + requests[i%len(requests)].name }
	concurrently(t, len(variants)*len(requests), name, func(t testing.TB, i int) {
		r := requests[i%len(requests)]
		c := servers[i/len(requests)].dial(t)
		c.send(t, r.head)
		d, start := dribble(t, c.Conn, r.body, 100*time.Millisecond)
		resp, got := c.response(t, r.method)
		checkResponse(t, resp, got, 200, r.want)
		if n := d.stop(); n != len(r.body) {
			t.Fatalf("%d of %d bytes written", n, len(r.body))
		}
		if took := time.Since(start); took < 2*body {
			t.Fatalf("the body took %v only: the test proves nothing", took)
		}
	})
}
