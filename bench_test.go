package evio

import (
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// benchServer starts a server for a benchmark on the poll engine (or the
// portable one with suffix "-net", the io_uring one with "-uring").
func benchServer(b *testing.B, events Events, suffix string) (net.Addr, func()) {
	b.Helper()
	addrCh := make(chan net.Addr, 1)
	var stop atomic.Bool
	done := make(chan error, 1)
	events.Serving = func(s Server) Action { addrCh <- s.Addrs[0]; return None }
	events.Tick = func() (time.Duration, Action) {
		if stop.Load() {
			return 0, Shutdown
		}
		return 10 * time.Millisecond, None
	}
	go func() { done <- Serve(events, "tcp"+suffix+"://127.0.0.1:0") }()
	var addr net.Addr
	select {
	case addr = <-addrCh:
	case err := <-done:
		b.Fatal(err)
	}
	return addr, func() {
		stop.Store(true)
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}

func reuseEcho() Events {
	return Events{
		Opened: func(c Conn) ([]byte, Options, Action) {
			return nil, Options{ReuseInputBuffer: true}, None
		},
		Data: func(c Conn, in []byte) ([]byte, Action) { return in, None },
	}
}

// roundTrip writes msg and reads the echo.
func roundTrip(c net.Conn, msg, buf []byte) error {
	if _, err := c.Write(msg); err != nil {
		return err
	}
	_, err := io.ReadFull(c, buf)
	return err
}

// BenchmarkDataRoundTrip is one 64-byte request and its echo on a live
// loop: read, Data, flush, write.
func BenchmarkDataRoundTrip(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			addr, stop := benchServer(b, reuseEcho(), e.suffix)
			defer stop()
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg, buf := make([]byte, 64), make([]byte, 64)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := roundTrip(c, msg, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWake is a Wake from another goroutine and the Data(c, nil) it
// fires, whose output the client reads.
func BenchmarkWake(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			opened := make(chan Conn, 1)
			reply := []byte("w")
			events := Events{
				Opened: func(c Conn) ([]byte, Options, Action) { opened <- c; return nil, Options{}, None },
				Data: func(c Conn, in []byte) ([]byte, Action) {
					if in == nil {
						return reply, None
					}
					return nil, None
				},
			}
			addr, stop := benchServer(b, events, e.suffix)
			defer stop()
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			sc := <-opened
			buf := make([]byte, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				sc.Wake()
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAccept is a connection opened, served once and closed.
func BenchmarkAccept(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			addr, stop := benchServer(b, reuseEcho(), e.suffix)
			defer stop()
			msg, buf := []byte("x"), make([]byte, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c, err := net.Dial("tcp", addr.String())
				if err != nil {
					b.Fatal(err)
				}
				if err := roundTrip(c, msg, buf); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// BenchmarkInputStream frames 16-byte messages that arrive split in two.
func BenchmarkInputStream(b *testing.B) {
	var is InputStream
	first, second := []byte("0123456789"), []byte("abcdef")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		data := is.Begin(first)
		is.End(data) // incomplete: kept
		data = is.Begin(second)
		is.End(data[16:]) // one whole message consumed
	}
}
