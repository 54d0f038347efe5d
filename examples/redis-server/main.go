// Command redis-server is a Redis-compatible key-value server built on
// evio: the string commands, key expiry, and an optional append-only file,
// spoken in RESP2 over TCP and unix sockets, so that redis-cli,
// redis-benchmark and client libraries such as go-redis use it as they
// would use Redis.
//
//	go run ./examples/redis-server -port 6380
//	redis-cli -p 6380 SET greeting hello
//	redis-benchmark -p 6380 -q -t set,get -P 16
//
// It prints one line per address it listens on, "listening on
// tcp://[::]:6380", so that a script starting it with -port 0 can read the
// port the system chose.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/evio-go/evio"
)

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		log.Fatal(err)
	}
	cfg.logf = log.Printf
	cfg.onAOFFailure = func(err error) {
		log.Fatalf("cannot write the append-only file with appendfsync always: %v; exiting rather than acknowledge writes that are not on disk", err)
	}
	srv, err := newServer(cfg)
	if err != nil {
		log.Fatal(err)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		srv.stop()
	}()
	err = srv.serve(func(addrs []net.Addr, loops int) {
		for _, a := range addrs {
			fmt.Printf("listening on %s://%s (loops: %d)\n", a.Network(), a, loops)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
}

// parseFlags reads the command line into a config.
func parseFlags(args []string, output io.Writer) (config, error) {
	fs := flag.NewFlagSet("redis-server", flag.ContinueOnError)
	fs.SetOutput(output)
	var cfg config
	fs.StringVar(&cfg.bind, "bind", "", "address to listen on (empty: every interface)")
	fs.IntVar(&cfg.port, "port", 6380, "TCP port to listen on (0 picks a free one)")
	fs.IntVar(&cfg.loops, "loops", 0, "event loops: 0 or 1 for one, -1 for one per CPU")
	balance := fs.String("balance", "random", "load balancing over loops: random, round-robin or least-connections")
	fs.BoolVar(&cfg.reusePort, "reuseport", false, "set SO_REUSEPORT so several processes can share the port")
	fs.BoolVar(&cfg.stdlib, "stdlib", false, "run on evio's portable engine built on package net")
	fs.StringVar(&cfg.unixSocket, "unixsocket", "", "also listen on this unix socket path")
	fs.StringVar(&cfg.aofPath, "aof", "", "append-only file: log every write there and replay it at start")
	fsync := fs.String("appendfsync", "everysec", "when to sync the append-only file: always, everysec or no")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	var err error
	if cfg.balance, err = parseBalance(*balance); err != nil {
		return cfg, err
	}
	if cfg.appendFsync, err = parseFsyncPolicy(*fsync); err != nil {
		return cfg, err
	}
	if cfg.port < 0 || cfg.port > 65535 {
		return cfg, fmt.Errorf("-port %d is out of range", cfg.port)
	}
	return cfg, nil
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
