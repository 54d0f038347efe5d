package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/evio-go/evio"
)

// A TLS client may send its request and its end of stream (close_notify,
// then a TCP FIN) right after its handshake: a one-shot client that pipes
// a request in and closes. These tests fail while the library loses such
// a connection: when the socket's end of stream arrives before the
// handshake goroutine has returned, tlsEnd (tls.go) sets flagEOF "because
// the handshake fails", but the handshake succeeds; handshakeDone then
// finds wantsRead false (core.go, flagEOF) and never drains the records
// that came with the client's Finished, and no Data, HalfClosed or Closed
// ever fires: the connection stays open, unserved, with no timer.

// TestTLSRequestThenFIN: through the proxy, such a client gets its reply.
func TestTLSRequestThenFIN(t *testing.T) {
	backend := plainBackend(t, func(c halfStream) {
		req, err := io.ReadAll(c)
		if err != nil {
			return
		}
		fmt.Fprintf(c, "got %d bytes: %s", len(req), req)
	})
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			px := startTLSProxy(t, s, backend, nil)
			for i := 0; i < 10; i++ {
				c, raw := dialTLS(t, px.handle.Addrs()[0].String(), 0)
				raw.Conn.SetDeadline(time.Now().Add(2 * time.Second))
				io.WriteString(c, "hello, backend")
				c.CloseWrite()
				raw.Conn.(*net.TCPConn).CloseWrite()
				reply, err := io.ReadAll(c)
				if err != nil || string(reply) != "got 14 bytes: hello, backend" {
					t.Fatalf("attempt %d: the client read %q, %v; want the reply and the end of stream", i, reply, err)
				}
				c.Close()
			}
		})
	}
}

// TestTLSDataThenFINBare is the same on evio alone, without the proxy: a
// server that echoes and closes at the end of stream; the client sends,
// then a TCP FIN (no close_notify), at once after its handshake.
func TestTLSDataThenFINBare(t *testing.T) {
	set, _ := certs(t)
	for _, scheme := range []string{"tcp", "tcp-net"} {
		t.Run(scheme, func(t *testing.T) {
			events := evio.Events{
				TLSConfig:  set.ServerConfig(),
				Data:       func(c evio.Conn, in []byte) ([]byte, evio.Action) { return in, evio.None },
				HalfClosed: func(c evio.Conn) ([]byte, evio.Action) { return nil, evio.Close },
			}
			h, err := evio.Start(events, scheme+"://127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				h.Stop(ctx)
			}()
			for i := 0; i < 10; i++ {
				c, raw := dialTLS(t, h.Addrs()[0].String(), 0)
				raw.Conn.SetDeadline(time.Now().Add(2 * time.Second))
				io.WriteString(c, "hello")
				raw.Conn.(*net.TCPConn).CloseWrite()
				echoed, err := io.ReadAll(c)
				if err != nil || string(echoed) != "hello" {
					t.Fatalf("attempt %d: the client read %q, %v; want the echo and the end of stream", i, echoed, err)
				}
				c.Close()
			}
		})
	}
}
