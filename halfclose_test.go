package evio

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// halfCloseState is what TestHalfClosedStreamsReply's server keeps per
// connection, on its loop.
type halfCloseState struct {
	request []byte
	sent    int
}

// TestHalfClosedStreamsReply: a peer sends a request and shuts down its
// sending side (as an HTTP/1.0 client or a shell pipe does); HalfClosed
// fires once, after the request, and the server streams a 5 MiB reply in
// 256 KiB pieces, from Drained or from Wakes, then returns Close. The peer
// reads every byte, in order, then an end of stream, not a reset.
func TestHalfClosedStreamsReply(t *testing.T) {
	const total, piece = 5 << 20, 256 << 10
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, from := range []string{"Drained", "Wake"} {
			t.Run(from, func(t *testing.T) {
				var halfClosed atomic.Int32
				var badRequest atomic.Value
				closed := make(chan error, 1)
				var wakers sync.WaitGroup
				defer wakers.Wait()
				// next returns the next piece, with Close after the last.
				next := func(c Conn) ([]byte, Action) {
					st := c.Context().(*halfCloseState)
					out := patterned(st.sent, piece)
					st.sent += piece
					if st.sent >= total {
						return out, Close
					}
					return out, None
				}
				events := Events{
					Opened: func(c Conn) ([]byte, Options, Action) {
						setSendBuffer(c, 64<<10)
						c.SetContext(&halfCloseState{})
						return nil, Options{OutputHighWater: piece, OutputLowWater: 64 << 10}, None
					},
					Data: func(c Conn, in []byte) ([]byte, Action) {
						st := c.Context().(*halfCloseState)
						if in == nil {
							if st.sent < total {
								return next(c)
							}
							return nil, None
						}
						st.request = append(st.request, in...)
						return nil, None
					},
					HalfClosed: func(c Conn) ([]byte, Action) {
						halfClosed.Add(1)
						st := c.Context().(*halfCloseState)
						if string(st.request) != "GET /big\n" {
							badRequest.Store(string(st.request))
						}
						if from == "Drained" {
							return next(c)
						}
						wakers.Add(1)
						go func() {
							defer wakers.Done()
							for i := 0; i < 10*total/piece; i++ { // more than enough
								c.Wake()
								time.Sleep(2 * time.Millisecond)
							}
						}()
						return nil, None
					},
					Drained: func(c Conn) ([]byte, Action) {
						if from == "Drained" && c.Context().(*halfCloseState).sent < total {
							return next(c)
						}
						return nil, None
					},
					Closed: func(c Conn, err error) Action { closed <- err; return None },
				}
				s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
				c := s.dial(0).(*net.TCPConn)
				c.Write([]byte("GET /big\n"))
				if err := c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				got := readAllWithin(t, c, 30*time.Second) // fails on a reset
				if len(got) != total {
					t.Fatalf("received %d of %d bytes", len(got), total)
				}
				if off := checkPatterned(0, got); off >= 0 {
					t.Fatalf("the reply is wrong at offset %d", off)
				}
				if n := halfClosed.Load(); n != 1 {
					t.Errorf("HalfClosed fired %d times, want once", n)
				}
				if r := badRequest.Load(); r != nil {
					t.Errorf("HalfClosed fired after the request %q, want it after all of it", r)
				}
				select {
				case err := <-closed:
					if err != nil {
						t.Errorf("Closed = %v, want nil", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("Closed did not fire")
				}
			})
		}
	})
}

// TestCloseWriteAction: after CloseWrite the peer reads what was queued,
// then an end of stream, while the server still reads what the peer sends
// afterwards; when the peer finishes too, Closed fires with nil, without
// HalfClosed. CloseWrite comes from Opened with a greeting queued, or
// with nothing queued.
func TestCloseWriteAction(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, greeting := range []string{"hello\n", ""} {
			t.Run(fmt.Sprintf("queued=%d", len(greeting)), func(t *testing.T) {
				testCloseWriteAction(t, e, greeting)
			})
		}
	})
}

func testCloseWriteAction(t *testing.T, e engine, greeting string) {
	var halfClosed atomic.Int32
	received := make(chan string, 4)
	closed := make(chan error, 1)
	events := Events{
		Opened: func(c Conn) ([]byte, Options, Action) {
			return []byte(greeting), Options{}, CloseWrite
		},
		Data: func(c Conn, in []byte) ([]byte, Action) {
			received <- string(in)
			return nil, None
		},
		HalfClosed: func(c Conn) ([]byte, Action) {
			halfClosed.Add(1)
			return nil, Close
		},
		Closed: func(c Conn, err error) Action { closed <- err; return None },
	}
	s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
	c := s.dial(0).(*net.TCPConn)
	if got := readAllWithin(t, c, 5*time.Second); string(got) != greeting {
		t.Fatalf("before the end of stream came %q, want %q", got, greeting)
	}
	c.Write([]byte("after the server's FIN\n"))
	select {
	case in := <-received:
		if in != "after the server's FIN\n" {
			t.Fatalf("Data got %q", in)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not read after CloseWrite")
	}
	select {
	case err := <-closed:
		t.Fatalf("closed with %v before the peer finished", err)
	case <-time.After(100 * time.Millisecond):
	}
	c.CloseWrite()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Closed once both sides finished = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Closed did not fire once the peer finished")
	}
	if n := halfClosed.Load(); n != 0 {
		t.Errorf("HalfClosed fired %d times after the server's own CloseWrite", n)
	}
}

// TestOutputAfterCloseWrite: output returned after CloseWrite closes the
// connection with ErrWriteClosed; what was queued before CloseWrite
// arrived.
func TestOutputAfterCloseWrite(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				return []byte("hello\n"), Options{}, CloseWrite
			},
			Data:   func(c Conn, in []byte) ([]byte, Action) { return in, None },
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		if got := readLine(t, bufio.NewReader(c), c); got != "hello" {
			t.Fatalf("first line = %q", got)
		}
		c.Write([]byte("echo me\n"))
		select {
		case err := <-closed:
			if !errors.Is(err, ErrWriteClosed) {
				t.Fatalf("Closed after output that followed CloseWrite = %v, want ErrWriteClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("output after CloseWrite did not close the connection")
		}
	})
}

// TestEOFWithoutHalfClosed: without a HalfClosed event, the peer's end of
// stream closes the connection after its queued output, as in evio: the
// reply to a request sent with the FIN arrives whole, then an end of
// stream.
func TestEOFWithoutHalfClosed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 1)
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) {
				return patterned(0, 2<<20), None
			},
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0).(*net.TCPConn)
		c.Write([]byte("x"))
		c.CloseWrite()
		got := readAllWithin(t, c, 20*time.Second)
		if len(got) != 2<<20 || checkPatterned(0, got) >= 0 {
			t.Fatalf("received %d bytes (first wrong at %d) of %d", len(got), checkPatterned(0, got), 2<<20)
		}
		if err := <-closed; err != nil {
			t.Fatalf("Closed = %v, want nil", err)
		}
	})
}

// TestReadDeadlineEndsAtPeerFIN: a read deadline no longer applies once
// the peer has finished sending: a half-closed connection whose reply
// comes after the deadline gets it whole, then an end of stream.
func TestReadDeadlineEndsAtPeerFIN(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				c.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
				return nil, Options{}, None
			},
			HalfClosed: func(c Conn) ([]byte, Action) {
				c.AfterFunc(400*time.Millisecond, func() ([]byte, Action) {
					return []byte("late reply\n"), Close
				})
				return nil, None
			},
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0).(*net.TCPConn)
		c.Write([]byte("request\n"))
		c.CloseWrite()
		if got := readAllWithin(t, c, 5*time.Second); string(got) != "late reply\n" {
			t.Fatalf("received %q, want the late reply", got)
		}
		if err := <-closed; err != nil {
			t.Fatalf("Closed = %v, want nil", err)
		}
	})
}
