package evio

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"net"
	"sync"
	"testing"
	"time"
)

// TestEcho64MiB pushes 64 MiB through one connection in random-sized
// writes while reading concurrently; every byte must come back in order.
func TestEcho64MiB(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, reuse := range []bool{false, true} {
			events := Events{
				Opened: func(c Conn) ([]byte, Options, Action) {
					return nil, Options{ReuseInputBuffer: reuse}, None
				},
				Data: func(c Conn, in []byte) ([]byte, Action) { return in, None },
			}
			s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
			c := s.dial(0)
			const size = 64 << 20
			data := make([]byte, size)
			rand.New(rand.NewSource(64)).Read(data)
			writeErr := make(chan error, 1)
			go func() {
				rng := rand.New(rand.NewSource(1))
				for rest := data; len(rest) > 0; {
					n := 1 + rng.Intn(256<<10)
					if n > len(rest) {
						n = len(rest)
					}
					if _, err := c.Write(rest[:n]); err != nil {
						writeErr <- err
						return
					}
					rest = rest[n:]
				}
				writeErr <- nil
			}()
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			h := sha256.New()
			if _, err := io.CopyN(h, c, size); err != nil {
				t.Fatalf("reuse=%v: reading the echo: %v", reuse, err)
			}
			if err := <-writeErr; err != nil {
				t.Fatal(err)
			}
			if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("reuse=%v: 64 MiB came back altered", reuse)
			}
			s.Stop()
		}
	})
}

// TestThousandConnections echoes on 1,000 concurrent connections.
func TestThousandConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		s := startServer(t, Events{
			NumLoops: 4,
			Data:     func(c Conn, in []byte) ([]byte, Action) { return in, None },
		}, e.addr("tcp", "127.0.0.1:0"))
		const n = 1000
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := net.DialTimeout("tcp", s.addrs[0].String(), 5*time.Second)
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
			defer c.Close()
			conns[i] = c
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, c := range conns {
			wg.Add(1)
			go func(i int, c net.Conn) {
				defer wg.Done()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				for round := 0; round < 5; round++ {
					msg := fmt.Sprintf("conn %d round %d\n", i, round)
					if _, err := c.Write([]byte(msg)); err != nil {
						errs <- err
						return
					}
					buf := make([]byte, len(msg))
					if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
						errs <- fmt.Errorf("conn %d: got %q, %v", i, buf, err)
						return
					}
				}
			}(i, c)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}
