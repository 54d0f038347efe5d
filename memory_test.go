//go:build linux && !race

package evio

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// slowReaderRSSBudget bounds how much the test process's resident memory
// may grow while a slow reader is offered 1 GiB, with the default
// Options.MaxOutput of 64 MiB: the queue, plus the slack of growing it.
const slowReaderRSSBudget = 256 << 20

// TestSlowReaderMemory offers 1 GiB to clients that read nothing or one
// byte a second, pushed with Wake and requested by pipelined requests: the
// server's memory stays bounded, and pushed connections are cut with
// ErrOutputLimit. Run without -race, whose shadow memory would swamp the
// figure.
func TestSlowReaderMemory(t *testing.T) {
	chunk := bytes.Repeat([]byte("m"), 1<<20)
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, readsPerSecond := range []int{0, 1} {
			runtime.GC()
			before := residentBytes()
			closed := make(chan error, 1)
			stop := make(chan struct{})
			var pusher sync.WaitGroup
			events := Events{
				Opened: func(c Conn) ([]byte, Options, Action) {
					pusher.Add(1)
					go func() {
						defer pusher.Done()
						for i := 0; i < 1024; i++ { // 1 GiB in 1 MiB pushes
							c.Wake()
							select {
							case <-stop:
								return
							case <-time.After(200 * time.Microsecond):
							}
						}
					}()
					return nil, Options{}, None
				},
				Data: func(c Conn, in []byte) ([]byte, Action) {
					if in == nil {
						return chunk, None
					}
					return nil, None
				},
				Closed: func(c Conn, err error) Action { closed <- err; return None },
			}
			s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
			c := s.dial(0)
			done := make(chan struct{})
			go func() { // the slow reader
				defer close(done)
				b := make([]byte, 1)
				for readsPerSecond > 0 {
					if _, err := c.Read(b); err != nil {
						return
					}
					time.Sleep(time.Second / time.Duration(readsPerSecond))
				}
			}()
			var peak int64
			var err error
			for waiting := true; waiting; {
				select {
				case err = <-closed:
					waiting = false
				case <-time.After(50 * time.Millisecond):
					if rss := residentBytes(); rss > peak {
						peak = rss
					}
				}
			}
			close(stop)
			pusher.Wait()
			c.Close()
			<-done
			s.Stop()
			if !errors.Is(err, ErrOutputLimit) {
				t.Fatalf("reader at %d B/s: Closed = %v, want ErrOutputLimit", readsPerSecond, err)
			}
			if rss := residentBytes(); rss > peak {
				peak = rss
			}
			growth := peak - before
			t.Logf("%s, reader at %d B/s: resident memory grew by %d MiB at most", e.name, readsPerSecond, growth>>20)
			if growth > slowReaderRSSBudget {
				t.Fatalf("resident memory grew by %d MiB for one slow reader, budget %d MiB", growth>>20, slowReaderRSSBudget>>20)
			}
		}
	})
}
