// Command echo-server answers every connection with what it sends: TCP by
// default, UDP with -udp, and a unix socket as well with -unixsocket.
//
//	go run ./examples/echo-server -port 5000
//	echo hello | nc -q1 localhost 5000
package main

import (
	"flag"
	"fmt"
	"log"
	"strings"

	"github.com/evio-go/evio"
)

func main() {
	port := flag.Int("port", 5000, "port to listen on (0 picks a free one)")
	loops := flag.Int("loops", 0, "event loops: 0 or 1 for one, -1 for one per CPU")
	balance := flag.String("balance", "random", "load balancing: random, round-robin or least-connections")
	reuseport := flag.Bool("reuseport", false, "set SO_REUSEPORT so several processes can share the port")
	stdlib := flag.Bool("stdlib", false, "run on the portable engine built on package net")
	udp := flag.Bool("udp", false, "echo UDP datagrams instead of TCP streams")
	unixSocket := flag.String("unixsocket", "", "also listen on this unix socket path")
	flag.Parse()

	lb, err := parseBalance(*balance)
	if err != nil {
		log.Fatal(err)
	}
	scheme := "tcp"
	if *udp {
		scheme = "udp"
	}
	suffix := ""
	if *stdlib {
		suffix = "-net"
	}
	addrs := []string{fmt.Sprintf("%s%s://:%d?reuseport=%t", scheme, suffix, *port, *reuseport)}
	if *unixSocket != "" {
		addrs = append(addrs, fmt.Sprintf("unix%s://%s", suffix, *unixSocket))
	}

	events := evio.Events{NumLoops: *loops, LoadBalance: lb}
	events.Serving = func(s evio.Server) evio.Action {
		for _, a := range s.Addrs {
			log.Printf("echo server listening on %s://%s (loops: %d)", a.Network(), a, s.NumLoops)
		}
		return evio.None
	}
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		return nil, evio.Options{ReuseInputBuffer: true}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		// With ReuseInputBuffer, in is only valid during this call; the
		// server copies out before Data returns control, so echoing it is safe.
		return in, evio.None
	}
	if err := evio.Serve(events, addrs...); err != nil {
		log.Fatal(err)
	}
}

func parseBalance(name string) (evio.LoadBalance, error) {
	switch strings.ToLower(name) {
	case "random":
		return evio.Random, nil
	case "round-robin", "roundrobin":
		return evio.RoundRobin, nil
	case "least-connections", "leastconnections":
		return evio.LeastConnections, nil
	}
	return 0, fmt.Errorf("unknown -balance %q: want random, round-robin or least-connections", name)
}
