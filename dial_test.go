package evio

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Outbound connections (issue 10).

// echoListener is a plain net listener that echoes, standing for a
// backend.
func echoListener(t *testing.T, network, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln
}

// TestDialEchoes: a dialed connection gets Opened, carries the context it
// was dialed with, writes, reads (Data) and closes like an accepted one,
// over TCP and unix sockets.
func TestDialEchoes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, network := range []string{"tcp", "unix"} {
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = filepath.Join(t.TempDir(), "backend.sock")
			}
			ln := echoListener(t, network, addr)
			got := make(chan string, 1)
			closed := make(chan error, 1)
			h := startHandle(t, Events{
				Opened: func(c Conn) ([]byte, Options, Action) {
					if c.Context() != "backend" {
						t.Errorf("Opened: context %v, want the one dialed with", c.Context())
					}
					if c.AddrIndex() != -1 {
						t.Errorf("AddrIndex of a dialed connection: %d, want -1", c.AddrIndex())
					}
					return []byte("hello"), Options{}, None
				},
				Data: func(c Conn, in []byte) ([]byte, Action) {
					got <- string(in)
					return nil, Close
				},
				Closed: func(c Conn, err error) Action { closed <- err; return None },
			}, e.addr("tcp", "127.0.0.1:0"))
			target := network + "://" + ln.Addr().String()
			if _, err := h.Dial(target, DialOptions{Context: "backend", Timeout: 5 * time.Second}); err != nil {
				t.Fatal(err)
			}
			select {
			case s := <-got:
				if s != "hello" {
					t.Fatalf("%s: echoed %q, want hello", network, s)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: no echo", network)
			}
			if err := <-closed; err != nil {
				t.Fatalf("%s: Closed got %v, want nil", network, err)
			}
			if n := h.Counters(); n.Dialed != 1 {
				t.Fatalf("%s: Dialed %d, want 1", network, n.Dialed)
			}
		}
	})
}

// TestDialFailures: a refused connect, a blackhole with a timeout and a
// missing unix socket get Closed with the error and no Opened; no loop
// blocks meanwhile.
func TestDialFailures(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 3)
		h := startHandle(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				if c.Context() != nil {
					t.Errorf("Opened fired for a dial that must fail (%v)", c.Context())
				}
				return nil, Options{}, None
			},
			Data:   func(c Conn, in []byte) ([]byte, Action) { return in, None },
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}, e.addr("tcp", "127.0.0.1:0"))

		// A port with nobody listening.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		refused := ln.Addr().String()
		ln.Close()
		h.Dial("tcp://"+refused, DialOptions{Context: "refused"})
		if err := <-closed; err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("dial to a closed port: Closed got %v, want connection refused", err)
		}

		h.Dial("unix://"+filepath.Join(t.TempDir(), "none.sock"), DialOptions{Context: "missing"})
		if err := <-closed; err == nil {
			t.Fatal("dial to a missing unix socket: Closed got nil")
		}

		// 192.0.2.1 (TEST-NET-1) is never routed: the connect hangs until
		// the timeout, while the server keeps serving.
		start := time.Now()
		h.Dial("tcp://192.0.2.1:9", DialOptions{Context: "blackhole", Timeout: 300 * time.Millisecond})
		c, err := net.Dial("tcp", h.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			t.Fatalf("the server stopped serving while a dial hung: %v", err)
		}
		select {
		case err := <-closed:
			took := time.Since(start)
			// Where the network refuses at once instead, any error will do.
			if errors.Is(err, os.ErrDeadlineExceeded) && took < 300*time.Millisecond {
				t.Fatalf("dial timed out after %v, before its 300 ms", took)
			}
			if err == nil {
				t.Fatal("blackhole dial: Closed got nil")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("blackhole dial never ended")
		}
	})
}

// TestDialOnCallersLoop: DialOptions.Loop puts the connection on that
// connection's loop.
func TestDialOnCallersLoop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		ln := echoListener(t, "tcp", "127.0.0.1:0")
		var h *Handle
		same := make(chan bool, 1)
		ready := make(chan struct{})
		h = startHandle(t, Events{
			NumLoops:    4,
			LoadBalance: RoundRobin,
			Opened: func(c Conn) ([]byte, Options, Action) {
				if client, ok := c.Context().(Conn); ok {
					same <- loopIndexOf(client) == loopIndexOf(c)
					return nil, Options{}, Close
				}
				<-ready
				if _, err := h.Dial("tcp://"+ln.Addr().String(), DialOptions{Context: c, Loop: c}); err != nil {
					t.Error(err)
				}
				return nil, Options{}, None
			},
		}, e.addr("tcp", "127.0.0.1:0"))
		close(ready)
		for i := 0; i < 4; i++ {
			c, err := net.Dial("tcp", h.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			select {
			case ok := <-same:
				if !ok {
					t.Fatal("the dialed connection opened on another loop")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the dialed connection never opened")
			}
		}
	})
}
