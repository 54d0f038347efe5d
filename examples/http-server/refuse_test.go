package main

import (
	"strings"
	"testing"
)

// refusalMaxBody is -maxbody for TestRefusals: small, so the chunked limit
// is reached with little data.
const refusalMaxBody = 64 << 10

// refusals are requests the server must refuse, each answered with status
// and Connection: close, then a close.
var refusals = []struct {
	name    string
	request string
	status  int
}{
	// Request line.
	{"no version", "GET /\r\n\r\n", 400},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
	{"lower-case version", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
	{"version with letters", "GET / HTTP/1.x\r\nHost: a\r\n\r\n", 400},
	{"tab separator", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"method with a separator", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"TLS handshake", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
	{"fragment in target", "GET /#top HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"control byte in target", "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"non-ASCII target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"asterisk without OPTIONS", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"relative target", "GET echo HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
	{"HTTP/0.9 version", "GET / HTTP/0.9\r\n\r\n", 505},
	{"CONNECT", "CONNECT evio.test:443 HTTP/1.1\r\nHost: evio.test:443\r\n\r\n", 501},
	{"request line over 8 KiB", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},

	// Header fields.
	{"bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400},
	{"bare LF in a field", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},
	{"bare CR in a value", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n", 400},
	{"whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
	{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", 400},
	{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400},
	{"separator in name", "GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x00c\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: b\x7fc\r\n\r\n", 400},
	{"no Host in HTTP/1.1", "GET / HTTP/1.1\r\nX: b\r\n\r\n", 400},
	{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
	{"Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
	{"Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
	{"field over 8 KiB", "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("x", 9000) + "\r\n\r\n", 431},
	{"many fields over 8 KiB", "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X-Field: 0123456789abcdef\r\n", 400) + "\r\n", 431},
	{"unsupported expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417},

	// Message framing.
	{"Content-Length not a number", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400},
	{"negative Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
	{"signed Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx", 400},
	{"empty Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
	{"Content-Length list", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx", 400},
	{"two Content-Lengths", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
	{"conflicting Content-Lengths", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", 400},
	{"huge Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
	{"Content-Length and chunked", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"chunked and Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
	{"gzip", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	{"gzip then chunked", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
	{"chunked then identity", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", 501},
	{"chunked twice", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
	{"empty Transfer-Encoding", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400},
	{"Transfer-Encoding in HTTP/1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"Content-Length over -maxbody", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 65537\r\n\r\n", 413},

	// Chunked bodies.
	{"chunk size not hex", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
	{"empty chunk size", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400},
	{"signed chunk size", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+1\r\nx\r\n0\r\n\r\n", 400},
	{"chunk size overflow", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000000001\r\n", 400},
	{"chunk size with bare LF", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n", 400},
	{"chunk data too long", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\n", 400},
	{"chunk extension without name", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;=v\r\nx\r\n0\r\n\r\n", 400},
	{"chunk extension unterminated quote", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\"v\r\nx\r\n0\r\n\r\n", 400},
	{"chunk-size line over 4 KiB", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1" + strings.Repeat(";a=b", 1100) + "\r\n", 400},
	{"trailer with obs-fold", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n 2\r\n\r\n", 400},
	{"trailer without colon", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT\r\n\r\n", 400},
	{"trailers over 8 KiB", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + strings.Repeat("T: 0123456789abcdef\r\n", 500) + "\r\n", 431},
	{"chunk over -maxbody", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10001\r\n", 413},
	{"chunks adding up over -maxbody", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"8000\r\n" + strings.Repeat("a", 0x8000) + "\r\n8000\r\n" + strings.Repeat("b", 0x8000) + "\r\n1\r\n", 413},
}

// TestRefusals sends each refused request after a good one on the same
// connection: the good one is answered, the bad one refused with its
// status and Connection: close, and the connection closed.
func TestRefusals(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, func(c *config) { c.maxBody = refusalMaxBody })
		for _, tc := range refusals {
			c := ts.dial(t)
			c.send(t, get("/")+tc.request)
			resp, body := c.response(t, "GET")
			checkResponse(t, resp, body, 200, helloBody)
			resp, body = c.response(t, "GET")
			if resp.StatusCode != tc.status {
				t.Errorf("%s: status %d, want %d (%q)", tc.name, resp.StatusCode, tc.status, body)
				continue
			}
			if !resp.Close {
				t.Errorf("%s: refusal without Connection: close", tc.name)
			}
			c.expectEOF(t)
		}
	})
}

// TestRefusalWhileBodyInFlight refuses a body that is too large while the
// client is still sending it: the client must still read the 413.
func TestRefusalWhileBodyInFlight(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, func(c *config) { c.maxBody = refusalMaxBody })
		c := ts.dial(t)
		body := strings.Repeat("z", 2*refusalMaxBody)
		go func() {
			// The server may close while this is being written; the
			// error is expected and ignored.
			c.Write([]byte("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 131072\r\n\r\n" + body))
		}()
		resp, got := c.response(t, "POST")
		checkResponse(t, resp, got, 413, "")
	})
}
