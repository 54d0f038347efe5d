//go:build !race

// The race detector allocates on its own, so these run without it.

package main

import (
	"strings"
	"testing"
)

// TestSessionAllocatesNothing pins the hot path at zero allocations per
// request once a connection's buffers have grown: plain, pipelined, split
// across events, with small bodies, and through HEAD and 404.
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
		s := newSession(testSettings(defaultMaxBody))
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
