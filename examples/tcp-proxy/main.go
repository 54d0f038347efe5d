// Command tcp-proxy is a TCP proxy built on evio: every connection it
// accepts is joined to a new connection to one backend, and bytes flow both
// ways unchanged.
//
//	go run ./examples/redis-server -port 6380 &
//	go run ./examples/tcp-proxy -port 7000 -backend 127.0.0.1:6380
//	redis-benchmark -p 7000 -q -t set,get
//
// It prints one line per address it listens on, "listening on
// tcp://[::]:7000 (loops: 1)", so that a script starting it with -port 0
// can read the port the system chose, and stops on SIGINT or SIGTERM.
//
// How a connection is proxied:
//
//   - In the client's Opened, the backend is dialed with Handle.Dial, on the
//     client's loop (DialOptions.Loop), so that the events of both sides
//     never run concurrently, with a small pair struct, which both
//     connections keep as their Context, linking them. The dial is bounded
//     by -connect-timeout.
//   - The client is not read until the backend has connected (its Opened
//     resumes the client): what a client sends early waits in the kernel's
//     buffers, not in the proxy.
//   - What one side sends is written to the other (Conn.Write). Back-pressure
//     works both ways: both sides have an output high mark (256 KiB) and low
//     mark (64 KiB); when a write leaves the other side's queue at or above
//     its high mark, this side stops being read (PauseRead), and TCP flow
//     control holds its peer back; when the other side's queue falls below
//     its low mark (its Drained event), this side is read again. A slow
//     client therefore never makes the proxy hold the backend's whole
//     stream, nor a slow backend the client's: each direction holds at most
//     about the high mark plus one read.
//   - Half-close passes through: when one peer sends its FIN (HalfClosed),
//     the other side's sending side is shut down (Conn.CloseWrite) once what
//     is queued for it has been written, and the connections stay open the
//     other way. When both peers have sent their FIN, both connections
//     close.
//   - Resets pass through: when one side closes with an error (a reset from
//     its peer, a failed or timed-out dial of the backend, a socket error),
//     the other side is aborted (Conn.Abort): its peer sees a reset, not an
//     end of stream it could take for a complete reply, and what was queued
//     for it is dropped. When one side closes cleanly, the other is closed
//     gracefully (Conn.Close), after what is queued for it.
//   - A backend that cannot be reached (refused, or no answer within
//     -connect-timeout) therefore resets the client.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/evio-go/evio"
	"github.com/evio-go/evio/examples/internal/listenflags"
)

// config is what the command line sets.
type config struct {
	bind string // address to listen on; "" for every interface
	listenflags.Listen
	backend        string
	connectTimeout time.Duration
	highWater      int
	lowWater       int
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		log.Fatal(err)
	}
	px, err := start(cfg, func(addrs []net.Addr, loops int) {
		for _, a := range addrs {
			fmt.Printf("listening on %s://%s (loops: %d)\n", a.Network(), a, loops)
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		sig := <-signals
		log.Printf("received %v: stopping", sig)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := px.handle.Stop(ctx); err != nil {
			log.Printf("stopping: %v", err)
		}
	}()
	if err := px.handle.Wait(); err != nil {
		log.Fatal(err)
	}
}

// parseFlags reads the command line into a config.
func parseFlags(args []string, output io.Writer) (config, error) {
	fs := flag.NewFlagSet("tcp-proxy", flag.ContinueOnError)
	fs.SetOutput(output)
	var cfg config
	fs.StringVar(&cfg.bind, "bind", "", "address to listen on (empty: every interface)")
	cfg.Register(fs, 7000)
	fs.StringVar(&cfg.backend, "backend", "", "the backend's host:port (required)")
	fs.DurationVar(&cfg.connectTimeout, "connect-timeout", 5*time.Second, "how long a connect to the backend may take")
	fs.IntVar(&cfg.highWater, "high-water", 256<<10, "bytes queued for one side at which the other side stops being read")
	fs.IntVar(&cfg.lowWater, "low-water", 64<<10, "bytes queued below which the other side is read again")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := cfg.Check(); err != nil {
		return cfg, err
	}
	if cfg.backend == "" {
		return cfg, errors.New("-backend host:port is required")
	}
	if cfg.connectTimeout < 0 {
		return cfg, fmt.Errorf("-connect-timeout %v: must not be negative", cfg.connectTimeout)
	}
	if cfg.highWater <= 0 || cfg.lowWater <= 0 || cfg.lowWater > cfg.highWater {
		return cfg, fmt.Errorf("-high-water %d, -low-water %d: want 0 < low <= high", cfg.highWater, cfg.lowWater)
	}
	return cfg, nil
}

// start starts the proxy, calling serving with its addresses before any
// connection is served, and returns it once it runs.
func start(cfg config, serving func(addrs []net.Addr, loops int)) (*proxy, error) {
	px := &proxy{
		backend:        cfg.backend,
		connectTimeout: cfg.connectTimeout,
		highWater:      cfg.highWater,
		lowWater:       cfg.lowWater,
		ready:          make(chan struct{}),
	}
	events := px.events(cfg.Loops, cfg.Balance)
	events.Serving = func(s evio.Server) evio.Action {
		if serving != nil {
			serving(s.Addrs, s.NumLoops)
		}
		return evio.None
	}
	h, err := evio.Start(events, cfg.Addrs("tcp", cfg.bind)...)
	px.handle = h
	close(px.ready) // a client accepted meanwhile dials now, or is aborted
	if err != nil {
		return nil, err
	}
	return px, nil
}
