//go:build linux

package evio

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestOptionsKeepAlive: Opened's TCPKeepAlive reaches the socket.
func TestOptionsKeepAlive(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		type result struct{ on, idle int }
		got := make(chan result, 1)
		events := Events{
			Opened: func(c Conn) ([]byte, Options, Action) {
				return nil, Options{TCPKeepAlive: 7 * time.Second}, None
			},
			Data: func(c Conn, in []byte) ([]byte, Action) {
				on, _ := sockoptInt(c, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
				idle, _ := sockoptInt(c, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
				got <- result{on, idle}
				return nil, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"))
		c := s.dial(0)
		c.Write([]byte("x"))
		r := <-got
		if r.on == 0 || r.idle != 7 {
			t.Fatalf("SO_KEEPALIVE=%d TCP_KEEPIDLE=%d, want on and 7s", r.on, r.idle)
		}
	})
}
