package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Tests with raw connections: what net/http's client never sends
// (pipelining, HTTP/1.0, malformed requests) and exact close behaviour.

func TestPipelining(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		c := ts.dial(t)
		type exchange struct {
			method, request, body string
		}
		var batch []exchange
		for i := 0; i < 60; i++ {
			switch i % 4 {
			case 0:
				batch = append(batch, exchange{"GET", get("/"), helloBody})
			case 1:
				payload := fmt.Sprintf("payload %d %s", i, strings.Repeat("x", i*37))
				batch = append(batch, exchange{"POST", post("/echo", payload), payload})
			case 2:
				batch = append(batch, exchange{"HEAD", "HEAD / HTTP/1.1\r\nHost: evio.test\r\n\r\n", ""})
			case 3:
				chunked := "POST /echo HTTP/1.1\r\nHost: evio.test\r\nTransfer-Encoding: chunked\r\n\r\n" +
					"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: yes\r\n\r\n"
				batch = append(batch, exchange{"POST", chunked, "abcdefg"})
			}
		}
		var all strings.Builder
		for _, e := range batch {
			all.WriteString(e.request)
		}
		c.send(t, all.String()) // one write: the server sees many requests per Data event
		for i, e := range batch {
			resp, body := c.response(t, e.method)
			if resp.StatusCode != 200 || body != e.body {
				t.Fatalf("response %d: status %d body %q, want 200 %q", i, resp.StatusCode, clip(body), clip(e.body))
			}
			if e.method == "HEAD" && resp.ContentLength != int64(len(helloBody)) {
				t.Fatalf("HEAD Content-Length %d, want %d", resp.ContentLength, len(helloBody))
			}
		}
	})
}

// TestPipeliningByteByByte sends pipelined requests one byte per write, so
// that every element of a request is split across Data events.
func TestPipeliningByteByByte(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		c := ts.dial(t)
		requests := get("/") + post("/echo", "split body") +
			"POST /echo HTTP/1.1\r\nHost: evio.test\r\nTransfer-Encoding: chunked\r\n\r\n2;a=\"q\\\"s\"\r\nhi\r\n0\r\nT: 1\r\n\r\n" +
			"\r\n" + get("/missing")
		for i := 0; i < len(requests); i++ {
			c.send(t, requests[i:i+1])
		}
		resp, body := c.response(t, "GET")
		checkResponse(t, resp, body, 200, helloBody)
		resp, body = c.response(t, "POST")
		checkResponse(t, resp, body, 200, "split body")
		resp, body = c.response(t, "POST")
		checkResponse(t, resp, body, 200, "hi")
		resp, body = c.response(t, "GET")
		checkResponse(t, resp, body, 404, notFoundBody)
	})
}

func TestHTTP10(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)

		// Without keep-alive, the server closes after the response.
		c := ts.dial(t)
		c.send(t, "GET / HTTP/1.0\r\n\r\n")
		resp, body := c.response(t, "GET")
		checkResponse(t, resp, body, 200, helloBody)
		if resp.Proto != "HTTP/1.1" || !resp.Close {
			t.Fatalf("proto %s close %v, want HTTP/1.1 and Connection: close", resp.Proto, resp.Close)
		}
		c.expectEOF(t)

		// With keep-alive, it keeps the connection and says so.
		c = ts.dial(t)
		for i := 0; i < 3; i++ {
			c.send(t, "POST /echo HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi")
			resp, body = c.response(t, "POST")
			checkResponse(t, resp, body, 200, "hi")
			if got := resp.Header.Get("Connection"); got != "keep-alive" {
				t.Fatalf("Connection %q, want keep-alive", got)
			}
		}
		// Expect: 100-continue means nothing in HTTP/1.0 (RFC 9110 §10.1.1).
		c.send(t, "POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
		time.Sleep(20 * time.Millisecond)
		c.send(t, "ok")
		resp, body = c.response(t, "POST")
		checkResponse(t, resp, body, 200, "ok")
		c.expectEOF(t)
	})
}

func TestConnectionClose(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		c := ts.dial(t)
		// The request after the closing one is never answered.
		c.send(t, get("/")+"GET / HTTP/1.1\r\nHost: evio.test\r\nConnection: keep-alive, Close\r\n\r\n"+get("/"))
		resp, body := c.response(t, "GET")
		checkResponse(t, resp, body, 200, helloBody)
		if resp.Close {
			t.Fatal("first response says Connection: close")
		}
		resp, body = c.response(t, "GET")
		checkResponse(t, resp, body, 200, helloBody)
		if !resp.Close {
			t.Fatal("response to Connection: close does not close")
		}
		c.expectEOF(t)
	})
}

// TestSlowClientDoesNotBlockOthers holds a half-sent request open on every
// loop while other connections are served.
func TestSlowClientDoesNotBlockOthers(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		var slow []*rawConn
		for i := 0; i < 4; i++ {
			c := ts.dial(t)
			c.send(t, "POST /echo HTTP/1.1\r\nHost: evio.test\r\nContent-Len")
			slow = append(slow, c)
		}
		for i := 0; i < 8; i++ {
			c := ts.dial(t)
			c.SetDeadline(time.Now().Add(2 * time.Second))
			c.send(t, get("/"))
			resp, body := c.response(t, "GET")
			checkResponse(t, resp, body, 200, helloBody)
		}
		for _, c := range slow {
			c.send(t, "gth: 9\r\n\r\nfinished!")
			resp, body := c.response(t, "POST")
			checkResponse(t, resp, body, 200, "finished!")
		}
	})
}

func TestExpectContinueRaw(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		c := ts.dial(t)
		c.send(t, "POST /echo HTTP/1.1\r\nHost: evio.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		interim, body := c.response(t, "POST")
		checkResponse(t, interim, body, 100, "")
		c.send(t, "hello")
		resp, body := c.response(t, "POST")
		checkResponse(t, resp, body, 200, "hello")

		// With the body already sent, no 100 Continue comes first.
		c.send(t, "POST /echo HTTP/1.1\r\nHost: evio.test\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc")
		resp, body = c.response(t, "POST")
		checkResponse(t, resp, body, 200, "abc")

		// A body that is too large is refused instead of continued.
		c.send(t, "POST /echo HTTP/1.1\r\nHost: evio.test\r\nExpect: 100-continue\r\nContent-Length: 4194305\r\n\r\n")
		resp, body = c.response(t, "POST")
		checkResponse(t, resp, body, 413, "")
		c.expectEOF(t)
	})
}

func TestDateHeader(t *testing.T) {
	ts := startServer(t, variants[0], nil)
	c := ts.dial(t)
	c.send(t, get("/"))
	resp, _ := c.response(t, "GET")
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
	}
	if d := time.Since(date); d < -2*time.Second || d > 2*time.Second {
		t.Fatalf("Date %v is %v away from now", date, d)
	}
	if got := resp.Header.Get("Server"); got != "evio" {
		t.Fatalf("Server %q", got)
	}
	if got := resp.Header.Get("Content-Type"); got != textPlain {
		t.Fatalf("Content-Type %q", got)
	}
}

// TestOddButValidRequests covers request forms clients rarely send.
func TestOddButValidRequests(t *testing.T) {
	cases := []struct {
		name, method, request string
		status                int
		body                  string
	}{
		{"absolute-form", "POST", "POST http://evio.test/echo?q=1 HTTP/1.1\r\nHost: other\r\nContent-Length: 1\r\n\r\nx", 200, "x"},
		{"absolute-form without path", "GET", "GET http://evio.test HTTP/1.1\r\nHost: evio.test\r\n\r\n", 200, helloBody},
		{"query", "GET", get("/?a=b&c"), 200, helloBody},
		{"empty lines first", "GET", "\r\n\r\n" + get("/"), 200, helloBody},
		{"OPTIONS asterisk", "OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: evio.test\r\n\r\n", 200, ""},
		{"HTTP/1.9 as 1.1", "GET", "GET / HTTP/1.9\r\nHost: evio.test\r\n\r\n", 200, helloBody},
		{"field names in any case", "POST", "POST /echo HTTP/1.1\r\nhOsT: a\r\nCONTENT-length:  2 \r\n\r\nok", 200, "ok"},
		{"chunked in capitals", "POST", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n1\r\nz\r\n0\r\n\r\n", 200, "z"},
		{"chunk extensions", "POST", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"A ; a = b ;c=\"x\\\"y z\" \r\n0123456789\r\n000\r\n\r\n", 200, "0123456789"},
		{"body to a route that ignores it", "POST", post("/", "ignored"), 200, helloBody},
		{"empty Host on HTTP/1.1", "GET", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 200, helloBody},
		{"obs-text in a value", "GET", "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n", 200, helloBody},
		{"HEAD of 404", "HEAD", "HEAD /nothing HTTP/1.1\r\nHost: a\r\n\r\n", 404, ""},
	}
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		for _, tc := range cases {
			c := ts.dial(t)
			c.send(t, tc.request)
			resp, body := c.response(t, tc.method)
			if resp.StatusCode != tc.status || body != tc.body {
				t.Errorf("%s: got %d %q, want %d %q", tc.name, resp.StatusCode, body, tc.status, tc.body)
			}
			// The connection stays usable.
			c.send(t, get("/"))
			resp, body = c.response(t, "GET")
			checkResponse(t, resp, body, 200, helloBody)
		}
	})
}

// TestHalfClosedClient sends requests and shuts down its sending side at
// once, as `nc -N` does: the responses must still arrive before the close.
func TestHalfClosedClient(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		c := ts.dial(t)
		c.send(t, get("/")+post("/echo", "last words"))
		if err := c.Conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		resp, body := c.response(t, "GET")
		checkResponse(t, resp, body, 200, helloBody)
		resp, body = c.response(t, "POST")
		checkResponse(t, resp, body, 200, "last words")
		c.expectEOF(t)
	})
}
