package evio_test

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/evio-go/evio"
)

// An echo server that answers one client and shuts down. Real servers run
// until an event returns evio.Shutdown.
func Example() {
	var events evio.Events
	events.Serving = func(s evio.Server) evio.Action {
		// Serve is running: talk to it from another goroutine.
		go func() {
			c, err := net.Dial("tcp", s.Addrs[0].String())
			if err != nil {
				log.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "hello\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			fmt.Print(line)
			fmt.Fprintf(c, "quit\n")
		}()
		return evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		if strings.TrimSpace(string(in)) == "quit" {
			return nil, evio.Shutdown
		}
		return in, evio.None
	}
	if err := evio.Serve(events, "tcp://127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	// Output: hello
}

// Pushing data to a connection from another goroutine: queue it, then Wake
// the connection and return it from Data(c, nil).
func ExampleConn_Wake() {
	type outbox struct {
		mu      sync.Mutex
		pending []byte
	}
	var events evio.Events
	events.Serving = func(s evio.Server) evio.Action {
		go func() {
			c, err := net.Dial("tcp", s.Addrs[0].String())
			if err != nil {
				log.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			for i := 0; i < 3; i++ {
				line, _ := r.ReadString('\n')
				fmt.Print(line)
			}
			fmt.Fprintf(c, "done")
		}()
		return evio.None
	}
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		box := &outbox{}
		c.SetContext(box)
		go func() { // a producer elsewhere in the program
			for i := 1; i <= 3; i++ {
				box.mu.Lock()
				box.pending = append(box.pending, fmt.Sprintf("tick %d\n", i)...)
				box.mu.Unlock()
				c.Wake()
				time.Sleep(time.Millisecond)
			}
		}()
		return nil, evio.Options{}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		if in != nil {
			return nil, evio.Shutdown // the client said it is done
		}
		box := c.Context().(*outbox)
		box.mu.Lock()
		defer box.mu.Unlock()
		out := box.pending
		box.pending = nil
		return out, evio.None
	}
	if err := evio.Serve(events, "tcp://127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	// Output:
	// tick 1
	// tick 2
	// tick 3
}

// Framing a line protocol across reads with InputStream.
func ExampleInputStream() {
	var is evio.InputStream
	for _, packet := range []string{"GET a", "\nGET b\nGE", "T c\n"} {
		data := is.Begin([]byte(packet))
		for {
			i := strings.IndexByte(string(data), '\n')
			if i < 0 {
				break
			}
			fmt.Printf("command %q\n", data[:i])
			data = data[i+1:]
		}
		is.End(data)
	}
	// Output:
	// command "GET a"
	// command "GET b"
	// command "GET c"
}
