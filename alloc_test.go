//go:build !race && (darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package evio

import (
	"net"
	"testing"
)

// TestHotPathAllocatesNothing: a request/response round trip on a live
// poll-engine loop allocates nothing, server or client, once warm.
func TestHotPathAllocatesNothing(t *testing.T) {
	// The engines that run without goroutines of their own: the portable
	// one allocates for its readers and writers.
	for _, e := range []engine{{"poll", ""}, {"uring", "-uring"}} {
		t.Run(e.name, func(t *testing.T) {
			s := startServer(t, reuseEcho(), e.addr("tcp", "127.0.0.1:0"))
			c, err := net.Dial("tcp", s.addrs[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg, buf := make([]byte, 64), make([]byte, 64)
			for i := 0; i < 100; i++ { // warm up pools and buffers
				if err := roundTrip(c, msg, buf); err != nil {
					t.Fatal(err)
				}
			}
			allocs := testing.AllocsPerRun(1000, func() {
				if err := roundTrip(c, msg, buf); err != nil {
					t.Fatal(err)
				}
			})
			// The test server's Tick may fire during the run; allow for it.
			if allocs > 0.01 {
				t.Fatalf("a round trip allocates %.3f times, want 0", allocs)
			}
		})
	}
}

// TestInputStreamAllocatesNothing in steady state.
func TestInputStreamAllocatesNothing(t *testing.T) {
	var is InputStream
	first, second := []byte("0123456789"), []byte("abcdef")
	allocs := testing.AllocsPerRun(1000, func() {
		is.End(is.Begin(first))
		data := is.Begin(second)
		is.End(data[16:])
	})
	if allocs != 0 {
		t.Fatalf("InputStream allocates %.1f times per message, want 0", allocs)
	}
}
