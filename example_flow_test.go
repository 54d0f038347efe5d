package evio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"github.com/evio-go/evio"
)

// runClient serves events until client, run on its own goroutine with the
// server's address, returns.
func runClient(events evio.Events, client func(addr string)) {
	done := make(chan struct{})
	events.Serving = func(s evio.Server) evio.Action {
		go func() {
			client(s.Addrs[0].String())
			close(done)
		}()
		return evio.None
	}
	events.Tick = func() (time.Duration, evio.Action) {
		select {
		case <-done:
			return 0, evio.Shutdown
		default:
			return 10 * time.Millisecond, evio.None
		}
	}
	if err := evio.Serve(events, "tcp://127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
}

// A client must send its request within a deadline; one that does not is
// closed, and Closed says why.
func ExampleConn_SetReadDeadline() {
	closed := make(chan error, 1)
	var events evio.Events
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		return nil, evio.Options{}, evio.None
	}
	events.Closed = func(c evio.Conn, err error) evio.Action {
		closed <- err
		return evio.None
	}
	runClient(events, func(addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		err = <-closed // the client sent nothing
		fmt.Println(errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, evio.ErrReadDeadline))
	})
	// Output: true true
}

// A timer of a connection returns output and an action, like Data.
func ExampleConn_AfterFunc() {
	var events evio.Events
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		c.AfterFunc(20*time.Millisecond, func() ([]byte, evio.Action) {
			return []byte("later\n"), evio.Close
		})
		return []byte("now\n"), evio.Options{}, evio.None
	}
	runClient(events, func(addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		all, _ := io.ReadAll(c)
		fmt.Print(string(all))
	})
	// Output:
	// now
	// later
}

// A large reply produced in steps: a piece at a time while the queue is
// below the high mark, the next one when Drained says it fell below the
// low mark. The server never holds more than a mark and a piece.
func ExampleEvents_drained() {
	const total, piece = 4 << 20, 64 << 10
	type stream struct{ left int }
	produce := func(c evio.Conn) ([]byte, evio.Action) {
		s := c.Context().(*stream)
		var out []byte
		for s.left > 0 && c.QueuedOutput()+len(out) < 256<<10 {
			out = append(out, bytes.Repeat([]byte("x"), piece)...)
			s.left -= piece
		}
		if s.left == 0 {
			return out, evio.Close
		}
		return out, evio.None
	}
	var events evio.Events
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		c.SetContext(&stream{left: total})
		out, action := produce(c)
		return out, evio.Options{OutputHighWater: 256 << 10, OutputLowWater: 64 << 10}, action
	}
	events.Drained = produce
	runClient(events, func(addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		fmt.Println(n == total)
	})
	// Output: true
}

// A peer that finishes sending (CloseWrite, shutdown(SHUT_WR)) still gets
// the reply to what it sent.
func ExampleEvents_halfClosed() {
	var events evio.Events
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		buf, _ := c.Context().([]byte)
		c.SetContext(append(buf, in...))
		return nil, evio.None
	}
	events.HalfClosed = func(c evio.Conn) ([]byte, evio.Action) {
		buf, _ := c.Context().([]byte)
		return bytes.ToUpper(buf), evio.Close
	}
	runClient(events, func(addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("hello, "))
		c.Write([]byte("world"))
		c.(*net.TCPConn).CloseWrite()
		all, _ := io.ReadAll(c)
		fmt.Println(string(all))
	})
	// Output: HELLO, WORLD
}

// Reading paused while something else catches up, then resumed: what the
// peer sent meanwhile arrives then, in order.
func ExampleConn_PauseRead() {
	var events evio.Events
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		c.PauseRead()
		c.AfterFunc(50*time.Millisecond, func() ([]byte, evio.Action) {
			c.ResumeRead()
			return []byte("resumed\n"), evio.None
		})
		return nil, evio.Options{}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		return in, evio.Close
	}
	runClient(events, func(addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("sent while paused\n"))
		all, _ := io.ReadAll(c)
		fmt.Print(string(all))
	})
	// Output:
	// resumed
	// sent while paused
}

// A server started in the background and stopped from outside, with a
// deadline for writing what is queued.
func ExampleStart() {
	var events evio.Events
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) { return in, evio.None }
	h, err := evio.Start(events, "tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	c, err := net.Dial("tcp", h.Addrs()[0].String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("echo\n"))
	line := make([]byte, 5)
	io.ReadFull(c, line)
	fmt.Print(string(line))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(h.Stop(ctx))
	// Output:
	// echo
	// <nil>
}

// Pushing to a connection from another goroutine: Write copies the bytes
// and wakes the loop; Close closes after everything written.
func ExampleConn_Write() {
	var events evio.Events
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		go func() {
			for i := 1; i <= 3; i++ {
				c.Write([]byte(fmt.Sprintf("update %d\n", i)))
			}
			c.Close()
		}()
		return nil, evio.Options{}, evio.None
	}
	runClient(events, func(addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		all, _ := io.ReadAll(c)
		fmt.Print(string(all))
	})
	// Output:
	// update 1
	// update 2
	// update 3
}

// The counters in Prometheus's text format, for a /metrics page (expvar
// works the same way: expvar.Func(func() any { return h.Counters() })).
func ExampleHandle_Counters() {
	var events evio.Events
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) { return in, evio.Close }
	h, err := evio.Start(events, "tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer h.Stop(context.Background())
	c, err := net.Dial("tcp", h.Addrs()[0].String())
	if err != nil {
		log.Fatal(err)
	}
	c.Write([]byte("hi"))
	io.ReadAll(c)
	c.Close()
	for h.Counters().Closed < 1 { // published at the end of the loop's iteration
		time.Sleep(time.Millisecond)
	}
	n := h.Counters()
	fmt.Printf("evio_connections_accepted_total %d\n", n.Accepted)
	fmt.Printf("evio_connections_closed_total %d\n", n.Closed)
	fmt.Printf("evio_connections_open %d\n", n.Open)
	fmt.Printf("evio_bytes_received_total %d\n", n.BytesIn)
	// Output:
	// evio_connections_accepted_total 1
	// evio_connections_closed_total 1
	// evio_connections_open 0
	// evio_bytes_received_total 2
}

// An outbound connection on the server's loops: Opened fires when it has
// connected, and its events are those of an accepted connection.
func ExampleHandle_Dial() {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer backend.Close()
	go func() {
		c, err := backend.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // an echo server
	}()
	got := make(chan string, 1)
	var events evio.Events
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		return []byte("hello backend"), evio.Options{}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		got <- string(in)
		return nil, evio.Close
	}
	h, err := evio.Start(events, "tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer h.Stop(context.Background())
	if _, err := h.Dial("tcp://"+backend.Addr().String(), evio.DialOptions{Timeout: 5 * time.Second}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got)
	// Output: hello backend
}
