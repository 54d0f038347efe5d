package evio

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The server handle (issue 10): Start returns once the server runs; Stop
// drains for as long as its context allows.

// startHandle starts a server with Start and stops it, if still running,
// when the test ends.
func startHandle(t *testing.T, events Events, addr string) *Handle {
	t.Helper()
	h, err := Start(events, addr)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Stop(ctx)
	})
	return h
}

func TestStartAndStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var closed atomic.Int32
		h := startHandle(t, Events{
			Data:   func(c Conn, in []byte) ([]byte, Action) { return in, None },
			Closed: func(c Conn, err error) Action { closed.Add(1); return None },
		}, e.addr("tcp", "127.0.0.1:0"))
		addr := h.Addrs()[0].String()
		var peers []net.Conn
		for i := 0; i < 3; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte("ping"))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("echo: %q, %v", buf, err)
			}
			peers = append(peers, c)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if n := closed.Load(); n != 3 {
			t.Fatalf("Closed fired %d times by the time Stop returned, want 3", n)
		}
		if err := h.Wait(); err != nil {
			t.Fatalf("Wait after Stop: %v", err)
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatal("still accepting after Stop returned")
		}
		for _, p := range peers {
			if _, err := readUntilError(p, 5*time.Second); err != io.EOF {
				t.Fatalf("peer read %v after Stop, want a clean end of stream", err)
			}
		}
	})
}

// TestStopDrainsUntilContextEnds: queued output to a peer that reads
// nothing is written until Stop's context ends, not for a fixed time; then
// the connection is reset and Stop returns the context's error.
func TestStopDrainsUntilContextEnds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		opened := make(chan struct{}, 1)
		closed := make(chan error, 1)
		h := startHandle(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				setSendBuffer(c, 64<<10)
				opened <- struct{}{}
				return make([]byte, 8<<20), Options{}, None
			},
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}, e.addr("tcp", "127.0.0.1:0"))
		peer := dialNonReader(t, h.Addrs()[0].String())
		defer peer.Close()
		<-opened
		const wait = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		start := time.Now()
		err := h.Stop(ctx)
		took := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop returned %v, want context.DeadlineExceeded", err)
		}
		if took < wait || took > wait+5*time.Second {
			t.Fatalf("Stop returned after %v, want just after %v", took, wait)
		}
		if err := <-closed; err != nil {
			t.Fatalf("Closed got %v, want nil (shutdown)", err)
		}
		if _, err := readUntilError(peer, 10*time.Second); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("the peer read %v, want ECONNRESET: its output was cut", err)
		}
	})
}

// TestStopFromEventAndTwice: Stop from inside an event starts the stop and
// returns at once; Stop called twice more, concurrently, returns when the
// server is done.
func TestStopFromEventAndTwice(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var h *Handle
		stopped := make(chan error, 1)
		var ready sync.WaitGroup
		ready.Add(1)
		h = startHandle(t, Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				ready.Wait()
				stopped <- h.Stop(context.Background())
				return nil, None
			},
		}, e.addr("tcp", "127.0.0.1:0"))
		ready.Done()
		c, err := net.Dial("tcp", h.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("stop"))
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatalf("Stop from an event: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Stop from an event did not return")
		}
		var wg sync.WaitGroup
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := h.Stop(context.Background()); err != nil {
					t.Errorf("Stop: %v", err)
				}
			}()
		}
		wg.Wait()
		if err := h.Wait(); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	})
}

// TestStopWhileClientsSend: clients keep sending while Stop runs; every
// connection is closed once, and Stop returns.
func TestStopWhileClientsSend(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var opened, closed atomic.Int32
		h := startHandle(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) { opened.Add(1); return nil, Options{}, None },
			Data:   func(c Conn, in []byte) ([]byte, Action) { return in, None },
			Closed: func(c Conn, err error) Action { closed.Add(1); return None },
		}, e.addr("tcp", "127.0.0.1:0"))
		stop := make(chan struct{})
		var clients sync.WaitGroup
		for i := 0; i < 8; i++ {
			clients.Add(1)
			go func() {
				defer clients.Done()
				c, err := net.Dial("tcp", h.Addrs()[0].String())
				if err != nil {
					return
				}
				defer c.Close()
				go io.Copy(io.Discard, c)
				for {
					select {
					case <-stop:
						return
					default:
					}
					c.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := c.Write(make([]byte, 1024)); err != nil {
						return
					}
				}
			}()
		}
		time.Sleep(100 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := h.Stop(ctx)
		close(stop)
		clients.Wait()
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if o, c := opened.Load(), closed.Load(); o != c {
			t.Fatalf("%d opened, %d closed", o, c)
		}
	})
}

func TestStartBadAddress(t *testing.T) {
	if h, err := Start(Events{}, "bogus://x"); err == nil || h != nil {
		t.Fatalf("Start with a bad address: %v, %v", h, err)
	}
}

// TestStopFromEventAppliesContext: Stop from an event returns at once, and
// its context still ends the drain of a peer that reads nothing.
func TestStopFromEventAppliesContext(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		var h *Handle
		ready := make(chan struct{})
		h = startHandle(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				setSendBuffer(c, 64<<10)
				return make([]byte, 8<<20), Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				<-ready
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				_ = cancel // ends with the timeout
				if err := h.Stop(ctx); err != nil {
					t.Errorf("Stop from an event: %v", err)
				}
				return nil, None
			},
		}, e.addr("tcp", "127.0.0.1:0"))
		close(ready)
		peer := dialNonReader(t, h.Addrs()[0].String())
		defer peer.Close()
		peer.Write([]byte("stop"))
		done := make(chan error, 1)
		go func() { done <- h.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the drain outlived Stop's context")
		}
	})
}
