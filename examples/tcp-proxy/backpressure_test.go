package main

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/evio-go/evio/examples/internal/testproc"
)

// The proxy must not hold a stream its receiver does not take: a backend
// that sends as fast as it can to a client that does not read for a while
// (and the other way round) leaves the proxy's memory bounded, and the
// receiver then gets every byte, in order. The proxy runs in a process of
// its own, so that its resident memory is what is measured.

// streamSize is what the sender sends: 256 MiB, not 1 GiB, to keep the
// test to a few seconds; the bound does not depend on it.
const streamSize = 256 << 20

// rssLimit is the most resident memory the proxy may reach, as the
// kernel's peak (VmHWM) reports it.
const rssLimit = 100 << 20

// patternPeriod is the period of the stream's content: random bytes,
// repeated, with a period that no read or write size divides, so that
// bytes lost, repeated or reordered show. The pattern is stored twice over,
// so that any window of up to patternPeriod bytes is one slice of it.
const patternPeriod = 1<<20 + 7

var pattern = func() []byte {
	p := make([]byte, 2*patternPeriod)
	rand.New(rand.NewSource(1)).Read(p[:patternPeriod])
	copy(p[patternPeriod:], p[:patternPeriod])
	return p
}()

// patternAt is the n bytes of the stream from off.
func patternAt(off int64, n int) []byte {
	i := int(off % patternPeriod)
	return pattern[i : i+n]
}

// sendStream writes streamSize bytes of the pattern to w.
func sendStream(w io.Writer) error {
	const chunk = 256 << 10
	for off := int64(0); off < streamSize; off += chunk {
		if _, err := w.Write(patternAt(off, chunk)); err != nil {
			return err
		}
	}
	return nil
}

// checkStream reads streamSize bytes from r, checks them against the
// pattern and then expects the end of stream.
func checkStream(r io.Reader) error {
	buf := make([]byte, 256<<10)
	for off := int64(0); off < streamSize; off += int64(len(buf)) {
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("at byte %d: %w", off, err)
		}
		if !bytes.Equal(buf, patternAt(off, len(buf))) {
			return fmt.Errorf("the bytes from %d differ", off)
		}
	}
	if n, err := r.Read(buf[:1]); n != 0 || err != io.EOF {
		return fmt.Errorf("after the stream, read %d, %v; want the end of stream", n, err)
	}
	return nil
}

func TestBackpressureSlowClient(t *testing.T) { testSlowClient(t, false) }

func TestBackpressureSlowBackend(t *testing.T) { testSlowBackend(t, false) }

// TestTLSBackpressureSlowClient and TestTLSBackpressureSlowBackend are
// the same with the proxy terminating TLS: its queues hold records, and a
// slow TLS client still holds the backend back.
func TestTLSBackpressureSlowClient(t *testing.T) { testSlowClient(t, true) }

func TestTLSBackpressureSlowBackend(t *testing.T) { testSlowBackend(t, true) }

// testSlowClient: the backend sends the stream as fast as it can; the
// client reads nothing for a second, then all of it.
func testSlowClient(t *testing.T, useTLS bool) {
	backend := goBackend(t, func(c *net.TCPConn) {
		defer c.Close()
		sendStream(c)
	})
	testBackpressure(t, backend, useTLS, func(c halfStream) error { return checkStream(c) })
}

// testSlowBackend: the client sends the stream as fast as it can; the
// backend reads nothing for a second, then all of it.
func testSlowBackend(t *testing.T, useTLS bool) {
	// The backend reads nothing until the client's receive step releases
	// it; one release and one result per subtest.
	release := make(chan struct{}, 2)
	result := make(chan error, 2)
	backend := goBackend(t, func(c *net.TCPConn) {
		defer c.Close()
		<-release
		result <- checkStream(c)
	})
	sent := make(chan error, 2)
	testBackpressure(t, backend, useTLS, func(c halfStream) error {
		release <- struct{}{}
		if err := <-result; err != nil {
			return fmt.Errorf("the backend: %w", err)
		}
		return <-sent
	}, func(c halfStream) {
		go func() {
			err := sendStream(c)
			if err == nil {
				err = c.CloseWrite()
			}
			sent <- err
		}()
	})
}

// testBackpressure starts the proxy as a process in front of backend
// (terminating TLS if useTLS), connects, runs during (if given) to start
// a sender, waits a second while nobody reads and checks the proxy's
// memory, then runs receive and checks the memory again.
func testBackpressure(t *testing.T, backend string, useTLS bool, receive func(halfStream) error, during ...func(halfStream)) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the proxy's peak memory from /proc")
	}
	for _, engine := range []string{"-stdlib=false", "-stdlib"} {
		t.Run(engine, func(t *testing.T) {
			args := []string{"-bind", "127.0.0.1", "-port", "0", "-backend", backend, engine}
			if useTLS {
				_, files := certs(t)
				args = append(args, "-tls-cert-file", files.Cert, "-tls-key-file", files.Key)
			}
			proc, addr := startProxyProcess(t, args...)
			var c halfStream
			if useTLS {
				c, _ = dialTLS(t, addr, 0)
			} else {
				c = dial(t, addr)
			}
			for _, f := range during {
				f(c)
			}
			deadline := time.Now().Add(time.Second)
			for time.Now().Before(deadline) {
				if peak := peakRSS(t, proc.Process.Pid); peak > rssLimit {
					t.Fatalf("the proxy's resident memory reached %d MB while nobody read (limit %d MB)", peak>>20, rssLimit>>20)
				}
				time.Sleep(100 * time.Millisecond)
			}
			start := time.Now()
			if err := receive(c); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			peak := peakRSS(t, proc.Process.Pid)
			t.Logf("%d MiB in %v; the proxy's peak resident memory: %d MB", streamSize>>20, took.Round(time.Millisecond), peak>>20)
			if peak > rssLimit {
				t.Fatalf("the proxy's resident memory reached %d MB (limit %d MB)", peak>>20, rssLimit>>20)
			}
		})
	}
}

// proxy is this example, built once to run as a process of its own.
var proxyProc = testproc.Binary{Name: "tcp-proxy"}

// startProxyProcess runs the proxy as a process of its own and returns it
// and its TCP address. It is killed when the test ends.
func startProxyProcess(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return proxyProc.Start(t, args...)
}

// peakRSS is the peak resident memory of process pid, in bytes.
func peakRSS(t *testing.T, pid int) int { return testproc.PeakRSS(t, pid) }
