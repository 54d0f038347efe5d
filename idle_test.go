//go:build linux && !race

package evio

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func init() { childMains["idle"] = runIdleChild }

// runIdleChild serves idle connections and answers each line on stdin with
// "open=<connections> rss=<bytes>".
func runIdleChild() int {
	var open atomic.Int64
	var stop atomic.Bool
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			fmt.Printf("open=%d rss=%d\n", open.Load(), residentBytes())
		}
		stop.Store(true)
	}()
	events := Events{
		NumLoops: 1,
		Serving: func(s Server) Action {
			fmt.Printf("ADDR %s\n", s.Addrs[0])
			return None
		},
		Opened: func(c Conn) ([]byte, Options, Action) { open.Add(1); return nil, Options{}, None },
		Closed: func(c Conn, err error) Action { open.Add(-1); return None },
		Tick: func() (time.Duration, Action) {
			if stop.Load() {
				return 0, Shutdown
			}
			return 50 * time.Millisecond, None
		},
	}
	if os.Getenv("EVIO_IDLE_TLS") != "" {
		events.TLSConfig = serverTLS(nil)
		events.Data = func(c Conn, in []byte) ([]byte, Action) { return in, None }
	}
	err := Serve(events, "tcp"+os.Getenv("EVIO_IDLE_ENGINE")+"://127.0.0.1:0")
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	return 0
}

// residentBytes is this process's resident set size.
func residentBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	return -1
}

// idleBudget is the documented server memory per idle connection (see
// docs/GUARANTEES.md): what the server's resident set grows by for each
// open connection that is doing nothing.
var idleBudget = map[string]int64{"poll": 300, "std": 12 << 10, "uring": 300}

// TestIdleConnectionMemory opens 10,000 idle connections to a server in a
// child process and checks how much its resident memory grew for them.
func TestIdleConnectionMemory(t *testing.T) {
	idleConnectionMemory(t, 10000, idleBudget, nil)
}

// tlsIdleBudget is the documented server memory per idle TLS connection,
// after its handshake and a 4-byte echo: crypto/tls's Conn and its
// buffers, with no goroutine (a goroutine-per-connection server holds
// 27-34 KB; see benchmarks/).
var tlsIdleBudget = map[string]int64{"poll": 16 << 10, "std": 32 << 10, "uring": 16 << 10}

// TestTLSIdleConnectionMemory does the same with TLS 1.3 connections
// (Go's default key exchange), each through its handshake and an echo.
func TestTLSIdleConnectionMemory(t *testing.T) {
	idleConnectionMemory(t, 2000, tlsIdleBudget, &tls.Config{InsecureSkipVerify: true})
}

func idleConnectionMemory(t *testing.T, conns int, budget map[string]int64, client *tls.Config) {
	forEachEngine(t, func(t *testing.T, e engine) {
		env := []string{"EVIO_IDLE_ENGINE=" + e.suffix}
		if client != nil {
			env = append(env, "EVIO_IDLE_TLS=1")
		}
		cmd, stdin, out := startChild(t, "idle", env...)
		defer func() {
			stdin.Close()
			cmd.Wait()
		}()
		line, err := out.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "ADDR ") {
			cmd.Process.Kill()
			t.Fatalf("child did not start: %q %v", line, err)
		}
		addr := strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
		ask := func() (open, rss int64) {
			fmt.Fprintln(stdin)
			reply, err := out.ReadString('\n')
			if err != nil {
				t.Fatalf("child stopped answering: %v", err)
			}
			if _, err := fmt.Sscanf(reply, "open=%d rss=%d", &open, &rss); err != nil {
				t.Fatalf("child said %q", reply)
			}
			return open, rss
		}
		// Warm up: the first connections grow tables and pools.
		for i := 0; i < 100; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		waitFor(t, "warm-up connections to close", func() bool { open, _ := ask(); return open == 0 })
		time.Sleep(200 * time.Millisecond)
		_, before := ask()

		clients := make([]net.Conn, 0, conns)
		defer func() {
			for _, c := range clients {
				c.Close()
			}
		}()
		for i := 0; i < conns; i++ {
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			if client != nil {
				tc := tls.Client(c, client)
				tc.SetDeadline(time.Now().Add(10 * time.Second))
				echo := make([]byte, 4)
				if _, err := tc.Write([]byte("ping")); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				if _, err := io.ReadFull(tc, echo); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				c = tc
			}
			clients = append(clients, c)
		}
		waitFor(t, "every connection to open", func() bool { open, _ := ask(); return open == int64(conns) })
		time.Sleep(500 * time.Millisecond) // let the heap settle
		_, after := ask()
		per := (after - before) / int64(conns)
		t.Logf("%s engine: resident memory %d KiB -> %d KiB, %d bytes per idle connection", e.name, before>>10, after>>10, per)
		if per > budget[e.name] {
			t.Fatalf("%d bytes of server memory per idle connection, budget %d", per, budget[e.name])
		}
	})
}
