// Package listenflags holds the command-line flags that every example
// server shares: the port, the loops and how connections are balanced over
// them, SO_REUSEPORT, the engine, and an optional unix socket.
package listenflags

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/evio-go/evio"
)

// Listen is where and how an example server listens.
type Listen struct {
	Port       int              // 0 picks a free port
	Loops      int              // evio.Events.NumLoops
	Balance    evio.LoadBalance // evio.Events.LoadBalance
	ReusePort  bool             // SO_REUSEPORT on the TCP or UDP listener
	Stdlib     bool             // the portable engine (the -net schemes)
	IOURing    bool             // the io_uring engine (the -uring schemes)
	UnixSocket string           // also listen on this unix socket path when set

	balanceName string // -balance, resolved by Check
}

// Register defines -port, -loops, -balance, -reuseport, -stdlib,
// -io-uring and -unixsocket on fs, writing into l.
func (l *Listen) Register(fs *flag.FlagSet, defaultPort int) {
	fs.IntVar(&l.Port, "port", defaultPort, "port to listen on (0 picks a free one)")
	fs.IntVar(&l.Loops, "loops", 0, "event loops: 0 or 1 for one, -1 for one per CPU")
	fs.StringVar(&l.balanceName, "balance", "random", "load balancing over loops: random, round-robin or least-connections")
	fs.BoolVar(&l.ReusePort, "reuseport", false, "set SO_REUSEPORT so several processes can share the port")
	fs.BoolVar(&l.Stdlib, "stdlib", false, "run on evio's portable engine built on package net")
	fs.BoolVar(&l.IOURing, "io-uring", false, "run on evio's io_uring engine (Linux 6.1 or later; where the system refuses io_uring, epoll runs and the reason is printed to stderr)")
	fs.StringVar(&l.UnixSocket, "unixsocket", "", "also listen on this unix socket path")
}

// Check resolves -balance and checks -port, once the flags are parsed.
func (l *Listen) Check() error {
	if l.balanceName != "" {
		lb, err := ParseBalance(l.balanceName)
		if err != nil {
			return err
		}
		l.Balance, l.balanceName = lb, "" // resolved: a checked Listen compares equal to a literal
	}
	if l.Stdlib && l.IOURing {
		return fmt.Errorf("-stdlib and -io-uring ask for two engines; pick one")
	}
	if l.Port < 0 || l.Port > 65535 {
		return fmt.Errorf("-port %d is out of range", l.Port)
	}
	return nil
}

// Addrs returns the evio addresses to serve: scheme ("tcp" or "udp") on
// host (empty for every interface) and the port, then the unix socket if
// one was asked for; with -net schemes on the portable engine, -uring ones
// on the io_uring engine.
func (l *Listen) Addrs(scheme, host string) []string {
	suffix := ""
	switch {
	case l.Stdlib:
		suffix = "-net"
	case l.IOURing:
		suffix = "-uring"
	}
	addrs := []string{fmt.Sprintf("%s%s://%s?reuseport=%t", scheme, suffix, net.JoinHostPort(host, strconv.Itoa(l.Port)), l.ReusePort)}
	if l.UnixSocket != "" {
		addrs = append(addrs, "unix"+suffix+"://"+l.UnixSocket)
	}
	return addrs
}

// ReportFallback tells w, for the server named name, that io_uring was
// asked for and refused, and why; it says nothing otherwise.
func ReportFallback(w io.Writer, name string, s evio.Server) {
	if s.EngineFallback != nil {
		fmt.Fprintf(w, "%s: running on %s: %v\n", name, s.Engine, s.EngineFallback)
	}
}

// ParseBalance maps the -balance names to evio's load balancing methods.
func ParseBalance(name string) (evio.LoadBalance, error) {
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
