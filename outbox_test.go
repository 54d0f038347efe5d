package evio

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Writes and closes from other goroutines (issue 10).

// TestWriteFromGoroutinesKeepsOrder: eight goroutines write numbered lines
// at once; the peer gets every line, and each goroutine's in order.
func TestWriteFromGoroutinesKeepsOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const writers, lines = 8, 2000
		opened := make(chan Conn, 1)
		s := startServer(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) { opened <- c; return nil, Options{}, None },
		}, e.addr("tcp", "127.0.0.1:0"))
		peer := s.dial(0)
		c := <-opened
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < lines; i++ {
					if err := c.Write([]byte(fmt.Sprintf("%d:%d\n", w, i))); err != nil {
						t.Errorf("writer %d line %d: %v", w, i, err)
						return
					}
				}
			}(w)
		}
		next := make([]int, writers)
		r := bufio.NewReader(peer)
		peer.SetReadDeadline(time.Now().Add(20 * time.Second))
		for n := 0; n < writers*lines; n++ {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("after %d lines: %v", n, err)
			}
			w, i, ok := strings.Cut(strings.TrimSpace(line), ":")
			wi, _ := strconv.Atoi(w)
			ii, _ := strconv.Atoi(i)
			if !ok || wi < 0 || wi >= writers || ii != next[wi] {
				t.Fatalf("line %q out of order: want %d:%d", line, wi, next[wi])
			}
			next[wi]++
		}
		wg.Wait()
	})
}

// TestWriteInEventGoesBeforeOut: a Write made inside an event reaches the
// peer before that event's out.
func TestWriteInEventGoesBeforeOut(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s := startServer(t, Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if err := c.Write([]byte("first,")); err != nil {
					t.Errorf("Write in Data: %v", err)
				}
				return []byte("second\n"), None
			},
		}, e.addr("tcp", "127.0.0.1:0"))
		peer := s.dial(0)
		peer.Write([]byte("x"))
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(peer).ReadString('\n')
		if err != nil || line != "first,second\n" {
			t.Fatalf("got %q, %v; want %q", line, err, "first,second\n")
		}
	})
}

// TestCloseFromGoroutineDeliversWrites: 4 MiB written from a goroutine,
// then Close: the peer gets every byte, then a clean end of stream, and
// writes after the Close fail.
func TestCloseFromGoroutineDeliversWrites(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const total, piece = 4 << 20, 32 << 10
		opened := make(chan Conn, 1)
		closed := make(chan error, 1)
		s := startServer(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) { opened <- c; return nil, Options{}, None },
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}, e.addr("tcp", "127.0.0.1:0"))
		peer := s.dial(0)
		c := <-opened
		go func() {
			for off := 0; off < total; off += piece {
				for {
					err := c.Write(patterned(off, piece))
					if err == nil {
						break
					}
					if !errors.Is(err, ErrOutputLimit) {
						t.Errorf("Write: %v", err)
						return
					}
					time.Sleep(time.Millisecond) // the queue is full: wait for the peer
				}
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := c.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Write after Close: %v, want net.ErrClosed", err)
			}
		}()
		peer.SetReadDeadline(time.Now().Add(20 * time.Second))
		got, err := io.ReadAll(peer)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		if len(got) != total || checkPatterned(0, got) >= 0 {
			t.Fatalf("got %d bytes (first wrong at %d), want %d", len(got), checkPatterned(0, got), total)
		}
		if err := <-closed; err != nil {
			t.Fatalf("Closed got %v, want nil", err)
		}
		if err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write after Closed: %v, want net.ErrClosed", err)
		}
	})
}

// TestAbortFromGoroutineResets: the peer of an aborted connection reads a
// reset, not an end of stream.
func TestAbortFromGoroutineResets(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		opened := make(chan Conn, 1)
		s := startServer(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) { opened <- c; return nil, Options{}, None },
		}, e.addr("tcp", "127.0.0.1:0"))
		peer := s.dial(0)
		c := <-opened
		c.Write([]byte("partial"))
		if err := c.Abort(); err != nil {
			t.Fatal(err)
		}
		_, err := readUntilError(peer, 5*time.Second)
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("peer read %v, want ECONNRESET", err)
		}
	})
}

// TestWriteIsBoundedByMaxOutput: writes to a peer that reads nothing fail
// with ErrOutputLimit once the queue reaches MaxOutput, instead of growing;
// the connection stays open.
func TestWriteIsBoundedByMaxOutput(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const maxOutput, piece = 1 << 20, 16 << 10
		opened := make(chan Conn, 1)
		s := startServer(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				setSendBuffer(c, 64<<10)
				opened <- c
				return nil, Options{MaxOutput: maxOutput}, None
			},
		}, e.addr("tcp", "127.0.0.1:0"))
		peer := dialNonReader(t, s.addrs[0].String())
		defer peer.Close()
		c := <-opened
		accepted := 0
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := c.Write(make([]byte, piece))
			if errors.Is(err, ErrOutputLimit) {
				break
			}
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			accepted += piece
			if time.Now().After(deadline) {
				t.Fatalf("%d bytes accepted for a peer that reads nothing", accepted)
			}
			if accepted%(256<<10) == 0 {
				time.Sleep(5 * time.Millisecond) // let the loop publish the queue
			}
		}
		// The bound plus what the kernel took (small buffers on both sides)
		// and the engine's window: far below what unbounded writes reach.
		if accepted > 3*maxOutput {
			t.Fatalf("%d bytes accepted with MaxOutput %d", accepted, maxOutput)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("the connection closed when writes hit the bound: %v", err)
		}
	})
}

// TestWritesRaceWithClose: goroutines write while the peer closes the
// connection: no panic, and once Closed has fired every write fails.
func TestWritesRaceWithClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for round := 0; round < 20; round++ {
			opened := make(chan Conn, 1)
			closed := make(chan struct{})
			s := startServer(t, Events{
				Opened: func(c Conn) ([]byte, Options, Action) { opened <- c; return nil, Options{}, None },
				Closed: func(c Conn, err error) Action { close(closed); return None },
			}, e.addr("tcp", "127.0.0.1:0"))
			peer := s.dial(0)
			c := <-opened
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 200; i++ {
						c.Write([]byte("payload"))
						if i == 100 {
							c.Close()
						}
					}
				}()
			}
			peer.Close()
			<-closed
			wg.Wait()
			if err := c.Write([]byte("after")); !errors.Is(err, net.ErrClosed) {
				t.Fatalf("Write after Closed: %v, want net.ErrClosed", err)
			}
			s.Stop()
		}
	})
}

// TestCloseWriteFromGoroutine: the peer reads everything written, then an
// end of stream, while the connection still reads what the peer sends.
func TestCloseWriteFromGoroutine(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		opened := make(chan Conn, 1)
		got := make(chan string, 1)
		s := startServer(t, Events{
			Opened: func(c Conn) ([]byte, Options, Action) { opened <- c; return nil, Options{}, None },
			Data:   func(c Conn, in []byte) ([]byte, Action) { got <- string(in); return nil, None },
		}, e.addr("tcp", "127.0.0.1:0"))
		peer := s.dial(0)
		c := <-opened
		c.Write([]byte("bye"))
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		all, err := io.ReadAll(peer)
		if err != nil || string(all) != "bye" {
			t.Fatalf("peer read %q, %v; want bye then EOF", all, err)
		}
		if err := c.Write([]byte("more")); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Write after CloseWrite: %v, want net.ErrClosed", err)
		}
		peer.Write([]byte("still reading"))
		select {
		case s := <-got:
			if s != "still reading" {
				t.Fatalf("read %q after CloseWrite", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the connection stopped reading after CloseWrite")
		}
	})
}
