package evio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCloseWhilePeerSends: out returned with Close reaches a peer that is
// still sending. Closing a socket with unread input makes the kernel send a
// reset, which destroys output the peer has not read; the server lingers
// instead.
func TestCloseWhilePeerSends(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		reply := bytes.Repeat([]byte("r"), 4<<20)
		var once sync.Once
		events := Events{Data: func(c Conn, in []byte) ([]byte, Action) {
			var out []byte
			once.Do(func() { out = reply })
			if out == nil {
				return nil, None
			}
			return out, Close
		}}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		stop := make(chan struct{})
		var writer sync.WaitGroup
		writer.Add(1)
		go func() { // keep sending, as a pipelining client would
			defer writer.Done()
			chunk := bytes.Repeat([]byte("w"), 1024)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}()
		time.Sleep(20 * time.Millisecond) // let the server take the first request, then read slowly
		got := readAllWithin(t, c, 20*time.Second)
		close(stop)
		writer.Wait()
		if len(got) != len(reply) {
			t.Fatalf("received %d of %d bytes before the close", len(got), len(reply))
		}
	})
}

// TestSlowReaderBackpressure: a peer that sends requests but does not read
// the replies is held back by TCP once its queue reaches MaxOutput, and
// gets every reply once it reads.
func TestSlowReaderBackpressure(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const maxOutput = 256 << 10
		const requests, requestSize = 4096, 1024
		reply := bytes.Repeat([]byte("x"), 16<<10)
		var served atomic.Int64
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				return nil, Options{MaxOutput: maxOutput}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				// A 16 KiB reply per newline-terminated request.
				var out []byte
				for _, b := range in {
					if b == '\n' {
						out = append(out, reply...)
						served.Add(1)
					}
				}
				return out, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		// Ask for 64 MiB of replies in 4 MiB of requests, without reading.
		request := append(bytes.Repeat([]byte("?"), requestSize-1), '\n')
		sent := make(chan error, 1)
		go func() {
			c.SetWriteDeadline(time.Now().Add(30 * time.Second))
			_, err := c.Write(bytes.Repeat(request, requests))
			sent <- err
		}()
		time.Sleep(300 * time.Millisecond)
		// The server stopped reading long before it took every request:
		// at 256 KiB queued it waits, so it reads little more than what
		// the socket buffers hold.
		if n := served.Load(); n >= requests/2 {
			t.Fatalf("server read %d of %d requests from a peer that reads nothing", n, requests)
		}
		// Now read: every reply arrives, in full.
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		if _, err := io.CopyN(io.Discard, c, requests*int64(len(reply))); err != nil {
			t.Fatalf("reading the replies: %v (served %d requests)", err, served.Load())
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
	})
}

// TestPushToSlowReaderIsCut: output pushed with Wake to a peer that does
// not read closes the connection with ErrOutputLimit once its queue is at
// MaxOutput, instead of growing.
func TestPushToSlowReaderIsCut(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		chunk := bytes.Repeat([]byte("p"), 1<<20)
		closed := make(chan error, 1)
		var pushed atomic.Int64
		stop := make(chan struct{})
		var pusher sync.WaitGroup
		defer pusher.Wait()
		defer close(stop)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				pusher.Add(1)
				go func() {
					defer pusher.Done()
					for i := 0; i < 1024; i++ { // offer 1 GiB
						c.Wake()
						select {
						case <-stop:
							return
						case <-time.After(time.Millisecond):
						}
					}
				}()
				return nil, Options{MaxOutput: 4 << 20}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					pushed.Add(int64(len(chunk)))
					return chunk, None
				}
				return nil, None
			},
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		s.dial(0) // never read
		select {
		case err := <-closed:
			if !errors.Is(err, ErrOutputLimit) {
				t.Fatalf("Closed = %v, want ErrOutputLimit", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("still open after %d MiB pushed to a peer that reads nothing", pushed.Load()>>20)
		}
		if p := pushed.Load(); p > 64<<20 {
			t.Fatalf("%d MiB accepted for a peer that reads nothing, with MaxOutput 4 MiB", p>>20)
		}
	})
}

// TestTotalOutputBound: many slow readers together cannot queue more than
// Events.MaxTotalOutput (plus one event's output per connection).
func TestTotalOutputBound(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const conns, total = 20, 8 << 20
		chunk := bytes.Repeat([]byte("t"), 256<<10)
		var accepted atomic.Int64
		var cut atomic.Int32
		var wakers sync.WaitGroup
		stop := make(chan struct{})
		events := Events{
			NumLoops:       2,
			MaxTotalOutput: total,
			Opened: func(c Conn) ([]byte, Options, Action) {
				wakers.Add(1)
				go func() {
					defer wakers.Done()
					for {
						select {
						case <-stop:
							return
						case <-time.After(time.Millisecond):
							c.Wake()
						}
					}
				}()
				return nil, Options{}, None // MaxOutput stays at 64 MiB each
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					accepted.Add(int64(len(chunk)))
					return chunk, None
				}
				return nil, None
			},
			Closed: func(c Conn, err error) Action {
				if errors.Is(err, ErrOutputLimit) {
					cut.Add(1)
				}
				return None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		for i := 0; i < conns; i++ {
			s.dial(0).(*net.TCPConn).SetReadBuffer(4096) // never read
		}
		waitFor(t, "every slow reader to be cut", func() bool { return cut.Load() == conns })
		close(stop)
		wakers.Wait()
		// Socket buffers hold some of it; the server's queues held at most
		// the total, plus one chunk per connection that crossed the line.
		if a := accepted.Load(); a > total+conns*int64(len(chunk))+conns*(8<<20) {
			t.Fatalf("%d MiB accepted for %d peers that read nothing, total bound %d MiB", a>>20, conns, total>>20)
		}
	})
}
