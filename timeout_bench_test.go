package evio

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// timeoutEcho echoes as reuseEcho does, with the timeouts a real server
// keeps: an idle timeout, a read deadline moved by each request, and a
// request timer reset by each request.
func timeoutEcho() Events {
	nothing := func() ([]byte, Action) { return nil, None }
	return Events{
		Opened: func(c Conn) ([]byte, Options, Action) {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			c.SetContext(c.AfterFunc(time.Minute, nothing))
			return nil, Options{ReuseInputBuffer: true, IdleTimeout: time.Minute}, None
		},
		Data: func(c Conn, in []byte) ([]byte, Action) {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			c.Context().(*Timer).Reset(time.Minute)
			return in, None
		},
	}
}

// benchIdleConns is how many idle connections BenchmarkEchoTimeouts keeps
// open beside the measured one: EVIO_BENCH_IDLE_CONNS, 1000 by default.
// The process holds both ends of each, so its descriptor limit must allow
// twice as many.
func benchIdleConns(b *testing.B) int {
	if v := os.Getenv("EVIO_BENCH_IDLE_CONNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			b.Fatalf("EVIO_BENCH_IDLE_CONNS=%q", v)
		}
		return n
	}
	return 1000
}

// BenchmarkEchoTimeouts is an echo round trip, 64 bytes, without timeouts
// (plain) and with an idle timeout, a read deadline and a timer moved on
// each request (timeouts), while 0 or benchIdleConns other connections
// are open and idle (with the same timeouts, in the loop's heap). The
// timeouts should cost the round trip little and, on the poll engine,
// allocate nothing; the idle connections should cost it nothing.
func BenchmarkEchoTimeouts(b *testing.B) {
	for _, e := range engines {
		for _, idle := range []int{0, benchIdleConns(b)} {
			for _, mode := range []string{"plain", "timeouts"} {
				b.Run(fmt.Sprintf("%s/idle=%d/%s", e.name, idle, mode), func(b *testing.B) {
					events := reuseEcho()
					if mode == "timeouts" {
						events = timeoutEcho()
					}
					var opened atomic.Int64
					inner := events.Opened
					events.Opened = func(c Conn) ([]byte, Options, Action) {
						opened.Add(1)
						return inner(c)
					}
					addr, stop := benchServer(b, events, e.suffix)
					defer stop()
					idlers := make([]net.Conn, 0, idle)
					defer func() {
						for _, c := range idlers {
							c.Close()
						}
					}()
					for i := 0; i < idle; i++ {
						c, err := net.DialTimeout("tcp", addr.String(), 10*time.Second)
						if err != nil {
							b.Fatalf("idle connection %d: %v", i, err)
						}
						idlers = append(idlers, c)
					}
					c, err := net.Dial("tcp", addr.String())
					if err != nil {
						b.Fatal(err)
					}
					defer c.Close()
					for deadline := time.Now().Add(30 * time.Second); opened.Load() < int64(idle+1); {
						if time.Now().After(deadline) {
							b.Fatalf("%d of %d connections opened", opened.Load(), idle+1)
						}
						time.Sleep(time.Millisecond)
					}
					msg, buf := make([]byte, 64), make([]byte, 64)
					for i := 0; i < 100; i++ { // pools and buffers warm
						if err := roundTrip(c, msg, buf); err != nil {
							b.Fatal(err)
						}
					}
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
	}
}
