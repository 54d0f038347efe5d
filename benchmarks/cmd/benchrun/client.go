package main

// The harness's own small client: a strict protocol check run on every
// server before it is measured (so that a server that answers wrongly is
// reported, not timed), the warmup before wrk and redis-benchmark, and the
// idle connections of the memory workload.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const ioTimeout = 5 * time.Second

// client is one connection with a buffered reader.
type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(addr string) (*client, error) {
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		return nil, err
	}
	return &client{c: c, r: bufio.NewReader(c)}, nil
}

func (cl *client) Close() error { return cl.c.Close() }

func (cl *client) send(s string) error {
	cl.c.SetDeadline(time.Now().Add(ioTimeout))
	_, err := io.WriteString(cl.c, s)
	return err
}

// httpRequest is what the check and the warmup send; wrk sends the same
// request line and Host header.
func httpRequest(addr string, closeConn bool) string {
	s := "GET / HTTP/1.1\r\nHost: " + addr + "\r\n"
	if closeConn {
		s += "Connection: close\r\n"
	}
	return s + "\r\n"
}

// httpResponse is one parsed response.
type httpResponse struct {
	raw     int // bytes on the wire
	status  string
	headers map[string]string
	body    string
}

func (cl *client) readHTTP() (httpResponse, error) {
	cl.c.SetDeadline(time.Now().Add(ioTimeout))
	var resp httpResponse
	resp.headers = map[string]string{}
	line, err := cl.r.ReadString('\n')
	if err != nil {
		return resp, err
	}
	resp.raw += len(line)
	resp.status = strings.TrimRight(line, "\r\n")
	for {
		line, err = cl.r.ReadString('\n')
		if err != nil {
			return resp, err
		}
		resp.raw += len(line)
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return resp, fmt.Errorf("malformed header %q", line)
		}
		resp.headers[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	n, err := strconv.Atoi(resp.headers["content-length"])
	if err != nil {
		return resp, errors.New("no Content-Length")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(cl.r, body); err != nil {
		return resp, err
	}
	resp.raw += n
	resp.body = string(body)
	return resp, nil
}

// checkHTTPResponse insists on the TechEmpower plaintext response with the
// harness's header values; a lenient check (for servers not written for the
// harness, such as the repository's examples) wants only status and body.
func checkHTTPResponse(r httpResponse, closeConn, lenient bool) error {
	if lenient {
		if r.status != "HTTP/1.1 200 OK" || r.body != "Hello, World!" {
			return fmt.Errorf("status %q, body %q", r.status, r.body)
		}
		if closeConn && !strings.EqualFold(r.headers["connection"], "close") {
			return errors.New("no Connection: close in the response")
		}
		return nil
	}
	want := map[string]string{"server": "bench", "content-type": "text/plain", "content-length": "13"}
	if closeConn {
		want["connection"] = "close"
	}
	if r.status != "HTTP/1.1 200 OK" {
		return fmt.Errorf("status %q", r.status)
	}
	for k, v := range want {
		if r.headers[k] != v {
			return fmt.Errorf("header %s: %q, want %q", k, r.headers[k], v)
		}
	}
	if _, err := time.Parse(time.RFC1123, r.headers["date"]); err != nil {
		return fmt.Errorf("header date: %v", err)
	}
	if len(r.headers) != len(want)+1 {
		return fmt.Errorf("headers %v, want exactly %v and date", r.headers, want)
	}
	if r.body != "Hello, World!" {
		return fmt.Errorf("body %q", r.body)
	}
	return nil
}

// expect reads exactly len(want) bytes and compares them.
func (cl *client) expect(want string) error {
	cl.c.SetDeadline(time.Now().Add(ioTimeout))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(cl.r, got); err != nil {
		return fmt.Errorf("reading %q: %v", want, err)
	}
	if string(got) != want {
		return fmt.Errorf("got %q, want %q", got, want)
	}
	return nil
}

// expectEOF checks that the server closed the connection.
func (cl *client) expectEOF() error {
	cl.c.SetDeadline(time.Now().Add(ioTimeout))
	var b [1]byte
	if n, err := cl.r.Read(b[:]); n != 0 || err == nil {
		return errors.New("connection still open after Connection: close")
	}
	return nil
}

// checkServer runs the protocol check for proto against addr.
func checkServer(proto, addr string, lenient bool) error {
	if proto == protoUDP {
		return checkUDP(addr)
	}
	cl, err := dial(addr)
	if err != nil {
		return err
	}
	defer cl.Close()
	switch proto {
	case protoEcho:
		// A small message, then one far larger than a socket buffer, so
		// that the server has to finish a partial write.
		if err := cl.send("hello, echo\n"); err != nil {
			return err
		}
		if err := cl.expect("hello, echo\n"); err != nil {
			return err
		}
		big := strings.Repeat("0123456789abcdef", 1<<16)
		go cl.send(big)
		return cl.expect(big)
	case protoHTTP:
		// Three pipelined requests in one write, then one split in two.
		req := httpRequest(addr, false)
		if err := cl.send(strings.Repeat(req, 3) + req[:7]); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
		if err := cl.send(req[7:]); err != nil {
			return err
		}
		size := 0
		for i := 0; i < 4; i++ {
			r, err := cl.readHTTP()
			if err != nil {
				return fmt.Errorf("response %d: %v", i, err)
			}
			if err := checkHTTPResponse(r, false, lenient); err != nil {
				return fmt.Errorf("response %d: %v", i, err)
			}
			if size != 0 && r.raw != size && !lenient {
				return errors.New("responses differ in length")
			}
			size = r.raw
		}
		if size != 130 && !lenient {
			return fmt.Errorf("response is %d bytes, want 130 like every other server", size)
		}
		// Connection: close is answered with the header, then a close.
		if err := cl.send(httpRequest(addr, true)); err != nil {
			return err
		}
		r, err := cl.readHTTP()
		if err != nil {
			return fmt.Errorf("response to Connection: close: %v", err)
		}
		if err := checkHTTPResponse(r, true, lenient); err != nil {
			return fmt.Errorf("response to Connection: close: %v", err)
		}
		return cl.expectEOF()
	case protoRedis:
		cmds := "PING\r\n" + respCmd("SET", "foo", "bar") + respCmd("GET", "foo") +
			respCmd("GET", "missing") + respCmd("PING") + "SET a 1\r\nGET a\r\n"
		split := len(cmds) - 20
		if err := cl.send(cmds[:split]); err != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
		if err := cl.send(cmds[split:]); err != nil {
			return err
		}
		return cl.expect("+PONG\r\n+OK\r\n$3\r\nbar\r\n$-1\r\n+PONG\r\n+OK\r\n$1\r\n1\r\n")
	}
	return fmt.Errorf("unknown protocol %q", proto)
}

func respCmd(args ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b.String()
}

// roundTrip does one request and checks its answer: the unit of the warmup
// and of opening an idle connection.
func (cl *client) roundTrip(proto, addr string, closeConn bool) error {
	switch proto {
	case protoEcho:
		if err := cl.send("0123456789abcdef"); err != nil {
			return err
		}
		return cl.expect("0123456789abcdef")
	case protoHTTP:
		if err := cl.send(httpRequest(addr, closeConn)); err != nil {
			return err
		}
		r, err := cl.readHTTP()
		if err == nil && r.body != "Hello, World!" {
			err = fmt.Errorf("body %q", r.body)
		}
		return err
	case protoRedis:
		if err := cl.send(respCmd("SET", "key:warm", "xyz") + respCmd("GET", "key:warm") + "PING\r\n"); err != nil {
			return err
		}
		return cl.expect("+OK\r\n$3\r\nxyz\r\n+PONG\r\n")
	}
	return fmt.Errorf("unknown protocol %q", proto)
}

// warm runs round trips on conns connections for d (a new connection per
// request with closeEach), so that the server has its buffers, heap and
// caches in the state they reach under load before it is measured.
func warm(proto, addr string, conns int, d time.Duration, closeEach bool) error {
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cl *client
			for time.Now().Before(deadline) {
				var err error
				if cl == nil {
					if cl, err = dial(addr); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
				}
				if err = cl.roundTrip(proto, addr, closeEach); err != nil {
					firstErr.CompareAndSwap(nil, err)
					cl.Close()
					return
				}
				if closeEach {
					cl.Close()
					cl = nil
				}
			}
			if cl != nil {
				cl.Close()
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return fmt.Errorf("warmup: %v", err)
	}
	return nil
}

// openIdle opens n connections that send nothing and returns them open.
func openIdle(addr string, n int) ([]*client, error) {
	const parallel = 64 // below the listen backlog, so no SYN is dropped
	conns := make([]*client, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || firstErr.Load() != nil {
					return
				}
				cl, err := dial(addr)
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("idle connection %d: %v", i, err))
					return
				}
				cl.c.SetDeadline(time.Time{})
				conns[i] = cl
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		closeAll(conns)
		return nil, err
	}
	return conns, nil
}

func closeAll(conns []*client) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// udpRoundTrip sends msg to addr from a socket of its own and waits up to
// d for the same bytes back.
func udpRoundTrip(addr string, msg []byte, d time.Duration) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, len(msg)+1)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != string(msg) {
		return fmt.Errorf("sent %d bytes, got %d different ones back", len(msg), n)
	}
	return nil
}

// checkUDP: datagrams from 1 byte to the largest IPv4 carries come back
// whole, each as one datagram; then a burst of 50 from one socket comes
// back in order (loopback keeps it; a lost one would fail the check, and
// 50 small ones fit any socket buffer).
func checkUDP(addr string) error {
	for _, size := range []int{1, 64, 1472, 9000, 65507} {
		msg := []byte(strings.Repeat("0123456789abcdef", size/16+1)[:size])
		if err := udpRoundTrip(addr, msg, time.Second); err != nil {
			return fmt.Errorf("%d-byte datagram: %v", size, err)
		}
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 0; i < 50; i++ {
		fmt.Fprintf(c, "datagram %d", i)
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 64)
	for i := 0; i < 50; i++ {
		n, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("burst reply %d: %v", i, err)
		}
		if want := fmt.Sprintf("datagram %d", i); string(buf[:n]) != want {
			return fmt.Errorf("burst reply %d is %q, want %q", i, buf[:n], want)
		}
	}
	return nil
}
