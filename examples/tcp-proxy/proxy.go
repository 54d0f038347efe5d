package main

import (
	"crypto/tls"
	"errors"
	"time"

	"github.com/evio-go/evio"
)

// proxy holds the settings and the running server of the proxy. Its events
// keep no state of their own: each client connection and its backend
// connection share a pair, reached through either one's Context.
type proxy struct {
	backend        string        // the backend's address, as Handle.Dial takes it
	connectTimeout time.Duration // bounds each backend dial; 0: the system's
	highWater      int           // evio.Options.OutputHighWater of both sides
	lowWater       int           // evio.Options.OutputLowWater of both sides
	backendTLS     *tls.Config   // dial the backend over TLS with it; nil: plain

	// handle is the running server, set before ready is closed. A client
	// may be accepted before evio.Start returns the handle: its Opened
	// waits on ready (only the first connections, at start-up, ever do).
	handle *evio.Handle
	ready  chan struct{}
}

// The ends of a pair.
const (
	clientSide  = 0
	backendSide = 1
)

// pair is a client connection and the backend connection dialed for it.
// Both are on one loop (DialOptions.Loop), so their events never run
// concurrently and the pair needs no lock.
type pair struct {
	conns     [2]evio.Conn // indexed by clientSide and backendSide
	connected bool         // the backend's Opened has fired
	eof       [2]bool      // that side's peer has sent its FIN
	closed    [2]bool      // that side's Closed has fired
	// paused[i] is set while side i is not read because the other side's
	// output queue passed the high mark; the other side's Drained clears it.
	paused [2]bool
}

// side returns the pair of c and which end of it c is.
func side(c evio.Conn) (*pair, int) {
	p, _ := c.Context().(*pair)
	if p == nil {
		return nil, 0
	}
	if p.conns[backendSide] == c {
		return p, backendSide
	}
	return p, clientSide
}

func (px *proxy) options() evio.Options {
	return evio.Options{
		ReuseInputBuffer: true, // Write copies what it is given
		OutputHighWater:  px.highWater,
		OutputLowWater:   px.lowWater,
	}
}

// events are the proxy's evio events.
func (px *proxy) events(loops int, balance evio.LoadBalance) evio.Events {
	return evio.Events{
		NumLoops:    loops,
		LoadBalance: balance,
		Opened:      px.opened,
		Data:        px.data,
		Drained:     px.drained,
		HalfClosed:  px.halfClosed,
		Closed:      px.closed,
	}
}

// opened handles both a new client and a backend connection that has
// connected. A client is not read until its backend has connected, so that
// nothing it sends piles up in the proxy meanwhile.
func (px *proxy) opened(c evio.Conn) ([]byte, evio.Options, evio.Action) {
	if p, s := side(c); p != nil && s == backendSide {
		p.connected = true
		if !p.closed[clientSide] {
			p.conns[clientSide].ResumeRead()
		}
		return nil, px.options(), evio.None
	}
	<-px.ready
	if px.handle == nil {
		return nil, evio.Options{}, evio.Abort
	}
	p := &pair{}
	p.conns[clientSide] = c
	backend, err := px.handle.Dial(px.backend, evio.DialOptions{Timeout: px.connectTimeout, Context: p, Loop: c, TLSConfig: px.backendTLS})
	if err != nil {
		return nil, evio.Options{}, evio.Abort
	}
	p.conns[backendSide] = backend
	c.SetContext(p)
	c.PauseRead()
	return nil, px.options(), evio.None
}

// data passes what one side sent on to the other, and stops reading this
// side once the other's queue has reached its high mark.
func (px *proxy) data(c evio.Conn, in []byte) ([]byte, evio.Action) {
	p, s := side(c)
	if p == nil || len(in) == 0 {
		return nil, evio.None
	}
	other := p.conns[1-s]
	if err := other.Write(in); err != nil {
		if errors.Is(err, evio.ErrOutputLimit) {
			other.Abort()
			return nil, evio.Abort
		}
		// The other side has ended or is closing: its Closed closes this
		// one.
		return nil, evio.None
	}
	// QueuedOutput is the queue as the loop last took it: at or above the
	// high mark, the other side is marked as having reached it, so its
	// Drained is sure to fire (or its Closed, if it ends first).
	if other.QueuedOutput() >= px.highWater && !p.paused[s] {
		p.paused[s] = true
		c.PauseRead()
	}
	return nil, evio.None
}

// drained resumes reading the side that was paused for this one.
func (px *proxy) drained(c evio.Conn) ([]byte, evio.Action) {
	p, s := side(c)
	if p == nil {
		return nil, evio.None
	}
	if o := 1 - s; p.paused[o] {
		p.paused[o] = false
		if !p.closed[o] {
			p.conns[o].ResumeRead()
		}
	}
	return nil, evio.None
}

// halfClosed passes a FIN on: the other side's sending side is shut down
// once what is queued for it has been written. When both peers have sent
// their FIN, both connections close.
func (px *proxy) halfClosed(c evio.Conn) ([]byte, evio.Action) {
	p, s := side(c)
	if p == nil {
		return nil, evio.Close
	}
	p.eof[s] = true
	other := p.conns[1-s]
	if p.eof[1-s] {
		other.Close()
		return nil, evio.Close
	}
	other.CloseWrite()
	return nil, evio.None
}

// closed passes the end of one side on to the other: a reset (or a failed
// dial, or any other error) as a reset, a clean close as a graceful close
// after what is queued.
func (px *proxy) closed(c evio.Conn, err error) evio.Action {
	p, s := side(c)
	if p == nil {
		return evio.None
	}
	p.closed[s] = true
	if !p.closed[1-s] {
		if err != nil {
			p.conns[1-s].Abort()
		} else {
			p.conns[1-s].Close()
		}
	}
	return evio.None
}
