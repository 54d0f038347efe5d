// Command echo-server answers every connection with what it sends: TCP by
// default, UDP with -udp, and a unix socket as well with -unixsocket.
//
//	go run ./examples/echo-server -port 5000
//	echo hello | nc -q1 localhost 5000
package main

import (
	"flag"
	"log"
	"os"

	"github.com/evio-go/evio"
	"github.com/evio-go/evio/examples/internal/listenflags"
)

func main() {
	var listen listenflags.Listen
	listen.Register(flag.CommandLine, 5000)
	udp := flag.Bool("udp", false, "echo UDP datagrams instead of TCP streams")
	flag.Parse()
	if err := listen.Check(); err != nil {
		log.Fatal(err)
	}
	scheme := "tcp"
	if *udp {
		scheme = "udp"
	}

	events := evio.Events{NumLoops: listen.Loops, LoadBalance: listen.Balance}
	events.Serving = func(s evio.Server) evio.Action {
		listenflags.ReportFallback(os.Stderr, "echo-server", s)
		for _, a := range s.Addrs {
			log.Printf("echo server listening on %s://%s (loops: %d)", a.Network(), a, s.NumLoops)
		}
		return evio.None
	}
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		return nil, evio.Options{ReuseInputBuffer: true}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		// With ReuseInputBuffer, in is valid only during this call, and the
		// server copies out before it reads again: echoing in is safe.
		return in, evio.None
	}
	if err := evio.Serve(events, listen.Addrs(scheme, "")...); err != nil {
		log.Fatal(err)
	}
}
