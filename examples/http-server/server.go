package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio"
	"github.com/evio-go/evio/examples/internal/listenflags"
)

// defaultMaxBody is the default -maxbody: the largest request body accepted.
const defaultMaxBody = 4 << 20

// tickInterval is how often Tick runs: it refreshes the Date value when the
// second has changed and notices a stop request, so it bounds how stale a
// Date can be and how long stop takes to begin.
const tickInterval = 100 * time.Millisecond

// config is what the flags set.
type config struct {
	host string // interface to listen on; "" for all
	listenflags.Listen
	maxBody  int64 // largest request body accepted, in bytes
	timeouts timeouts
	// tlsCertFile and tlsKeyFile, both set or both empty, make the server
	// speak HTTPS; they are read when the server starts.
	tlsCertFile, tlsKeyFile string
}

// tls reports whether the server speaks HTTPS.
func (c config) tls() bool { return c.tlsCertFile != "" }

// tlsConfig loads the certificate and key for HTTPS, or returns nil for
// plain HTTP.
func (c config) tlsConfig() (*tls.Config, error) {
	if !c.tls() {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.tlsCertFile, c.tlsKeyFile)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert-file %s, -tls-key-file %s: %w", c.tlsCertFile, c.tlsKeyFile, err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		// This server speaks HTTP/1.x only. Announcing http/1.1 makes a
		// client that offers h2 and http/1.1 (curl, browsers, Go's
		// net/http when configured for HTTP/2) settle on HTTP/1.1 by
		// ALPN, instead of one that insists on h2 finding out from the
		// first bytes; a client that offers only h2 fails the handshake,
		// as RFC 7301 §3.2 says it should.
		NextProtos: []string{"http/1.1"},
	}, nil
}

// handshakeTimeout is evio's bound on a TLS handshake: the header timeout,
// as nginx bounds its SSL handshake by client_header_timeout (a handshake
// is, like a head, a round trip or two of a client that means business),
// or evio's default (10 s) when that timeout is off.
func (c config) handshakeTimeout() time.Duration {
	if c.timeouts.header > 0 {
		return c.timeouts.header
	}
	return 0
}

// addresses are the evio addresses of the listeners: TCP first, then the
// unix socket if any.
func (c config) addresses() []string { return c.Addrs("tcp", c.host) }

// server is one HTTP server on evio. serve runs it and stop ends it, from
// any goroutine.
type server struct {
	cfg      config
	settings handlerSettings
	// stopRequested is set by stop and read by Tick, which then shuts the
	// server down: evio has no way to stop a server from outside its
	// events.
	stopRequested atomic.Bool
	// tick is Tick's delay: tickInterval, shorter in tests so that they
	// stop quickly. Set before serve.
	tick time.Duration
}

func newServer(cfg config) *server {
	return &server{
		cfg:      cfg,
		tick:     tickInterval,
		settings: handlerSettings{maxBody: cfg.maxBody, timeouts: cfg.timeouts, clock: newHTTPClock(time.Now())},
	}
}

// serve runs the server until stop is called or it fails. serving, when
// not nil, is called with the bound addresses (a port 0 shows the port
// chosen) before any connection is accepted.
func (s *server) serve(serving func(evio.Server)) error {
	tlsConfig, err := s.cfg.tlsConfig()
	if err != nil {
		return err
	}
	events := evio.Events{
		NumLoops:            s.cfg.Loops,
		LoadBalance:         s.cfg.Balance,
		TLSConfig:           tlsConfig,
		TLSHandshakeTimeout: s.cfg.handshakeTimeout(),
		Serving: func(srv evio.Server) evio.Action {
			if serving != nil {
				serving(srv)
			}
			return evio.None
		},
		Opened: func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
			sess := newSession(&s.settings)
			c.SetContext(sess)
			if t := s.settings.timeouts; t.enabled() {
				// One timer for the connection's life, created here
				// (one allocation with its closure) and only reset
				// afterwards. A new connection waits for its first
				// request: the keep-alive timeout runs, so a client that
				// connects and sends nothing is closed too.
				sess.timer = c.AfterFunc(t.keepAlive, func() ([]byte, evio.Action) {
					return action(sess.expire(c.QueuedOutput()))
				})
				if t.keepAlive <= 0 {
					sess.timer.Stop() // off; it fires for a head or body only
				}
			}
			return nil, evio.Options{ReuseInputBuffer: true}, evio.None
		},
		Closed: func(c evio.Conn, err error) evio.Action {
			c.SetContext(nil)
			return evio.None
		},
		Data: func(c evio.Conn, in []byte) ([]byte, evio.Action) {
			sess, ok := c.Context().(*session)
			if !ok || in == nil {
				return nil, evio.None // a Wake: this server never calls it
			}
			return action(sess.serve(in))
		},
		Tick: func() (time.Duration, evio.Action) {
			if s.stopRequested.Load() {
				return 0, evio.Shutdown
			}
			s.settings.clock.update(time.Now())
			return s.tick, evio.None
		},
	}
	return evio.Serve(events, s.cfg.addresses()...)
}

// action turns a session's answer into an event's: close after out when
// it asks to.
func action(out []byte, closeAfter bool) ([]byte, evio.Action) {
	if closeAfter {
		return out, evio.Close
	}
	return out, evio.None
}

// stop asks the server to shut down: serve returns within about a
// tickInterval, after writing what connections have queued. Safe from any
// goroutine, and more than once.
func (s *server) stop() { s.stopRequested.Store(true) }

// listenURL is how the server prints a bound address: scheme://address, the
// scheme carrying -net on the portable engine.
func listenURL(addr net.Addr, stdlib bool) string {
	scheme := addr.Network()
	if stdlib {
		scheme += "-net"
	}
	return scheme + "://" + addr.String()
}
