package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The body timeout as a real client meets it: curl uploading from a pipe
// that the test feeds, stalls or trickles.

// curlPath finds curl. Without it the test is skipped, unless CI=true:
// CI must have it (Debian package curl), as scripts/lib.sh requires.
func curlPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("curl")
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("curl not found (%v): CI must install the Debian package curl", err)
	}
	t.Skipf("curl not found (%v); install the Debian package curl (with CI=true this fails)", err)
	return ""
}

// curlUpload runs curl to PUT what feed writes to its stdin to /echo on
// ts, with a Content-Length of length unless it is negative (then chunked,
// curl's choice for a stream). It returns curl's exit code, the status it
// printed and the body it received.
func curlUpload(t testing.TB, curl string, ts *testServer, length int, feed func(stdin io.WriteCloser)) (code int, status, body string) {
	out := filepath.Join(t.TempDir(), "body")
	args := []string{"-sS", "--fail", "-o", out, "-w", "%{http_code}", "-T", "-", "--max-time", "20"}
	if length >= 0 {
		// -T - streams chunked; an empty Transfer-Encoding removes it,
		// and the body is then framed by the declared length.
		args = append(args, "-H", "Transfer-Encoding:", "-H", "Content-Length: "+strconv.Itoa(length))
	}
	url := "http://" + ts.address + "/echo"
	if ts.network == "unix" {
		args = append(args, "--unix-socket", ts.address)
		url = "http://evio.test/echo"
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, curl, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	feed(stdin)
	stdin.Close()
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("curl: %v", err)
	}
	got, _ := os.ReadFile(out)
	t.Logf("curl exit %d, status %s, stderr %q", code, stdout.String(), strings.TrimSpace(stderr.String()))
	return code, stdout.String(), string(got)
}

// TestCurlBodyTimeout uploads with curl from a pipe: an upload that stalls
// past the body timeout gets 408, which curl --fail reports with exit
// status 22, before the test lets the upload end (so the server could
// not have answered otherwise); one that trickles faster than it is
// echoed whole. Content-Length and chunked, on every variant.
func TestCurlBodyTimeout(t *testing.T) {
	curl := curlPath(t)
	const body = 500 * time.Millisecond
	servers := make([]*testServer, len(variants))
	for i, v := range variants {
		servers[i] = startServer(t, v, withTimeouts(timeouts{header: off, body: body, keepAlive: off}))
	}
	type upload struct {
		name   string
		length int // -1: chunked
		stall  bool
	}
	uploads := []upload{
		{"stalled, Content-Length", 10, true},
		{"stalled, chunked", -1, true},
		{"trickled, Content-Length", 8, false},
		{"trickled, chunked", -1, false},
	}
	name := func(i int) string { return variants[i/len(uploads)].name + ": " + uploads[i%len(uploads)].name }
	concurrently(t, len(variants)*len(uploads), name, func(t testing.TB, i int) {
		u := uploads[i%len(uploads)]
		ts := servers[i/len(uploads)]
		if u.stall {
			code, status, got := curlUpload(t, curl, ts, u.length, func(stdin io.WriteCloser) {
				io.WriteString(stdin, "abcd")
				time.Sleep(3 * body)
			})
			if code != 22 || status != "408" {
				t.Fatalf("curl exit %d, status %q, want 22 (--fail) and 408", code, status)
			}
			if got != "" {
				t.Fatalf("body %q written despite --fail", got)
			}
			return
		}
		start := time.Now()
		code, status, got := curlUpload(t, curl, ts, u.length, func(stdin io.WriteCloser) {
			for _, b := range []byte("trickled") {
				stdin.Write([]byte{b})
				time.Sleep(body / 4)
			}
		})
		if code != 0 || status != "200" || got != "trickled" {
			t.Fatalf("curl exit %d, status %q, body %q, want 0, 200 and %q", code, status, got, "trickled")
		}
		if took := time.Since(start); took < 2*body {
			t.Fatalf("the upload took %v only: the test proves nothing", took)
		}
	})
}
