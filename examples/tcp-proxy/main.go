// Command tcp-proxy is a TCP proxy built on evio: every connection it
// accepts is joined to a new connection to one backend, and bytes flow both
// ways unchanged.
//
//	go run ./examples/redis-server -port 6380 &
//	go run ./examples/tcp-proxy -port 7000 -backend 127.0.0.1:6380
//	redis-benchmark -p 7000 -q -t set,get
//
// It prints one line per address it listens on, "listening on
// tcp://[::]:7000 (loops: 1)" (with ", tls" inside the parentheses when
// it terminates TLS), so that a script starting it with -port 0 can read
// the port the system chose, and stops on SIGINT or SIGTERM.
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
//
// TLS termination, as stunnel or hitch do it: with -tls-cert-file and
// -tls-key-file the listener speaks TLS (evio's Events.TLSConfig) and the
// backend gets the plaintext. The backend is dialed only once a client's
// handshake is done (Opened fires then), so a client that never finishes
// its handshake costs no backend connection, and -tls-handshake-timeout
// bounds how long it may take. Everything above holds over TLS: a client's
// close_notify is its end of stream, passed on as a FIN to the backend,
// and the backend's FIN is passed on as close_notify (then a FIN) to the
// client. With -backend-tls the backend is dialed over TLS as well,
// verified against -backend-ca-file (or the system's roots), its handshake
// bounded by -connect-timeout as the connect is:
//
//	go run ./examples/tcp-proxy -port 7443 -backend 127.0.0.1:6380 \
//		-tls-cert-file server.crt -tls-key-file server.key
//	redis-cli --tls --cacert ca.crt -p 7443 PING
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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

	tlsCertFile, tlsKeyFile string        // both set: the listener speaks TLS
	tlsHandshakeTimeout     time.Duration // evio.Events.TLSHandshakeTimeout; 0: evio's 10 s
	backendTLS              bool          // dial the backend over TLS
	backendCAFile           string        // verify the backend against this CA; "": the system's roots
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		log.Fatal(err)
	}
	px, err := start(cfg, func(addrs []net.Addr, loops int, useTLS bool) {
		extra := ""
		if useTLS {
			extra = ", tls"
		}
		for _, a := range addrs {
			fmt.Printf("listening on %s://%s (loops: %d%s)\n", a.Network(), a, loops, extra)
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
	fs.StringVar(&cfg.tlsCertFile, "tls-cert-file", "", "PEM certificate (chain) of the listener: with -tls-key-file, clients speak TLS")
	fs.StringVar(&cfg.tlsKeyFile, "tls-key-file", "", "PEM private key of -tls-cert-file")
	fs.DurationVar(&cfg.tlsHandshakeTimeout, "tls-handshake-timeout", 10*time.Second, "how long a TLS handshake may take: a client's, or the backend's with -backend-tls (which -connect-timeout bounds too)")
	fs.BoolVar(&cfg.backendTLS, "backend-tls", false, "dial the backend over TLS")
	fs.StringVar(&cfg.backendCAFile, "backend-ca-file", "", "PEM CA certificates to verify the backend with (-backend-tls; default: the system's)")
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
	if (cfg.tlsCertFile == "") != (cfg.tlsKeyFile == "") {
		return cfg, errors.New("-tls-cert-file and -tls-key-file go together: give both or neither")
	}
	if cfg.tlsHandshakeTimeout <= 0 {
		return cfg, fmt.Errorf("-tls-handshake-timeout %v: must be positive", cfg.tlsHandshakeTimeout)
	}
	if cfg.backendCAFile != "" && !cfg.backendTLS {
		return cfg, errors.New("-backend-ca-file needs -backend-tls")
	}
	return cfg, nil
}

// tlsConfigs loads the listener's certificate and the backend's CA, as the
// flags ask: nil for a side that does not speak TLS.
func (cfg config) tlsConfigs() (listener, backend *tls.Config, err error) {
	if cfg.tlsCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.tlsCertFile, cfg.tlsKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("-tls-cert-file, -tls-key-file: %w", err)
		}
		// No NextProtos: the proxy does not know the backend's protocol,
		// so it must not agree to one (an HTTPS client offered h2 would
		// speak HTTP/2 to an HTTP/1.1 backend). Without ALPN, clients keep
		// to the protocol they would speak in plain.
		listener = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	if cfg.backendTLS {
		backend = &tls.Config{} // the system's roots; Dial verifies the host of -backend
		if cfg.backendCAFile != "" {
			pem, err := os.ReadFile(cfg.backendCAFile)
			if err != nil {
				return nil, nil, fmt.Errorf("-backend-ca-file: %w", err)
			}
			backend.RootCAs = x509.NewCertPool()
			if !backend.RootCAs.AppendCertsFromPEM(pem) {
				return nil, nil, fmt.Errorf("-backend-ca-file %s: no PEM certificate in it", cfg.backendCAFile)
			}
		}
	}
	return listener, backend, nil
}

// start starts the proxy, calling serving with its addresses before any
// connection is served, and returns it once it runs.
func start(cfg config, serving func(addrs []net.Addr, loops int, useTLS bool)) (*proxy, error) {
	listenerTLS, backendTLS, err := cfg.tlsConfigs()
	if err != nil {
		return nil, err
	}
	px := &proxy{
		backend:        cfg.backend,
		connectTimeout: cfg.connectTimeout,
		highWater:      cfg.highWater,
		lowWater:       cfg.lowWater,
		backendTLS:     backendTLS,
		ready:          make(chan struct{}),
	}
	events := px.events(cfg.Loops, cfg.Balance)
	events.TLSConfig = listenerTLS
	events.TLSHandshakeTimeout = cfg.tlsHandshakeTimeout
	events.Serving = func(s evio.Server) evio.Action {
		listenflags.ReportFallback(os.Stderr, "tcp-proxy", s)
		if serving != nil {
			serving(s.Addrs, s.NumLoops, listenerTLS != nil)
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
