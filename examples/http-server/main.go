// Command http-server is an HTTP/1.1 and HTTP/1.0 server on evio. It parses
// requests properly (RFC 9110/9112: request line, header fields,
// Content-Length and chunked bodies with extensions and trailers,
// keep-alive, pipelining, Expect: 100-continue, HEAD) and answers
//
//	/          Hello, World! (text/plain), whatever the method
//	/echo      the request body (application/octet-stream)
//	OPTIONS *  200, empty
//	elsewhere  404
//
// Refusals close the connection after the response: a malformed request
// line or header field gets 400, a head over 8 KiB 431 (414 for the request
// line alone), a body over -maxbody 413 (decided from Content-Length
// before reading, or from each chunk size), a transfer coding other than
// chunked 501, and Content-Length with Transfer-Encoding 400. Bodies are
// buffered only for /echo and only as their bytes arrive.
//
// Three timeouts, nginx's, bound how long a client may hold a connection
// without making progress; each flag takes a Go duration, and 0 or a
// negative value turns that timeout off:
//
//	-header-timeout 10s     a request head must be complete this long after
//	                        its first byte arrived, however the rest trickles
//	                        in (a slowloris client gains nothing by sending
//	                        a byte at a time): then 408 Request Timeout with
//	                        Connection: close, and the connection closes
//	                        (nginx: client_header_timeout, 60s there)
//	-body-timeout 60s       the longest pause between two reads of a request
//	                        body (not a bound on the whole body): then 408
//	                        and close (nginx: client_body_timeout)
//	-keepalive-timeout 75s  a connection with no request under way and
//	                        nothing left to write, after a response or since
//	                        it opened, is closed this long after, without a
//	                        response (nginx: keepalive_timeout)
//
// HTTPS: with -tls-cert-file and -tls-key-file (PEM files, as nginx's
// ssl_certificate and ssl_certificate_key; both or neither) every listener,
// the -unixsocket one too, speaks TLS through evio's Events.TLSConfig, with
// HTTP/1.1 as the only protocol offered to ALPN (so that a client that would
// rather speak HTTP/2 settles for HTTP/1.1) and everything above unchanged:
// keep-alive, pipelining, the refusals and the timeouts. The handshake is
// bounded by -header-timeout, as nginx bounds it by client_header_timeout
// (by evio's 10 s when that timeout is off), and the keep-alive timeout of
// a new connection starts once its handshake is done. A plaintext request
// sent to the TLS port fails the handshake and the connection closes
// without a response.
//
// A connection that opens and sends nothing meets the keep-alive timeout,
// not the header timeout, and gets no 408. Empty lines between requests
// start no request either: they earn no 408 and do not restart the
// keep-alive timeout.
// While responses are still queued for a client that reads slowly, the
// keep-alive timeout waits (looking again every quarter of it, at least
// once a second) and then counts from when they have gone, as nginx starts
// it after the response is sent. Nothing bounds how long a client may take
// to read a response: nginx's send_timeout has no counterpart here.
//
//	go run ./examples/http-server -port 8080
//	go run ./examples/http-server -header-timeout 5s -keepalive-timeout 0
//	go run ./examples/http-server -port 8443 -tls-cert-file server.crt -tls-key-file server.key
//	curl -sS localhost:8080/
//	curl -sS --data-binary @file localhost:8080/echo
//	wrk -t2 -c16 -d5s -s examples/http-server/pipeline.lua http://127.0.0.1:8080/
//	curl -sS --cacert ca.crt https://localhost:8443/
//
// It prints one line per listener, "http-server: listening on
// tcp://[::]:8080 (loops: 1)" (ending "(loops: 1, TLS)" for HTTPS), which
// a script can parse for the port that -port 0 picked
// (scripts/http-clients.sh does). SIGINT or SIGTERM shut it
// down cleanly.
package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/evio-go/evio/examples/internal/listenflags"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/evio-go/evio"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2)
	}
	stop := make(chan struct{})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		close(stop)
	}()
	if err := run(cfg, os.Stdout, stop); err != nil {
		log.Fatal(err)
	}
}

// parseFlags reads the command line into a config. Errors and -help go to
// stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("http-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	fs.StringVar(&cfg.host, "host", "", "interface to listen on (empty: all)")
	cfg.Register(fs, 8080)
	fs.Int64Var(&cfg.maxBody, "maxbody", defaultMaxBody, "largest request body accepted, in bytes")
	fs.DurationVar(&cfg.timeouts.header, "header-timeout", defaultHeaderTimeout,
		"time a request head may take from its first byte to its end; then 408 and close (0 or less: none)")
	fs.DurationVar(&cfg.timeouts.body, "body-timeout", defaultBodyTimeout,
		"longest pause between two reads of a request body; then 408 and close (0 or less: none)")
	fs.DurationVar(&cfg.timeouts.keepAlive, "keepalive-timeout", defaultKeepAliveTimeout,
		"time a connection may wait for its next (or first) request once its responses are written; then close (0 or less: none)")
	fs.StringVar(&cfg.tlsCertFile, "tls-cert-file", "",
		"serve HTTPS with this PEM certificate (chain), with -tls-key-file")
	fs.StringVar(&cfg.tlsKeyFile, "tls-key-file", "",
		"the PEM private key of -tls-cert-file")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %q", fs.Args())
		fmt.Fprintln(stderr, err)
		return cfg, err
	}
	if err := cfg.Check(); err != nil {
		fmt.Fprintln(stderr, err)
		return cfg, err
	}
	if (cfg.tlsCertFile == "") != (cfg.tlsKeyFile == "") {
		err := errors.New("-tls-cert-file and -tls-key-file go together: give both or neither")
		fmt.Fprintln(stderr, err)
		return cfg, err
	}
	if cfg.maxBody < 0 {
		err := fmt.Errorf("-maxbody %d: must not be negative", cfg.maxBody)
		fmt.Fprintln(stderr, err)
		return cfg, err
	}
	return cfg, nil
}

// run serves until stop is closed or the server fails, printing the bound
// addresses to stdout.
func run(cfg config, stdout io.Writer, stop <-chan struct{}) error {
	srv := newServer(cfg)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-stop:
			srv.stop()
		case <-done:
		}
	}()
	tlsNote := ""
	if cfg.tls() {
		tlsNote = ", TLS"
	}
	return srv.serve(func(s evio.Server) {
		listenflags.ReportFallback(os.Stderr, "http-server", s)
		for _, a := range s.Addrs {
			fmt.Fprintf(stdout, "http-server: listening on %s (loops: %d%s)\n", listenURL(a, cfg.Stdlib), s.NumLoops, tlsNote)
		}
	})
}
