//go:build linux

package evio

import (
	"errors"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fullBacklogListener returns the address of a listening socket whose
// accept queue is full: a connect to it hangs, its SYNs dropped.
func fullBacklogListener(t *testing.T) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
	// Fill the queue: connects that complete until it is full.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break // full: this one hung
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

// TestDialTimeout: a connect that hangs (a listener whose backlog is full
// drops the SYNs) fails at its timeout, not before, with an error that
// wraps os.ErrDeadlineExceeded.
func TestDialTimeout(t *testing.T) {
	addr := fullBacklogListener(t)
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 1)
		h := startHandle(t, Events{
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}, e.addr("tcp", "127.0.0.1:0"))
		const timeout = 300 * time.Millisecond
		start := time.Now()
		h.Dial("tcp://"+addr, DialOptions{Timeout: timeout})
		select {
		case err := <-closed:
			took := time.Since(start)
			if !errors.Is(err, os.ErrDeadlineExceeded) && !isTimeout(err) {
				t.Fatalf("Closed got %v, want a timeout", err)
			}
			if took < timeout || took > timeout+3*time.Second {
				t.Fatalf("the dial failed after %v, want just after %v", took, timeout)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the dial never timed out")
		}
	})
}

// TestDialAbandonedByStop: a connect still in progress when the server
// stops is abandoned: Closed fires with an error, and the portable
// engine's dialer ends at once instead of waiting for the system's
// connect timeout (the package's leak check would see it).
func TestDialAbandonedByStop(t *testing.T) {
	addr := fullBacklogListener(t)
	forEachEngine(t, func(t *testing.T, e engine) {
		closed := make(chan error, 1)
		h, err := Start(Events{
			Closed: func(c Conn, err error) Action { closed <- err; return None },
		}, e.addr("tcp", "127.0.0.1:0"))
		if err != nil {
			t.Fatal(err)
		}
		h.Dial("tcp://"+addr, DialOptions{}) // no timeout: hangs until abandoned
		time.Sleep(50 * time.Millisecond)
		if err := h.Stop(timeoutContext(t)); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := <-closed; err == nil {
			t.Fatal("an abandoned dial's Closed got nil")
		}
		deadline := time.Now().Add(5 * time.Second)
		for strings.Contains(allStacks(), "(*stdTransport).connect") {
			if time.Now().After(deadline) {
				t.Fatal("the portable engine's dialer outlived the server")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
