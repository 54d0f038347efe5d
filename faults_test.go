//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestFatalAcceptErrorIsReturned: an accept error that is not about one
// connection or a passing shortage stops the server, and Serve returns it
// (evio returns nil).
func TestFatalAcceptErrorIsReturned(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		defer failAccept(unix.EINVAL)()
		s := startServer(t, echoEvents(), e.addr("tcp", "127.0.0.1:0"))
		c, err := net.Dial("tcp", s.addrs[0].String())
		if err == nil {
			defer c.Close()
		}
		err = s.Wait()
		if err == nil || !strings.Contains(err.Error(), "accept") || !strings.Contains(err.Error(), "invalid argument") {
			t.Fatalf("Serve = %v, want the accept error", err)
		}
	})
}

// TestTransientAcceptErrorsAreSkipped: a connection aborted before it was
// accepted, or a momentary shortage, does not stop the server.
func TestTransientAcceptErrorsAreSkipped(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		for _, errno := range []unix.Errno{unix.ECONNABORTED, unix.EMFILE, unix.ENFILE} {
			restore := failAccept(errno)
			s := startServer(t, echoEvents(), e.addr("tcp", "127.0.0.1:0"))
			c := s.dial(0)
			c.Write([]byte("still here\n"))
			if got := readLine(t, bufio.NewReader(c), c); got != "still here" {
				t.Fatalf("after %v: echo = %q", errno, got)
			}
			if err := s.Stop(); err != nil {
				t.Fatalf("after %v: Serve = %v, want nil", errno, err)
			}
			restore()
		}
	})
}

// TestNetSuffixSwitchesWholeServer: one -net address runs every address on
// the portable engine.
func TestNetSuffixSwitchesWholeServer(t *testing.T) {
	kinds := make(chan string, 2)
	events := Events{Opened: func(c Conn) ([]byte, Options, Action) {
		if engineOf(c) == "std" {
			kinds <- "portable"
		} else {
			kinds <- "poll"
		}
		return nil, Options{}, Close
	}}
	s := startServer(t, events, "tcp://127.0.0.1:0", "unix-net://"+unixPath(t))
	for i := range s.addrs {
		s.dial(i)
		if k := <-kinds; k != "portable" {
			t.Fatalf("address %d ran on the %s engine, want the portable one for the whole server", i, k)
		}
	}
}

// TestDetachWhileIdle detaches from a Wake, while the connection's reader
// (on the portable engine) is blocked reading: nothing the peer sends
// afterwards may be lost.
func TestDetachWhileIdle(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		got := make(chan string, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				go func() {
					time.Sleep(20 * time.Millisecond) // let the reader block
					c.Wake()
				}()
				return nil, Options{}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				if in == nil {
					return []byte("detaching\n"), Detach
				}
				return nil, None
			},
			Detached: func(c Conn, rwc io.ReadWriteCloser) Action {
				go func() {
					defer rwc.Close()
					line, _ := bufio.NewReader(rwc).ReadString('\n')
					got <- line
				}()
				return None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		r := bufio.NewReader(c)
		if line := readLine(t, r, c); line != "detaching" {
			t.Fatalf("got %q", line)
		}
		c.Write([]byte("after detach\n"))
		select {
		case line := <-got:
			if line != "after detach\n" {
				t.Fatalf("detached stream read %q", line)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("detached stream read nothing")
		}
	})
}
