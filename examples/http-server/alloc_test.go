//go:build !race

// The race detector allocates on its own, so these run without it.

package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// TestSessionAllocatesNothing pins the hot path at zero allocations per
// request once a connection's buffers have grown: plain, pipelined, split
// across events, with small bodies, and through HEAD and 404; with every
// timeout on, so that setting the timer is on the path.
func TestSessionAllocatesNothing(t *testing.T) {
	wrkGet := "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
	curlGet := "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
	cases := []struct {
		name   string
		events []string // the input of consecutive Data events
	}{
		{"GET /", []string{wrkGet}},
		{"GET / with client headers", []string{curlGet}},
		{"16 pipelined GET /", []string{strings.Repeat(wrkGet, 16)}},
		{"GET / split", []string{"GET / HTTP/1.1\r\nHo", "st: a\r\n\r\n"}},
		{"POST /echo", []string{post("/echo", "a small body to echo")}},
		{"POST /echo split", []string{post("/echo", "a small body to echo")[:50], post("/echo", "a small body to echo")[50:]}},
		{"chunked /echo", []string{"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"}},
		{"HEAD and 404", []string{"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n" + get("/missing")}},
		{"HTTP/1.0 keep-alive", []string{"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"}},
	}
	for _, tc := range cases {
		settings := testSettings(defaultMaxBody)
		settings.timeouts = unitTimeouts
		s := newSession(settings)
		s.timer = &fakeTimer{}
		events := make([][]byte, len(tc.events))
		for i, e := range tc.events {
			events[i] = []byte(e)
		}
		serveAll := func() {
			for _, in := range events {
				if _, closeAfter := s.serve(in); closeAfter {
					t.Fatalf("%s: connection closed", tc.name)
				}
			}
		}
		serveAll() // grow the session's buffers
		if allocs := testing.AllocsPerRun(1000, serveAll); allocs != 0 {
			t.Errorf("%s: %v allocations per request", tc.name, allocs)
		}
	}
}

// TestServerAllocatesNothing is the whole path of a keep-alive request on
// a running server, loop and timers included: once warm, a request costs
// no allocation, client or server, with every timeout on (the keep-alive
// timer is reset for each request, the header timer for each request cut
// in two).
func TestServerAllocatesNothing(t *testing.T) {
	for _, v := range []variant{variants[0], variants[4]} {
		ts := startServer(t, v, nil)
		c := ts.dial(t)
		whole := []byte(get("/"))
		split := [][]byte{whole[:10], whole[10:]}
		c.send(t, string(whole))
		resp, _ := c.response(t, "GET") // sizes the buffer: every response is as long
		if c.r.Buffered() != 0 || resp.ContentLength != int64(len(helloBody)) {
			t.Fatal("unexpected first response")
		}
		c.send(t, string(whole))
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		buf = buf[:n]
		roundTrip := func(parts ...[]byte) {
			for i, p := range parts {
				if i > 0 {
					time.Sleep(time.Millisecond) // most likely two Data events
				}
				if _, err := c.Write(p); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasSuffix(buf, []byte(helloBody)) {
				t.Fatalf("response %q", buf)
			}
		}
		for i := 0; i < 100; i++ { // warm up
			roundTrip(whole)
			roundTrip(split...)
		}
		// The server's Tick formats a new Date each second, one
		// allocation; AllocsPerRun rounds that away.
		if allocs := testing.AllocsPerRun(500, func() { roundTrip(whole) }); allocs != 0 {
			t.Errorf("%s: %v allocations per request", v.name, allocs)
		}
		if allocs := testing.AllocsPerRun(100, func() { roundTrip(split...) }); allocs != 0 {
			t.Errorf("%s: %v allocations per split request", v.name, allocs)
		}
	}
}

// BenchmarkSessionGet is the parser and response writer alone, per request.
func BenchmarkSessionGet(b *testing.B) {
	benchmarkSession(b, "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", 1)
}

// BenchmarkSessionPipelined16 is one Data event of 16 requests, reported
// per request.
func BenchmarkSessionPipelined16(b *testing.B) {
	benchmarkSession(b, strings.Repeat("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n", 16), 16)
}

func benchmarkSession(b *testing.B, input string, requests int) {
	s := newSession(testSettings(defaultMaxBody))
	in := []byte(input)
	s.serve(in)
	b.ReportAllocs()
	b.SetBytes(int64(len(in) / requests))
	b.ResetTimer()
	for i := 0; i < b.N; i += requests {
		s.serve(in)
	}
}
