package evio

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestUDP: one Data per datagram whose Conn is the sender; out goes back to
// it as one datagram; Opened and Closed do not fire; Close and Detach are
// no-ops; Wake replies to the sender; Shutdown works.
func TestUDP(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, scheme := range []string{"udp", "udp4", "udp6"} {
			host := "127.0.0.1:0"
			if scheme == "udp6" {
				host = "[::1]:0"
			}
			var streamEvents atomic.Int32
			var sender atomic.Value
			events := Events{
				NumLoops: 2,
				Opened: func(Conn) ([]byte, Options, Action) {
					streamEvents.Add(1)
					return nil, Options{}, None
				},
				Closed: func(Conn, error) Action { streamEvents.Add(1); return None },
				Data: func(c Conn, in []byte) ([]byte, Action) {
					if in == nil {
						return []byte("woken"), None
					}
					addr, ok := c.RemoteAddr().(*net.UDPAddr)
					if !ok {
						return []byte("RemoteAddr is not *net.UDPAddr"), None
					}
					sender.Store(addr.String())
					switch string(in) {
					case "close":
						return []byte("closed?"), Close
					case "detach":
						return []byte("detached?"), Detach
					case "wake":
						go c.Wake()
						return nil, None
					case "stop":
						return nil, Shutdown
					}
					return append([]byte("echo:"), in...), None
				},
			}
			s := startServer(t, events, e.addr(scheme, host))
			c := s.dial(0)
			exchange := func(msg, want string) {
				t.Helper()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write([]byte(msg)); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 70000)
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != want {
					t.Fatalf("%s: sent %q, got %q (%v), want %q", scheme, msg, buf[:n], err, want)
				}
			}
			exchange("hello", "echo:hello")
			if got, _ := sender.Load().(string); got != c.LocalAddr().String() {
				t.Errorf("%s: RemoteAddr = %s, want the client %s", scheme, got, c.LocalAddr())
			}
			exchange("close", "closed?")
			exchange("after close", "echo:after close")
			exchange("detach", "detached?")
			exchange("after detach", "echo:after detach")
			exchange("wake", "woken")
			big := bytes.Repeat([]byte("u"), 60000)
			exchange(string(big), "echo:"+string(big))
			c.Write([]byte("stop"))
			if err := s.Wait(); err != nil {
				t.Fatalf("%s: Serve after Shutdown from a datagram = %v", scheme, err)
			}
			if n := streamEvents.Load(); n != 0 {
				t.Fatalf("%s: Opened/Closed fired %d times for UDP", scheme, n)
			}
		}
	})
}

// TestUDPManyPeers: replies go to the right peer.
func TestUDPManyPeers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		events := Events{Data: func(c Conn, in []byte) ([]byte, Action) {
			return append([]byte(c.RemoteAddr().String()+" "), in...), None
		}}
		s := startServer(t, events, e.addr("udp", "127.0.0.1:0"))
		var wg sync.WaitGroup
		for p := 0; p < 20; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				c, err := net.Dial("udp", s.addrs[0].String())
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				buf := make([]byte, 256)
				for i := 0; i < 10; i++ {
					msg := fmt.Sprintf("peer %d message %d", p, i)
					want := c.LocalAddr().String() + " " + msg
					for attempt := 0; ; attempt++ {
						c.Write([]byte(msg))
						c.SetReadDeadline(time.Now().Add(time.Second))
						n, err := c.Read(buf)
						if err == nil {
							if string(buf[:n]) != want {
								t.Errorf("peer %d got %q, want %q", p, buf[:n], want)
								return
							}
							break
						}
						if attempt == 5 {
							t.Errorf("peer %d: no reply to %q: %v", p, msg, err)
							return
						}
					}
				}
			}(p)
		}
		wg.Wait()
	})
}

// TestPreWriteOncePerDatagramBatch (issue 8): the replies to the datagrams a
// loop reads in one batch share one PreWrite, as a batch of connection
// output does; it fired once per datagram (an fsync per datagram for a
// server that logs before it answers).
func TestPreWriteOncePerDatagramBatch(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		const datagrams = 30
		var prewrites atomic.Int32
		var first atomic.Bool
		release := make(chan struct{})
		events := Events{
			PreWrite: func() { prewrites.Add(1) },
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if first.CompareAndSwap(false, true) {
					<-release // hold the loop while the others arrive
				}
				return in, None
			},
		}
		s := startServer(t, events, e.addr("udp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("first"))
		waitFor(t, "the first datagram", first.Load)
		for i := 0; i < datagrams; i++ {
			fmt.Fprintf(c, "d%02d", i)
		}
		time.Sleep(20 * time.Millisecond) // all in the socket (or the reader's hands)
		close(release)
		buf := make([]byte, 64)
		for i := 0; i <= datagrams; i++ {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("reply %d: %v", i, err)
			}
		}
		if n := prewrites.Load(); n > 3 {
			t.Fatalf("PreWrite fired %d times for %d datagrams read in one batch", n, datagrams+1)
		}
	})
}
