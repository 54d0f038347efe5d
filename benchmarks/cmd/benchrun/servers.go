package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Protocols a server speaks; a workload needs one.
const (
	protoEcho  = "echo"
	protoHTTP  = "http"
	protoRedis = "redis"
	// protoUDP is a UDP echo: each datagram back to its sender.
	protoUDP = "udp"
)

// Names of the reference servers the ratios are taken against.
const (
	refGnet  = "gnet"
	refFloor = "c-floor"
	ours     = "evio"
	// refBaseline is this library at an earlier revision (run.sh's
	// BASELINE); only evio's figures are divided by it.
	refBaseline = "evio-baseline"
	// refURing is this library on its io_uring engine, and refURingFloor
	// the C server that is its floor.
	refURing      = "evio-uring"
	refURingFloor = "c-uring"
	// refUnbatched is this library built with -tags evio_nommsg: one
	// recvfrom and one sendto per datagram, what its UDP batches
	// (recvmmsg, sendmmsg) are measured against.
	refUnbatched = "evio-unbatched"
)

// server is one row of the tables: a program per protocol it speaks.
type server struct {
	name string
	// what says in one line what the row is, for the results.
	what string
	// argv returns the command line for proto on port, or nil if the
	// server does not speak proto. stats is the -stats file for Go servers.
	argv    func(proto string, port int, stats string) []string
	goStats bool // the server answers SIGUSR1 with allocation counters
	// lenient servers were not written for the harness: their HTTP
	// responses need not carry exactly the harness's headers.
	lenient bool
}

// goServer is a row made of the Go programs bin/<prefix>-<proto>.
func goServer(name, what, bin string, programs map[string]string) server {
	return server{
		name:    name,
		what:    what,
		goStats: true,
		argv: func(proto string, port int, stats string) []string {
			prog, ok := programs[proto]
			if !ok {
				return nil
			}
			return []string{filepath.Join(bin, prog), "-port", strconv.Itoa(port), "-loops", "1", "-stats", stats}
		},
	}
}

// withArgs adds arguments to the command lines of s.
func withArgs(s server, args ...string) server {
	inner := s.argv
	s.argv = func(proto string, port int, stats string) []string {
		a := inner(proto, port, stats)
		if a == nil {
			return nil
		}
		return append(a, args...)
	}
	return s
}

// allServers lists the rows in table order. The example servers of the
// evio repository are a row with examples, once run.sh has built them; the
// baseline is a row whenever run.sh built bin/baseline-* (BASELINE set),
// and baselineRev names the revision they were built from.
func allServers(bin string, examples bool, baselineRev string) []server {
	ss := []server{
		goServer(ours, "this library, github.com/evio-go/evio, Options{ReuseInputBuffer: true}; UDP in batches (recvmmsg, sendmmsg)", bin,
			map[string]string{protoEcho: "evio-echo", protoHTTP: "evio-http", protoRedis: "evio-redis", protoUDP: "evio-udp"}),
		goServer(refUnbatched, "this library's UDP echo built with -tags evio_nommsg: one recvfrom and one sendto per datagram", bin,
			map[string]string{protoUDP: "evio-udp-unbatched"}),
		withArgs(goServer(refURing, "this library on its io_uring engine (-uring scheme suffix), the same servers as evio's", bin,
			map[string]string{protoEcho: "evio-echo", protoHTTP: "evio-http", protoRedis: "evio-redis", protoUDP: "evio-udp"}), "-engine", "uring"),
		goServer("tidwall-evio", "github.com/tidwall/evio v1.0.8, the same server code as evio's", bin,
			map[string]string{protoEcho: "tidwall-echo", protoHTTP: "tidwall-http", protoRedis: "tidwall-redis"}),
		goServer(refGnet, "github.com/panjf2000/gnet/v2, one event loop", bin,
			map[string]string{protoEcho: "gnet-echo", protoHTTP: "gnet-http", protoRedis: "gnet-redis", protoUDP: "gnet-udp"}),
		goServer("go-net", "Go's net package, a goroutine per connection (echo: io.Copy; redis and idle: read, execute, one write)", bin,
			map[string]string{protoEcho: "net-echo", protoRedis: "net-redis"}),
		goServer("net/http", "Go's net/http server", bin, map[string]string{protoHTTP: "net-http"}),
		goServer("fasthttp", "github.com/valyala/fasthttp server", bin, map[string]string{protoHTTP: "fasthttp"}),
		{
			name: "redis",
			what: "the real Redis (Debian's redis-server), no persistence",
			argv: func(proto string, port int, _ string) []string {
				if proto != protoRedis {
					return nil
				}
				return []string{"redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
					"--save", "", "--appendonly", "no", "--protected-mode", "no",
					"--maxclients", "20000", "--dir", os.TempDir()}
			},
		},
		{
			name: refFloor,
			what: "single-threaded C epoll server (cfloor/floor.c), gcc -O2: the floor (UDP: one recvfrom and one sendto per datagram)",
			argv: func(proto string, port int, _ string) []string {
				return []string{filepath.Join(bin, "floor"), "-port", strconv.Itoa(port), "-loops", "1", "-mode", proto}
			},
		},
		{
			name: refURingFloor,
			what: "single-threaded C io_uring server (cfloor/uring.c, liburing; the same answers as c-floor), gcc -O2: the io_uring floor",
			argv: func(proto string, port int, _ string) []string {
				if proto == protoUDP {
					return nil // TCP only
				}
				return []string{filepath.Join(bin, "uring-floor"), "-port", strconv.Itoa(port), "-loops", "1", "-mode", proto}
			},
		},
	}
	// The full example servers of the repository, when run.sh built them.
	progs := map[string]string{}
	for proto, prog := range map[string]string{protoHTTP: "example-http-server", protoRedis: "example-redis-server"} {
		if _, err := os.Stat(filepath.Join(bin, prog)); err == nil {
			progs[proto] = prog
		}
	}
	if examples && len(progs) > 0 {
		ex := goServer("evio-examples", "evio's examples/http-server and examples/redis-server (full servers, not written for the harness)", bin, progs)
		// They have no -stats flag: run them as they are.
		inner := ex.argv
		ex.argv = func(proto string, port int, stats string) []string {
			a := inner(proto, port, stats)
			if a == nil {
				return nil
			}
			return a[:len(a)-2]
		}
		ex.goStats, ex.lenient = false, true
		ss = append(ss[:1], append([]server{ex}, ss[1:]...)...)
	}
	// The baseline goes right after evio, since evio's figures are read
	// against it.
	if progs := baselinePrograms(bin); len(progs) > 0 {
		rev := baselineRev
		if rev == "" {
			rev = "unknown (no -baseline-rev)"
		}
		base := goServer(refBaseline, "this library at revision "+rev+" (BASELINE)", bin, progs)
		ss = append(ss[:1], append([]server{base}, ss[1:]...)...)
	}
	return ss
}

// baselinePrograms lists the baseline servers run.sh built, by protocol: a
// revision may lack some of them.
func baselinePrograms(bin string) map[string]string {
	progs := map[string]string{}
	for _, proto := range []string{protoEcho, protoHTTP, protoRedis} {
		prog := "baseline-" + proto
		if _, err := os.Stat(filepath.Join(bin, prog)); err == nil {
			progs[proto] = prog
		}
	}
	return progs
}

// idleProto is the protocol used to hold idle connections to s: Redis when
// it speaks it, which every server but the HTTP-only ones does (so the real
// Redis is compared too), else HTTP. Not echo: Go's io.Copy echo server
// holds a splice pipe, two more descriptors, per blocked connection, and
// 10,000 of them do not fit a 20,000-descriptor limit.
func idleProto(s server) string {
	for _, p := range []string{protoRedis, protoHTTP} {
		if s.argv(p, 1, "x") != nil {
			return p
		}
	}
	return ""
}

func (s server) String() string { return fmt.Sprintf("%s (%s)", s.name, s.what) }
