package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		proxyProc.Remove()
		redisServer.Remove()
		os.Exit(code)
	}))
}

// setup is one way of running the proxy that tests are repeated over.
type setup struct {
	name   string
	loops  int
	stdlib bool
}

var setups = []setup{
	{name: "1-loop", loops: 1},
	{name: "4-loops", loops: 4},
	{name: "portable/2-loops", loops: 2, stdlib: true},
}

// startProxy runs the proxy in the test's process, in front of backend,
// on a free port of 127.0.0.1, and stops it when the test ends.
func startProxy(t testing.TB, s setup, backend string, connectTimeout time.Duration) string {
	t.Helper()
	cfg := config{backend: backend, connectTimeout: connectTimeout}
	return runProxy(t, s, cfg).handle.Addrs()[0].String()
}

// runProxy runs the proxy in the test's process with cfg, on a free port
// of 127.0.0.1, the loops and engine of s, and the default marks unless
// cfg sets them, and stops it when the test ends.
func runProxy(t testing.TB, s setup, cfg config) *proxy {
	t.Helper()
	cfg.bind = "127.0.0.1"
	cfg.Loops, cfg.Stdlib = s.loops, s.stdlib
	if cfg.highWater == 0 {
		cfg.highWater, cfg.lowWater = 256<<10, 64<<10
	}
	px, err := start(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := px.handle.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return px
}

// goBackend is a backend written with package net: serve runs on a
// goroutine for each connection; every connection is closed, and every
// goroutine waited for, when the test ends.
func goBackend(t testing.TB, serve func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				serve(c.(*net.TCPConn))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// echo is a backend that sends back what it reads, and closes once the
// client has finished sending.
func echo(c *net.TCPConn) {
	defer c.Close()
	io.Copy(c, c)
}

func dial(t testing.TB, addr string) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute))
	return c.(*net.TCPConn)
}

// TestRoundTrips: many clients at once send random payloads of up to a
// few MiB through the proxy to an echo backend and get them back byte for
// byte, then half-close and read the end of stream.
func TestRoundTrips(t *testing.T) {
	backend := goBackend(t, echo)
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			addr := startProxy(t, s, backend, 5*time.Second)
			const clients = 24
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func(seed int64) {
					defer wg.Done()
					errs <- roundTrip(addr, rand.New(rand.NewSource(seed)))
				}(int64(i))
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// roundTrip sends a few payloads, each of a random size (mostly small, some
// up to 3 MiB), reading the echo as it goes, then half-closes.
func roundTrip(addr string, rng *rand.Rand) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	for round := 0; round < 4; round++ {
		size := 1 + rng.Intn(4<<10)
		if rng.Intn(4) == 0 {
			size = 1 + rng.Intn(3<<20)
		}
		payload := make([]byte, size)
		rng.Read(payload)
		sent := make(chan error, 1)
		go func() {
			_, err := c.Write(payload)
			sent <- err
		}()
		got := make([]byte, size)
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("reading %d bytes back: %w", size, err)
		}
		if err := <-sent; err != nil {
			return err
		}
		if !bytes.Equal(got, payload) {
			return fmt.Errorf("%d bytes came back different", size)
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		return fmt.Errorf("after the half-close, read %d, %v; want the end of stream", n, err)
	}
	return nil
}

// TestHalfCloseFromClient: the client sends and shuts down its sending
// side; the backend reads to the end of stream, then replies and closes;
// the client gets the reply and then the end of stream.
func TestHalfCloseFromClient(t *testing.T) {
	backend := goBackend(t, func(c *net.TCPConn) {
		defer c.Close()
		req, err := io.ReadAll(c)
		if err != nil {
			return
		}
		fmt.Fprintf(c, "got %d bytes: %s", len(req), req)
	})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			c := dial(t, startProxy(t, s, backend, 5*time.Second))
			io.WriteString(c, "hello, backend")
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			reply, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("reading the reply: %v", err)
			}
			if want := "got 14 bytes: hello, backend"; string(reply) != want {
				t.Fatalf("reply %q, want %q", reply, want)
			}
		})
	}
}

// TestHalfCloseFromBackend: the backend sends a greeting and shuts down
// its sending side; the client reads the greeting and the end of stream,
// and can still send, which the backend reads to the end before it closes.
func TestHalfCloseFromBackend(t *testing.T) {
	got := make(chan string, len(setups))
	backend := goBackend(t, func(c *net.TCPConn) {
		defer c.Close()
		io.WriteString(c, "greeting")
		c.CloseWrite()
		b, _ := io.ReadAll(c)
		got <- string(b)
	})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			c := dial(t, startProxy(t, s, backend, 5*time.Second))
			greeting, err := io.ReadAll(c)
			if err != nil || string(greeting) != "greeting" {
				t.Fatalf("read %q, %v; want the greeting then the end of stream", greeting, err)
			}
			if _, err := io.WriteString(c, "still sending"); err != nil {
				t.Fatal(err)
			}
			c.CloseWrite()
			select {
			case s := <-got:
				if s != "still sending" {
					t.Fatalf("the backend read %q", s)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the backend never saw the client's end of stream")
			}
			if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("after both ends finished, read %d, %v; want the end of stream", n, err)
			}
		})
	}
}

// reset closes c with a reset (RST) rather than a FIN.
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// TestResetFromBackend: a backend that resets its connection makes the
// client's read fail with ECONNRESET, not end cleanly.
func TestResetFromBackend(t *testing.T) {
	backend := goBackend(t, func(c *net.TCPConn) {
		buf := make([]byte, 5)
		io.ReadFull(c, buf)
		c.Write([]byte("partial"))
		time.Sleep(50 * time.Millisecond)
		reset(c)
	})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			c := dial(t, startProxy(t, s, backend, 5*time.Second))
			io.WriteString(c, "hello")
			_, err := io.ReadAll(c)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the client's read ended with %v, want ECONNRESET", err)
			}
		})
	}
}

// TestResetFromClient: a client that resets makes the backend's read fail
// with ECONNRESET.
func TestResetFromClient(t *testing.T) {
	got := make(chan error, len(setups))
	backend := goBackend(t, func(c *net.TCPConn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		c.Write([]byte("ready"))
		_, err := io.ReadAll(c)
		got <- err
	})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			c := dial(t, startProxy(t, s, backend, 5*time.Second))
			if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "some data")
			reset(c)
			select {
			case err := <-got:
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("the backend's read ended with %v, want ECONNRESET", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the backend's read did not end")
			}
		})
	}
}

// closedPort returns an address of 127.0.0.1 where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestBackendRefused: when the backend refuses the connection, the client
// is reset at once.
func TestBackendRefused(t *testing.T) {
	backend := closedPort(t)
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			addr := startProxy(t, s, backend, 5*time.Second)
			start := time.Now()
			if err := expectReset(addr); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("the client was reset after %v", took)
			}
		})
	}
}

// expectReset connects to the proxy at addr, sends a little, and expects
// to be reset. The reset may come before the connect has returned (on
// loopback the proxy can reset the connection that fast), and then the
// connect fails with it.
func expectReset(addr string) error {
	c, err := net.Dial("tcp", addr)
	if errors.Is(err, syscall.ECONNRESET) {
		return nil
	}
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(c, "hello"); err != nil {
		// The reset came before the write, which reports it; the kernel
		// reports a socket's error once, so the read would then see a
		// plain end of stream.
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
			return nil
		}
		return fmt.Errorf("the client's write failed with %v, want ECONNRESET", err)
	}
	if _, err := io.ReadAll(c); !errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("the client's read ended with %v, want ECONNRESET", err)
	}
	return nil
}
