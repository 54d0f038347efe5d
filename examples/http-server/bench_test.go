package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

// Benchmarks through the real engine over loopback, per request. The
// client allocates nothing per request (one prebuilt write, reads into a
// fixed buffer), so allocs/op is what the server and evio allocate:
//
//	go test -run='^$' -bench=Server -benchtime=2s ./examples/http-server

func BenchmarkServerGet(b *testing.B)         { benchmarkServer(b, variants[0], 1) }
func BenchmarkServerPipelined16(b *testing.B) { benchmarkServer(b, variants[0], 16) }
func BenchmarkServerPipelined16Unix(b *testing.B) {
	benchmarkServer(b, variants[2], 16)
}
func BenchmarkServerPipelined16Portable(b *testing.B) {
	benchmarkServer(b, variants[4], 16)
}

func benchmarkServer(b *testing.B, v variant, depth int) {
	ts := startServer(b, v, nil)
	c := ts.dial(b)
	batch := []byte(strings.Repeat("GET / HTTP/1.1\r\nHost: evio.test\r\n\r\n", depth))

	// Every response has the same length (the Date value has a fixed
	// width), so a batch's responses are read as one block.
	date := newHTTPClock(time.Now()).date()
	responseLen := len(appendResponseHead(nil, date, 200, textPlain, len(helloBody), connectionDefault)) + len(helloBody)
	responses := make([]byte, depth*responseLen)
	c.SetDeadline(time.Now().Add(10 * time.Minute))

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		if _, err := c.Write(batch); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c.r, responses); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if !bytes.HasSuffix(responses, []byte(helloBody)) {
		b.Fatalf("last response %q", responses[len(responses)-responseLen:])
	}
}
