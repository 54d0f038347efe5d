package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// -timeout N closes a client idle for N seconds, as Redis's timeout does;
// a client that keeps sending commands stays.

func TestIdleTimeoutClosesIdleClients(t *testing.T) {
	_, addr := startServerProcess(t, "-bind", "127.0.0.1", "-port", "0", "-timeout", "1")
	idle := dialRaw(t, "tcp", addr)
	busy := dialRaw(t, "tcp", addr)
	idle.send(cmd("PING"))
	idle.mustReply("+PONG\r\n")
	lastActive := time.Now()

	// The busy client sends a command every 200 ms for 1.6 s: never idle
	// for a second, it is never closed.
	for i := 0; i < 8; i++ {
		busy.send(cmd("PING"))
		busy.mustReply("+PONG\r\n")
		time.Sleep(200 * time.Millisecond)
	}

	idle.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := idle.r.Read(make([]byte, 1))
	closedAfter := time.Since(lastActive)
	if n != 0 || err != io.EOF {
		t.Fatalf("idle client: read %d bytes, err %v; want a clean end of stream", n, err)
	}
	if closedAfter < time.Second {
		t.Fatalf("idle client closed after %v, before the 1 s timeout", closedAfter)
	}
	busy.send(cmd("PING"))
	busy.mustReply("+PONG\r\n")
}

// TestIdleTimeoutWithRedisCLI runs redis-cli: two PINGs 2.5 s apart on one
// connection. With -timeout 1 the server closes the connection between
// them and redis-cli reports it, as against Redis; without, both succeed.
func TestIdleTimeoutWithRedisCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-cli is not installed (the redis-tools package)")
		}
		t.Skip("redis-cli is not installed (the redis-tools package)")
	}
	for _, timeout := range []int{1, 0} {
		_, addr := startServerProcess(t, "-bind", "127.0.0.1", "-port", "0", "-timeout", strconv.Itoa(timeout))
		_, port, _ := net.SplitHostPort(addr)
		out, err := exec.Command(cli, "-h", "127.0.0.1", "-p", port, "-r", "2", "-i", "2.5", "PING").CombinedOutput()
		closed := bytes.Contains(out, []byte("Server closed the connection"))
		switch {
		case timeout > 0 && (err == nil || !closed):
			t.Errorf("-timeout %d: redis-cli did not see the idle connection closed: err %v, output %q", timeout, err, out)
		case timeout == 0 && (err != nil || bytes.Count(out, []byte("PONG")) != 2):
			t.Errorf("-timeout 0: redis-cli: err %v, output %q; want two PONGs", err, out)
		}
	}
}
