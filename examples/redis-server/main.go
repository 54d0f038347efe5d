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
// port the system chose; the TLS port's line says tls:// instead.
//
//	go run ./examples/redis-server -port 6380 -tls-port 6381 \
//		-tls-cert-file server.crt -tls-key-file server.key -tls-ca-cert-file ca.crt
//	redis-cli --tls --cacert ca.crt --cert client.crt --key client.key -p 6381 PING
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
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
		sig := <-signals
		log.Printf("received %v: stopping", sig)
		if err := srv.stop(); err != nil {
			log.Printf("stopping: %v", err)
		}
	}()
	err = srv.serve(func(addrs []boundAddr, loops int) {
		for _, a := range addrs {
			fmt.Println(listeningLine(a, loops))
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
	cfg.Register(fs, 6380)
	fs.StringVar(&cfg.aofPath, "aof", "", "append-only file: log every write there and replay it at start")
	fsync := fs.String("appendfsync", "everysec", "when to sync the append-only file: always, everysec or no")
	timeout := fs.Int("timeout", 0, "close a client after it is idle for this many seconds (0: never), as Redis's timeout")
	cfg.tls.register(fs)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := cfg.Check(); err != nil {
		return cfg, err
	}
	if err := cfg.tls.checkAuthClients(); err != nil {
		return cfg, err
	}
	// Redis's port 0 with a TLS port serves TLS only; without one, -port
	// 0 keeps its meaning here, a free port, which scripts and tests rely
	// on (Redis would listen on no TCP port at all).
	cfg.noPlainTCP = cfg.tls.enabled() && cfg.Port == 0
	if *timeout < 0 {
		return cfg, fmt.Errorf("-timeout %d: must be 0 or more seconds", *timeout)
	}
	cfg.idleTimeout = time.Duration(*timeout) * time.Second
	var err error
	if cfg.appendFsync, err = parseFsyncPolicy(*fsync); err != nil {
		return cfg, err
	}
	return cfg, nil
}
