package main

import (
	"strings"
	"testing"
)

// parseWhole parses data as one piece.
func parseWhole(data string) (requestHead, int, *protocolError) {
	var h requestHead
	h.reset()
	n, err := h.parse([]byte(data))
	return h, n, err
}

// parseBytewise parses data as it would arrive one byte per event: each
// call sees the prefix received so far.
func parseBytewise(data string) (requestHead, int, *protocolError) {
	var h requestHead
	h.reset()
	for i := 1; i <= len(data); i++ {
		n, err := h.parse([]byte(data[:i]))
		if n > 0 || err != nil {
			return h, n, err
		}
	}
	return h, 0, nil
}

func TestParseHead(t *testing.T) {
	cases := []struct {
		name, head string
		want       requestHead // compared on the fields below
	}{
		{"GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			requestHead{route: routeHello, minor: 1, contentLength: -1, keepAlive: true}},
		{"HEAD echo", "HEAD /echo HTTP/1.1\r\nHost: a\r\n\r\n",
			requestHead{route: routeEcho, isHEAD: true, minor: 1, contentLength: -1, keepAlive: true}},
		{"unknown path", "GET /echo/ HTTP/1.1\r\nHost: a\r\n\r\n",
			requestHead{route: routeNotFound, minor: 1, contentLength: -1, keepAlive: true}},
		{"query", "GET /echo?x=/ HTTP/1.1\r\nHost: a\r\n\r\n",
			requestHead{route: routeEcho, minor: 1, contentLength: -1, keepAlive: true}},
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n",
			requestHead{route: routeHello, minor: 0, contentLength: -1}},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			requestHead{route: routeHello, minor: 0, contentLength: -1, keepAlive: true}},
		{"HTTP/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
			requestHead{route: routeHello, minor: 0, contentLength: -1}},
		{"close in a list", "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade ,, close\r\n\r\n",
			requestHead{route: routeHello, minor: 1, contentLength: -1}},
		{"Content-Length", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n",
			requestHead{route: routeEcho, minor: 1, contentLength: 7, keepAlive: true}},
		{"chunked", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,chunked,\r\n\r\n",
			requestHead{route: routeEcho, minor: 1, contentLength: -1, chunked: true, transfer: true, keepAlive: true}},
		{"100-continue", "PUT /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
			requestHead{route: routeEcho, minor: 1, contentLength: 1, expectation: true, keepAlive: true}},
		{"OWS around values", "GET / HTTP/1.1\r\nHost:\t a \t\r\nX:\r\n\r\n",
			requestHead{route: routeHello, minor: 1, contentLength: -1, keepAlive: true}},
		{"absolute-form", "GET https://evio.test:8443/echo HTTP/1.1\r\nHost: x\r\n\r\n",
			requestHead{route: routeEcho, minor: 1, contentLength: -1, keepAlive: true}},
		{"absolute-form query only", "GET http://evio.test?x HTTP/1.1\r\nHost: x\r\n\r\n",
			requestHead{route: routeHello, minor: 1, contentLength: -1, keepAlive: true}},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
			requestHead{route: routeServer, minor: 1, contentLength: -1, keepAlive: true}},
		{"exactly 8 KiB", "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("x", maxHeadBytes-len("GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n")) + "\r\n\r\n",
			requestHead{route: routeHello, minor: 1, contentLength: -1, keepAlive: true}},
	}
	for _, tc := range cases {
		for _, parse := range []func(string) (requestHead, int, *protocolError){parseWhole, parseBytewise} {
			h, n, err := parse(tc.head)
			if err != nil || n != len(tc.head) {
				t.Errorf("%s: n=%d err=%v, want %d, nil", tc.name, n, err, len(tc.head))
				continue
			}
			w := tc.want
			if h.route != w.route || h.isHEAD != w.isHEAD || h.minor != w.minor || h.contentLength != w.contentLength ||
				h.chunked != w.chunked || h.keepAlive != w.keepAlive || h.expectContinue() != w.expectContinue() {
				t.Errorf("%s: got %+v, want %+v", tc.name, h, w)
			}
		}
	}
}

// TestParseHeadRefusals checks the status of every refusal in
// refuse_test.go that the head parser decides, whole and byte by byte.
func TestParseHeadRefusals(t *testing.T) {
	for _, tc := range refusals {
		h, n, err := parseWhole(tc.request)
		if err == nil && n > 0 && (h.chunked || h.contentLength > 0) {
			continue // refused later, by the body's limit or decoder
		}
		if err == nil {
			t.Errorf("%s: accepted (n=%d)", tc.name, n)
			continue
		}
		if err.status != tc.status {
			t.Errorf("%s: status %d (%s), want %d", tc.name, err.status, err.reason, tc.status)
		}
		_, _, err2 := parseBytewise(tc.request)
		if err2 != err {
			t.Errorf("%s: byte by byte: %v, whole: %v", tc.name, err2, err)
		}
	}
}

func TestParseHeadLimits(t *testing.T) {
	// Incomplete but already over the limit: refused without waiting.
	_, n, err := parseWhole("GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("x", maxHeadBytes))
	if n != 0 || err != errHeadTooLarge {
		t.Fatalf("n=%d err=%v, want 431", n, err)
	}
	_, n, err = parseWhole("GET /" + strings.Repeat("x", maxHeadBytes))
	if n != 0 || err != errURITooLong {
		t.Fatalf("n=%d err=%v, want 414", n, err)
	}
	// One byte over, complete.
	head := "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("x", maxHeadBytes+1-len("GET / HTTP/1.1\r\nHost: a\r\nX: \r\n\r\n")) + "\r\n\r\n"
	if _, n, err = parseWhole(head); err != errHeadTooLarge {
		t.Fatalf("%d-byte head: n=%d err=%v, want 431", len(head), n, err)
	}
	// A bad method is refused from its first byte.
	if _, _, err = parseWhole("\x16"); err != errMethod {
		t.Fatalf("TLS first byte: %v", err)
	}
	// An incomplete good head is just incomplete.
	if _, n, err = parseWhole("GET / HTTP/1.1\r\nHost: a\r\n"); n != 0 || err != nil {
		t.Fatalf("incomplete head: n=%d err=%v", n, err)
	}
}

func TestParseContentLength(t *testing.T) {
	good := map[string]int64{"0": 0, "1": 1, "0012": 12, "4611686018427387904": 1 << 62}
	for in, want := range good {
		if got, ok := parseContentLength([]byte(in)); !ok || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-1", "+1", "1 ", " 1", "1,1", "0x1", "46116860184273879040", "99999999999999999999"} {
		if got, ok := parseContentLength([]byte(in)); ok {
			t.Errorf("%q: accepted as %d", in, got)
		}
	}
}

func TestEqualFold(t *testing.T) {
	if !equalFold([]byte("Content-LENGTH"), "content-length") || equalFold([]byte("content-lengt"), "content-length") ||
		equalFold([]byte("content_length"), "content-length") || equalFold([]byte("\rlose"), "-lose") {
		t.Fatal("equalFold")
	}
}
