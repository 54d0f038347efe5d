package evio

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/evio-go/evio/internal/socket"
)

// Outbound connections. Handle.Dial returns a Conn at once and posts the
// dial to the loop that will own it; the loop starts a non-blocking
// connect (the portable engine dials on a goroutine) and watches for its
// end like any readiness. A connection that connects gets the events of an
// accepted one, Opened first; one that does not gets Closed with the error,
// and no Opened. No loop blocks: a host name is resolved on a goroutine of
// its own before the dial is posted.

// DialOptions are the settings of an outbound connection.
type DialOptions struct {
	// Timeout bounds the connect (and the name lookup); 0 leaves it to the
	// system. A dial that takes longer fails with an error that wraps
	// os.ErrDeadlineExceeded.
	Timeout time.Duration
	// Context is the connection's Context from the start, before any
	// event: a proxy puts the client connection here, so that the
	// backend's Opened can find it.
	Context interface{}
	// Loop, if not nil, puts the connection on that connection's loop (a
	// proxy keeps both sides on one loop); nil lets the server's balancer
	// choose.
	Loop Conn
	// TLSConfig, when not nil, makes it a TLS connection: the handshake
	// runs once connected (on a goroutine of its own, bounded by Timeout
	// and by Events.TLSHandshakeTimeout), and Opened fires when it is
	// done; a failed handshake gets Closed with its error. Without a
	// ServerName (and without InsecureSkipVerify) the host of addr is
	// verified, as tls.Dial does. Output written before Opened is
	// encrypted once the handshake is done.
	TLSConfig *tls.Config
}

// dialState is what a dial in progress needs: where to, and, for the
// portable engine, what its goroutine found.
type dialState struct {
	network, address string
	target           netip.AddrPort // tcp: the resolved address
	timeout          time.Duration
	deadline         int64       // loop time; 0 for none
	tls              *tls.Config // a TLS connection: the handshake follows the connect

	cancel func() // portable engine: ends the dialer's connect; set by the loop

	mu        sync.Mutex // portable engine: guards the fields below
	nc        net.Conn
	err       error
	abandoned bool // the connection ended first: close what arrives
}

// errDialStopping is what a dial gets when the server stops before it
// connected.
var errDialStopping = errors.New("evio: dial abandoned: the server is stopping")

// Dial connects to addr (tcp://host:port, tcp4://, tcp6://, unix:///path,
// or host:port), from any goroutine, without blocking: it returns the
// connection at once, with opts.Context as its Context, and the server
// fires Opened when it has connected, or Closed with the error (and no
// Opened) when it could not. Until Opened, use only the methods safe from
// any goroutine (Write queues output for when it connects). AddrIndex of a
// dialed connection is -1. An address that cannot be parsed, or a server
// that has ended, is an error here.
func (h *Handle) Dial(addr string, opts DialOptions) (Conn, error) {
	s := h.s
	if s == nil {
		return nil, errors.New("evio: dial: the server is not running")
	}
	select {
	case <-h.done:
		return nil, fmt.Errorf("evio: dial %s: %w", addr, net.ErrClosed)
	default:
	}
	d := &dialState{network: "tcp", address: addr, timeout: opts.Timeout, tls: opts.TLSConfig}
	if i := strings.Index(addr, "://"); i >= 0 {
		d.network, d.address = addr[:i], addr[i+3:]
	}
	if d.tls != nil && d.tls.ServerName == "" && !d.tls.InsecureSkipVerify && d.network != "unix" {
		// Verify the host dialed, as tls.Dial does.
		host, _, err := net.SplitHostPort(d.address)
		if err != nil {
			return nil, fmt.Errorf("evio: dial %q: %w", addr, err)
		}
		d.tls = d.tls.Clone()
		d.tls.ServerName = host
	}
	o := &origin{index: -1, unix: d.network == "unix", wildcard: d.network != "unix", dialed: true}
	switch d.network {
	case "tcp", "tcp4", "tcp6":
		o.addr = &net.TCPAddr{}
	case "unix":
		o.addr = &net.UnixAddr{Net: "unix"}
	default:
		return nil, fmt.Errorf("evio: dial %q: unknown scheme %q (want tcp, tcp4, tcp6 or unix)", addr, d.network)
	}
	l := s.loops[0]
	if opts.Loop != nil {
		if lc, ok := opts.Loop.(*conn); ok && lc.loop.server == s {
			l = lc.loop
		}
	} else {
		l = s.loops[s.balance.pick()]
	}
	if opts.Loop != nil {
		s.balance.assign(l.index)
	}
	c := &conn{loop: l, origin: o, fd: -1, slot: -1, ctx: opts.Context}
	c.ext = &connExt{dial: d}
	if d.network == "unix" {
		c.addrCache.Store(&connAddrs{local: o.addr, remote: &net.UnixAddr{Net: "unix", Name: d.address}})
		l.post(task{kind: taskDial, c: c})
		return c, nil
	}
	if ap, err := netip.ParseAddrPort(d.address); err == nil {
		d.target = ap
		c.remote = socketAddr(ap)
		l.post(task{kind: taskDial, c: c})
		return c, nil
	}
	// A host name: resolve it on a goroutine, then dial on the loop.
	go func() {
		ctxTimeout := d.timeout
		if ctxTimeout <= 0 {
			ctxTimeout = time.Minute
		}
		ta, err := resolveTCP(d.network, d.address, ctxTimeout)
		if err == nil {
			d.target = ta
			c.remote = socketAddr(ta)
		} else {
			d.err = err
		}
		l.post(task{kind: taskDial, c: c})
	}()
	return c, nil
}

// socketAddr is ap in the compact form a connection keeps.
func socketAddr(ap netip.AddrPort) socket.Addr {
	return socket.AddrFromNet(net.TCPAddrFromAddrPort(ap))
}

// resolveTCP looks up a host:port, within timeout.
func resolveTCP(network, address string, timeout time.Duration) (netip.AddrPort, error) {
	done := make(chan struct{})
	var ta *net.TCPAddr
	var err error
	go func() {
		ta, err = net.ResolveTCPAddr(network, address)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		return netip.AddrPort{}, fmt.Errorf("evio: dial %s %s: resolving: %w", network, address, os.ErrDeadlineExceeded)
	}
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ta.AddrPort(), nil
}

// serveDial starts the dial of c on its loop (taskDial).
func (l *loop) serveDial(c *conn) {
	d := c.ext.dial
	l.register(c)
	l.open++
	l.counters.dialed++
	if l.stopping {
		l.closeConn(c, errDialStopping)
		return
	}
	if d.err != nil { // the name lookup failed
		l.closeConn(c, fmt.Errorf("evio: dial %s %s: %w", d.network, d.address, d.err))
		return
	}
	connected, err := l.tp.connect(c, d)
	if err != nil {
		l.closeConn(c, fmt.Errorf("evio: dial %s %s: %w", d.network, d.address, err))
		return
	}
	if connected {
		l.dialDone(c)
		return
	}
	c.flags |= flagConnecting
	c.armed = wantWrite
	if d.timeout > 0 {
		d.deadline = addTime(monotime(), int64(d.timeout))
		l.timers.scheduleBy(c, d.deadline)
	}
}

// connectReady handles readiness of a connection whose connect was in
// progress: it has connected, or failed.
func (l *loop) connectReady(c *conn) {
	d := c.ext.dial
	if err := l.tp.finishConnect(c); err != nil {
		l.closeConn(c, fmt.Errorf("evio: dial %s %s: %w", d.network, d.address, err))
		return
	}
	c.flags &^= flagConnecting
	l.dialDone(c)
}

// dialDone opens a connection that has connected: its events start.
func (l *loop) dialDone(c *conn) {
	d := c.ext.dial
	c.ext.dial = nil
	if d.deadline > 0 {
		l.timers.cancel(c)
	}
	l.watch(c, wantRead)
	if c.ended() {
		return
	}
	if d.tls != nil {
		l.beginHandshake(c, d.tls, true, d.deadline) // Opened fires once it is done
		return
	}
	l.opened(c)
	if c.async.Load()&asyncWoken != 0 && !c.ended() {
		l.post(task{kind: taskWake, c: c}) // woken while connecting
	}
}

// connectTimedOut is a connecting connection's timer.
func (l *loop) connectTimedOut(c *conn, now int64) {
	d := c.ext.dial
	if now < d.deadline {
		l.timers.schedule(c, d.deadline, 0)
		return
	}
	l.closeConn(c, fmt.Errorf("evio: dial %s %s: %w", d.network, d.address, os.ErrDeadlineExceeded))
}
