package evio_test

import (
	"bufio"
	"errors"
	"fmt"
	"log"
	"net"
	"strings"

	"github.com/evio-go/evio"
)

// The same echo server on the io_uring engine: the -uring scheme suffix
// asks for it. Where the system refuses io_uring (a kernel older than 6.1,
// the io_uring_disabled sysctl, a container's seccomp profile), the server
// runs on epoll (or kqueue) all the same, and Server.EngineFallback says
// why: log it if you want to know.
func Example_ioURing() {
	var events evio.Events
	events.Serving = func(s evio.Server) evio.Action {
		if s.EngineFallback != nil && !errors.Is(s.EngineFallback, evio.ErrIOUringUnavailable) {
			log.Fatal("a fall-back always wraps ErrIOUringUnavailable")
		}
		if s.EngineFallback == nil && s.Engine != "io_uring" {
			log.Fatalf("asked for io_uring, running on %s without saying why", s.Engine)
		}
		go func() {
			c, err := net.Dial("tcp", s.Addrs[0].String())
			if err != nil {
				log.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "over the ring\n")
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
	if err := evio.Serve(events, "tcp-uring://127.0.0.1:0"); err != nil {
		log.Fatal(err)
	}
	// Output: over the ring
}
