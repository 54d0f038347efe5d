package main

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// blackhole returns the address of a listening socket whose accept queue
// is full and never accepted from: on Linux a connect to it hangs, its SYNs
// dropped, until the connecting side gives up.
func blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	for i := 0; i < 8; i++ { // fill the queue
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr // this one hung: the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("the accept queue never filled")
	return ""
}

// TestConnectTimeout: a backend that never answers the connect resets the
// client at -connect-timeout, not before.
func TestConnectTimeout(t *testing.T) {
	backend := blackhole(t)
	const timeout = 300 * time.Millisecond
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			addr := startProxy(t, s, backend, timeout)
			start := time.Now()
			if err := expectReset(addr); err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if took < timeout-50*time.Millisecond || took > timeout+3*time.Second {
				t.Fatalf("the client was reset after %v, want about %v", took, timeout)
			}
		})
	}
}

// TestClientGoneWhileDialing: a client that leaves while its backend is
// still being dialed ends the dial: the proxy stops promptly afterwards,
// with nothing left open (goleak and Stop's deadline check that).
//
// The portable engine dials on a goroutine (net.Dialer) that is not
// cancelled when its connection is abandoned: it lives on until the connect
// times out. Its proxy gets a short connect timeout, and the test waits it
// out, so that goleak does not report that goroutine.
func TestClientGoneWhileDialing(t *testing.T) {
	backend := blackhole(t)
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			timeout := time.Minute
			if s.stdlib {
				timeout = 300 * time.Millisecond
				defer time.Sleep(2 * timeout)
			}
			addr := startProxy(t, s, backend, timeout)
			for i := 0; i < 10; i++ {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				if i%2 == 0 {
					reset(c.(*net.TCPConn))
				} else {
					c.Close()
				}
			}
			time.Sleep(50 * time.Millisecond)
		})
	}
}
