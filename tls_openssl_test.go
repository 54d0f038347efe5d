package evio

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// What Go's crypto/tls client cannot send, OpenSSL's s_client can: a
// KeyUpdate (its K and k commands) and a TLS 1.2 renegotiation (R).

// requireTool finds a program the test needs: missing, the test fails
// under CI=true (CI installs it) and is skipped elsewhere.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI installs it): %v", name, err)
		}
		t.Skipf("%s is not installed", name)
	}
	return path
}

// sClient is a running openssl s_client, its output collected.
type sClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	out   bytes.Buffer
	done  chan struct{}
}

func startSClient(t *testing.T, addr string, args ...string) *sClient {
	t.Helper()
	path := requireTool(t, "openssl")
	cmd := exec.Command(path, append([]string{"s_client", "-connect", addr}, args...)...)
	sc := &sClient{cmd: cmd, done: make(chan struct{})}
	var err error
	if sc.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(sc.done)
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			sc.mu.Lock()
			sc.out.Write(buf[:n])
			sc.mu.Unlock()
			if err != nil {
				cmd.Wait()
				return
			}
		}
	}()
	t.Cleanup(func() {
		sc.stdin.Close()
		cmd.Process.Kill()
		<-sc.done
	})
	return sc
}

func (sc *sClient) output() string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.out.String()
}

// send types a line, then waits until the output has want (if not empty).
func (sc *sClient) send(t *testing.T, line, want string) {
	t.Helper()
	before := len(sc.output())
	if _, err := io.WriteString(sc.stdin, line+"\n"); err != nil {
		t.Fatalf("typing %q: %v", line, err)
	}
	if want == "" {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(sc.output()[before:], want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q after typing %q; s_client said:\n%s", want, line, sc.output())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Case 3: a client's KeyUpdate, with update_requested (K) and without
// (k). The server answers the first with a KeyUpdate of its own, written
// from inside crypto/tls's Read, on the loop, and not the second; the
// stream keeps working both ways.
func TestTLSKeyUpdateOpenSSL(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s := startServer(t, tlsEchoEvents(t), e.addr("tcp", "127.0.0.1:0"))
		sc := startSClient(t, s.addrs[0].String(), "-tls1_3", "-msg")
		sc.send(t, "hello", "\nhello")
		sc.send(t, "K", "KEYUPDATE")
		sc.send(t, "after update requested", "\nafter update requested")
		sc.send(t, "k", "KEYUPDATE")
		sc.send(t, "after update not requested", "\nafter update not requested")
		out := sc.output()
		sent := strings.Count(out, ">>> TLS 1.3, Handshake [length 0005], KeyUpdate")
		answered := strings.Count(out, "<<< TLS 1.3, Handshake [length 0005], KeyUpdate")
		if sent != 2 || answered != 1 {
			t.Fatalf("s_client sent %d KeyUpdates and received %d, want 2 and 1 (an answer to K only):\n%s", sent, answered, out)
		}
	})
}

// Case 4: a TLS 1.2 renegotiation is refused as crypto/tls's own server
// refuses it (an unexpected_message alert, and the connection closes);
// the server goes on serving.
func TestTLSRenegotiationRefusedOpenSSL(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s := startServer(t, tlsEchoEvents(t), e.addr("tcp", "127.0.0.1:0"))
		sc := startSClient(t, s.addrs[0].String(), "-tls1_2")
		sc.send(t, "hello", "\nhello")
		sc.send(t, "R", "RENEGOTIATING")
		select {
		case <-sc.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the connection stayed open after a renegotiation attempt:\n%s", sc.output())
		}
		if out := sc.output(); !strings.Contains(out, "alert unexpected message") {
			t.Fatalf("no unexpected_message alert:\n%s", out)
		}
		again := startSClient(t, s.addrs[0].String(), "-tls1_2")
		again.send(t, "still there?", "\nstill there?")
	})
}
