package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/evio-go/evio/examples/internal/testproc"
)

// Real TLS clients through the proxy, run as a process with its
// -tls-cert-file and -tls-key-file flags on both engines: curl to an HTTP
// backend, redis-cli to examples/redis-server.

// engines are the proxy process's engine flags.
var engines = []string{"-stdlib=false", "-stdlib"}

// lookTool finds a client program. Without it the test is skipped, unless
// CI=true: CI must have it, as scripts/lib.sh requires.
func lookTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (%v): CI must install the Debian package %s", name, err, debianPackage)
	}
	t.Skipf("%s not found (%v); install the Debian package %s (with CI=true this fails)", name, err, debianPackage)
	return ""
}

// startTLSProxyProcess runs the proxy as a process with a TLS listener in
// front of backend and returns its address.
func startTLSProxyProcess(t *testing.T, backend, engine string) string {
	t.Helper()
	_, files := certs(t)
	_, addr := startProxyProcess(t, "-bind", "127.0.0.1", "-port", "0", "-backend", backend, engine,
		"-tls-cert-file", files.Cert, "-tls-key-file", files.Key)
	return addr
}

// runClient runs a client program, bounded in time, and returns its
// standard output; a failure fails the test with its standard error.
func runClient(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	timer.Stop()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// TestTLSCurl: curl over HTTPS through the proxy to a plain HTTP backend
// (net/http) gets the backend's page, over HTTP/1.1 (the proxy offers no
// ALPN protocol), and a 1 MB upload comes back byte for byte.
func TestTLSCurl(t *testing.T) {
	curl := lookTool(t, "curl", "curl")
	_, files := certs(t)
	page := fmt.Sprintf("page %d, served in plain\n", rand.Int63())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/echo" {
			io.Copy(w, r.Body)
			return
		}
		io.WriteString(w, page)
	})}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		// Shutdown, not Close: it waits for the connection goroutines,
		// one of which lingers half a second after the echo (net/http
		// closes a connection whose large body the handler answered
		// before reading it all, and waits for the client to go), and
		// goleak would report it.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("stopping the HTTP backend: %v", err)
		}
		<-served
	})
	upload := filepath.Join(t.TempDir(), "upload.bin")
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(rand.Int63())).Read(data)
	if err := os.WriteFile(upload, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			_, port, _ := net.SplitHostPort(startTLSProxyProcess(t, ln.Addr().String(), engine))
			base := "https://localhost:" + port
			curlArgs := []string{"-sS", "--fail", "--max-time", "20", "--cacert", files.CA}
			out := runClient(t, curl, append(curlArgs, "-w", "%{http_version}", base+"/")...)
			if want := page + "1.1"; out != want {
				t.Fatalf("curl got %q, want the page and HTTP version 1.1: %q", out, want)
			}
			echoed := filepath.Join(t.TempDir(), "echoed.bin")
			runClient(t, curl, append(curlArgs, "--data-binary", "@"+upload, "-o", echoed, base+"/echo")...)
			got, err := os.ReadFile(echoed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("the 1 MB upload came back as %d different bytes", len(got))
			}
		})
	}
}

// TestTLSRedisCLI: redis-cli --tls through the proxy to
// examples/redis-server: PING gets PONG, and a SET is read back by GET
// on another connection.
func TestTLSRedisCLI(t *testing.T) {
	cli := lookTool(t, "redis-cli", "redis-tools")
	_, files := certs(t)
	backend := startRedisServer(t)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			_, port, _ := net.SplitHostPort(startTLSProxyProcess(t, backend, engine))
			args := []string{"--tls", "--cacert", files.CA, "-h", "127.0.0.1", "-p", port}
			redis := func(cmd ...string) string {
				return strings.TrimSpace(runClient(t, cli, append(args, cmd...)...))
			}
			if got := redis("PING"); got != "PONG" {
				t.Fatalf("PING: %q, want PONG", got)
			}
			value := fmt.Sprintf("over TLS %d", rand.Int63())
			if got := redis("SET", "greeting"+engine, value); got != "OK" {
				t.Fatalf("SET: %q, want OK", got)
			}
			if got := redis("GET", "greeting"+engine); got != value {
				t.Fatalf("GET: %q, want %q", got, value)
			}
		})
	}
}

// redisServer is examples/redis-server, built once per test binary for
// the redis-cli tests through the proxy.
var redisServer = testproc.Binary{Name: "redis-server", Package: "../redis-server"}

// startRedisServer runs examples/redis-server on a free port of 127.0.0.1
// and returns its address; it is killed when the test ends.
func startRedisServer(t *testing.T) string {
	t.Helper()
	_, addr := redisServer.Start(t, "-bind", "127.0.0.1", "-port", "0")
	return addr
}
