package evio

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"sync"
)

// Handle is a server started with Start: it runs on goroutines of its own
// until Stop, a Shutdown action or a fatal error ends it. Its methods are
// safe from any goroutine.
type Handle struct {
	ready chan struct{} // closed once the loops run, or serving ended first
	done  chan struct{} // closed when serving has ended
	s     *server       // set before ready is closed; nil if serving never started
	err   error         // what serving returned; read after done is closed
}

// Start starts a server as Serve does, but returns as soon as every
// address is bound, Serving has fired and the loops run, instead of
// blocking until the server ends. An address that cannot be used is an
// error, and nothing is left listening. If Serving returns Shutdown, Start
// returns a Handle whose server has already ended.
func Start(events Events, addr ...string) (*Handle, error) {
	h := &Handle{ready: make(chan struct{}), done: make(chan struct{})}
	go func() {
		h.err = serve(events, addr, h)
		close(h.done)
	}()
	select {
	case <-h.ready:
		return h, nil
	case <-h.done:
		if h.err != nil {
			return nil, h.err
		}
		return h, nil
	}
}

// started is called by the server once its loops run.
func (h *Handle) started(s *server) {
	h.s = s
	close(h.ready)
}

// Addrs are the listening addresses, as Server.Addrs gives them; nil if
// the server never started.
func (h *Handle) Addrs() []net.Addr {
	if h.s == nil {
		return nil
	}
	return h.s.addrs
}

// Wait blocks until the server has ended and returns what Serve would: nil
// after a Shutdown action or Stop, or the error that ended it.
func (h *Handle) Wait() error {
	<-h.done
	return h.err
}

// Stop shuts the server down: it stops accepting, stops reading, writes
// what every connection has queued for as long as ctx allows, closes each
// connection (Closed fires) and returns once the loops are done, with the
// server's error, if it failed, or nil. When ctx ends first, connections
// still writing are reset and Stop returns ctx's error once they are
// closed. Stop may be called more than once, from any goroutine; called
// from an event of this server (a loop cannot wait for itself) it starts
// the stop and returns nil at once, and ctx still bounds the drain.
func (h *Handle) Stop(ctx context.Context) error {
	s := h.s
	if s == nil {
		return h.Wait()
	}
	s.drainUntilStopped.Store(true)
	s.shutdown(nil)
	if s.onLoop() {
		// The loop cannot wait for itself; ctx still bounds the drain.
		go func() {
			select {
			case <-h.done:
			case <-ctx.Done():
				s.abandon()
			}
		}()
		return nil
	}
	select {
	case <-h.done:
		return h.err
	case <-ctx.Done():
		s.abandon()
		<-h.done
		if h.err != nil {
			return h.err
		}
		return ctx.Err()
	}
}

// abandon ends the drain: what is still open is closed, with a reset
// where output remains.
func (s *server) abandon() {
	for _, l := range s.loops {
		l.post(task{kind: taskAbandon})
	}
}

// onLoop reports whether the calling goroutine is one of s's loops.
func (s *server) onLoop() bool { return s.currentLoop() != nil }

// currentLoop is the loop whose goroutine is calling, or nil.
func (s *server) currentLoop() *loop {
	id := goroutineID()
	for _, l := range s.loops {
		if l.goroutine.Load() == id {
			return l
		}
	}
	return nil
}

// goroutineID is the calling goroutine's number, from its stack trace's
// header ("goroutine 42 [running]:"). Go offers no cheaper way; Stop, the
// only caller, is rare.
func goroutineID() uint64 {
	buf := stackBufs.Get().(*[64]byte)
	defer stackBufs.Put(buf)
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	var id uint64
	for _, d := range b {
		if d < '0' || d > '9' {
			break
		}
		id = id*10 + uint64(d-'0')
	}
	return id
}

// stackBufs hold goroutineID's buffers: runtime.Stack makes a local one
// escape, and Counters, a caller, allocates nothing.
var stackBufs = sync.Pool{New: func() interface{} { return new([64]byte) }}
