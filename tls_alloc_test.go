//go:build !race && (darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package evio

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The TLS client of TestTLSRoundTripAllocations runs in a child process:
// crypto/tls's client allocates on its own reads, and this process must
// count the server's allocations only.
func init() {
	childMains["tlsRoundTrips"] = func() int {
		raw, err := net.Dial("tcp", os.Getenv("EVIO_TLS_ADDR"))
		if err != nil {
			fmt.Println("dial:", err)
			return 1
		}
		out := &batchConn{Conn: raw}
		tc := tls.Client(out, &tls.Config{InsecureSkipVerify: true})
		if err := tc.Handshake(); err != nil {
			fmt.Println("handshake:", err)
			return 1
		}
		out.batching = true
		var n, depth int
		for {
			if _, err := fmt.Scanln(&n, &depth); err != nil {
				return 0
			}
			msg, buf := bytes.Repeat([]byte("m"), 64), make([]byte, 64*depth)
			for i := 0; i < n; i++ {
				for j := 0; j < depth; j++ {
					tc.Write(msg)
				}
				if err := out.Flush(); err != nil {
					fmt.Println("write:", err)
					return 1
				}
				if _, err := io.ReadFull(tc, buf); err != nil {
					fmt.Println("read:", err)
					return 1
				}
			}
			fmt.Println("done")
		}
	}
}

// batchConn holds what is written, once batching, until Flush: depth
// records (requests) leave in one segment.
type batchConn struct {
	net.Conn
	batching bool
	buf      []byte
}

func (b *batchConn) Write(p []byte) (int, error) {
	if !b.batching {
		return b.Conn.Write(p)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *batchConn) Flush() error {
	_, err := b.Conn.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// TestTLSRoundTripAllocations: once a TLS connection is warm, the server
// allocates once per read that brings records, and nothing else per
// request: 24 bytes in crypto/tls's readFromUntil (conn.go, the
// atLeastReader), which no transport can avoid without a fork of
// crypto/tls. The transport's framing spares the second one a Read that
// finds nothing would cost, records land in pooled chunks, plaintext in
// the loop's buffer; and requests that arrive together share reads.
func TestTLSRoundTripAllocations(t *testing.T) {
	events := Events{TLSConfig: serverTLS(t)}
	events.Opened = func(c Conn) ([]byte, Options, Action) {
		return nil, Options{ReuseInputBuffer: true}, None
	}
	events.Data = func(c Conn, in []byte) ([]byte, Action) { return in, None }
	s := startQuietServer(t, events, 50*time.Millisecond, "tcp://127.0.0.1:0")
	cmd, stdin, stdout := startChild(t, "tlsRoundTrips", "EVIO_TLS_ADDR="+s.addrs[0].String())
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	measure := func(n, depth int) (allocs, bytes float64) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fmt.Fprintf(stdin, "%d %d\n", n, depth)
		line, err := stdout.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "done" {
			t.Fatalf("client: %q, %v", line, err)
		}
		runtime.ReadMemStats(&after)
		requests := float64(n * depth)
		return float64(after.Mallocs-before.Mallocs) / requests, float64(after.TotalAlloc-before.TotalAlloc) / requests
	}
	measure(500, 1) // warm up pools, buffers and crypto/tls's record buffers
	measure(100, 16)
	allocs, size := measure(5000, 1)
	t.Logf("one request per read: %.3f allocations, %.1f bytes per request", allocs, size)
	if allocs > 1.01 || size > 32 {
		t.Fatalf("a TLS round trip allocates %.3f times (%.1f bytes) in the server, want at most crypto/tls's one of 24 bytes", allocs, size)
	}
	allocs, size = measure(1000, 16)
	t.Logf("16 requests per read: %.3f allocations, %.1f bytes per request", allocs, size)
	// crypto/tls offers the free room of its input buffer, about 576
	// bytes on a connection that has carried nothing larger: 16 records
	// of 93 bytes take three reads (0.19 allocations per request when
	// measured), one record per read would take sixteen.
	if allocs > 0.5 {
		t.Fatalf("16 pipelined TLS requests allocate %.3f times each, want them to share crypto/tls's reads", allocs)
	}
}
