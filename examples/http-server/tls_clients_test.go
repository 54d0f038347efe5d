package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// HTTPS with real clients: curl, and openssl s_client for what only a
// client that lets one script its TLS layer can do (a TLS 1.3 KeyUpdate,
// a TLS 1.2 renegotiation). Both run on each engine, over TCP.

// tlsClientVariants are the variants the tests with curl and openssl run
// on: each engine once.
var tlsClientVariants = []variant{variants[0], variants[4]}

// opensslPath finds openssl. Without it the test is skipped, unless
// CI=true: CI must have it (Debian package openssl, which .ci/run
// installs).
func opensslPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("openssl not found (%v): CI must install the Debian package openssl", err)
	}
	t.Skipf("openssl not found (%v); install the Debian package openssl (with CI=true this fails)", err)
	return ""
}

// TestTLSCurlKeepAlive: curl fetches three URLs over HTTPS in one run, the
// last a POST (after --next), on one connection: the first connects, the
// others reuse it, as curl -v says and %{num_connects} counts; ALPN picks
// HTTP/1.1 from curl's h2 and http/1.1, and the certificate verifies for
// the name localhost.
func TestTLSCurlKeepAlive(t *testing.T) {
	curl := curlPath(t)
	forEachTLSVariant(t, tlsClientVariants, func(t *testing.T, v variant) {
		ts, files := startTLSServer(t, v, nil)
		_, port, err := net.SplitHostPort(ts.address)
		if err != nil {
			t.Fatal(err)
		}
		base := "https://localhost:" + port
		dir := t.TempDir()
		out := func(i int) string { return filepath.Join(dir, "body"+strconv.Itoa(i)) }
		common := []string{"-sS", "-v", "--max-time", "20", "--cacert", files.CA,
			"--resolve", "localhost:" + port + ":127.0.0.1", "-w", "%{http_code}:%{num_connects}:%{http_version} "}
		args := append(append([]string{}, common...), "-o", out(0), "-o", out(1), base+"/", base+"/missing", "--next")
		args = append(append(args, common...), "--data-binary", "posted over TLS", "-o", out(2), base+"/echo")
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, curl, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("curl: %v\n%s", err, stderr.String())
		}
		if got, want := stdout.String(), "200:1:1.1 404:0:1.1 200:0:1.1 "; got != want {
			t.Errorf("curl -w: %q, want %q (status:connects:version per URL)", got, want)
		}
		for i, want := range []string{helloBody, notFoundBody, "posted over TLS"} {
			if got, err := os.ReadFile(out(i)); err != nil || string(got) != want {
				t.Errorf("body %d: %q, %v; want %q", i, got, err, want)
			}
		}
		log := stderr.String()
		if n := strings.Count(log, "Re-using existing connection"); n != 2 {
			t.Errorf("curl reused the connection %d times, want 2:\n%s", n, log)
		}
		if !strings.Contains(log, "ALPN: server accepted http/1.1") {
			t.Errorf("no ALPN http/1.1 in curl's log:\n%s", log)
		}
	})
}

// sClient is an openssl s_client process with -msg, which prints the TLS
// messages it sends (>>>) and receives (<<<) with the plaintext it reads,
// and which takes commands on stdin: a line that is just K sends a TLS 1.3
// KeyUpdate asking for one back, R starts a TLS 1.2 renegotiation. Other
// input is sent as it is read, so each request is written on its own, once
// the one before has been answered, and a command never shares a read with
// a request.
type sClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   lockedBuffer // stdout and stderr
	done  chan struct{}
	err   error // of Wait, once done is closed
}

// startSClient runs s_client against ts with extra arguments (the TLS
// version), verifying the certificate for localhost. The test's cleanup
// ends it.
func startSClient(t *testing.T, openssl string, ts *testServer, caFile string, extra ...string) *sClient {
	t.Helper()
	args := append([]string{"s_client", "-connect", ts.address, "-servername", "localhost",
		"-CAfile", caFile, "-verify_hostname", "localhost", "-verify_return_error", "-msg"}, extra...)
	c := &sClient{cmd: exec.Command(openssl, args...), done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(testTimeout):
			c.cmd.Process.Kill()
			<-c.done
			t.Error("openssl s_client did not exit")
		}
	})
	return c
}

func (c *sClient) send(t *testing.T, data string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, data); err != nil {
		t.Fatalf("writing to s_client: %v\n%s", err, c.out.String())
	}
}

// waitFor waits until pattern has matched n times in what s_client
// printed.
func (c *sClient) waitFor(t *testing.T, pattern string, n int) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(testTimeout)
	for {
		exited := false
		select {
		case <-c.done:
			exited = true
		default:
		}
		if len(re.FindAllStringIndex(c.out.String(), -1)) >= n {
			return
		}
		if exited || time.Now().After(deadline) {
			t.Fatalf("no %q (%d times) from s_client (exited: %v, %v):\n%s", pattern, n, exited, c.err, c.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTLSKeyUpdate: a TLS 1.3 client sends a KeyUpdate that asks for one
// back, between two requests. crypto/tls handles it inside the Read that
// evio's loop makes, and writes its own KeyUpdate there: the loop must
// send it at once (the test waits for it before the next request), and the
// connection must go on with the new keys both ways.
func TestTLSKeyUpdate(t *testing.T) {
	openssl := opensslPath(t)
	forEachTLSVariant(t, tlsClientVariants, func(t *testing.T, v variant) {
		ts, files := startTLSServer(t, v, nil)
		c := startSClient(t, openssl, ts, files.CA, "-tls1_3")
		c.send(t, get("/"))
		c.waitFor(t, `HTTP/1\.1 200 OK(.|\n)*`+helloBody, 1)
		c.send(t, "K\n")
		c.waitFor(t, `KEYUPDATE`, 1)
		c.waitFor(t, `>>> TLS 1\.3, Handshake \[length [0-9a-f]+\], KeyUpdate`, 1)
		c.waitFor(t, `<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], KeyUpdate`, 1) // the server's
		c.send(t, post("/echo", "after the key update"))
		c.waitFor(t, `HTTP/1\.1 200 OK(.|\n)*after the key update`, 1)
		c.stdin.Close() // s_client sends close_notify and exits
		select {
		case <-c.done:
			if c.err != nil {
				t.Fatalf("s_client: %v\n%s", c.err, c.out.String())
			}
		case <-time.After(testTimeout):
			t.Fatal("s_client did not exit at the end of its input")
		}
		if n := strings.Count(c.out.String(), "HTTP/1.1 200 OK"); n != 2 {
			t.Fatalf("%d responses, want 2:\n%s", n, c.out.String())
		}
	})
}

// TestTLSRenegotiationRefused: a TLS 1.2 client that starts a
// renegotiation after a request is refused, as crypto/tls's server
// refuses it: a fatal alert, and the server closes the connection (the
// client's input stays open, so it is the server that ends it). The
// server goes on serving new connections.
func TestTLSRenegotiationRefused(t *testing.T) {
	openssl := opensslPath(t)
	forEachTLSVariant(t, tlsClientVariants, func(t *testing.T, v variant) {
		ts, files := startTLSServer(t, v, nil)
		c := startSClient(t, openssl, ts, files.CA, "-tls1_2")
		c.send(t, get("/"))
		c.waitFor(t, `HTTP/1\.1 200 OK(.|\n)*`+helloBody, 1)
		c.send(t, "R\n")
		select {
		case <-c.done:
		case <-time.After(testTimeout):
			t.Fatalf("the connection is still open after the renegotiation:\n%s", c.out.String())
		}
		out := c.out.String()
		if !strings.Contains(out, "RENEGOTIATING") ||
			len(regexp.MustCompile(`>>> TLS 1\.2, Handshake \[length [0-9a-f]+\], ClientHello`).FindAllString(out, -1)) != 2 {
			t.Fatalf("s_client did not start a renegotiation:\n%s", out)
		}
		if !regexp.MustCompile(`<<< TLS 1\.2, Alert \[length 0002\], fatal`).MatchString(out) {
			t.Fatalf("no fatal alert from the server:\n%s", out)
		}
		var exit *exec.ExitError
		if !errors.As(c.err, &exit) {
			t.Fatalf("s_client exit: %v, want a failure", c.err)
		}
		checkServesTLS(t, ts)
	})
}

// lockedBuffer is a bytes.Buffer that exec's copying goroutines write and
// the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
