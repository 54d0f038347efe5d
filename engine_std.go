package evio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/evio-go/evio/internal/socket"
)

// The portable engine, on package net: the same loops and connection core
// as the poll engine, with goroutines doing the blocking I/O and reporting
// through the loops' inboxes. Each connection has a reader goroutine, and a
// writer goroutine once it has output; each listener has an accept (or,
// for UDP, a read) goroutine. It runs where there is no epoll or kqueue,
// and for any address with the -net scheme suffix.

// stdListener is one bound address.
type stdListener struct {
	origin   origin
	spec     listenSpec
	stream   net.Listener // tcp and unix
	unixFile *unixSocketFile
	home     *loop // serves the datagrams of a UDP listener, and every connection of a per-loop group's socket
	homeAt   int   // home's index
	own      bool  // one of a per-loop group (listenSpec.perLoop): its connections stay on home
}

// stdAcceptFunc accepts on a listener; tests replace it to inject errors.
var stdAcceptFunc = func(ln net.Listener) (net.Conn, error) { return ln.Accept() }

func serveStd(events Events, specs []listenSpec, numLoops int, h *Handle) error {
	s := newServer(events, numLoops, h)
	s.engine = "net"
	if askURing(specs) {
		s.engineFallback = fmt.Errorf("%w: the system has no epoll or kqueue, so the portable engine runs", ErrIOUringUnavailable)
	}
	var listeners []*stdListener
	closeListeners := func() {
		for _, ln := range listeners {
			if ln.stream != nil {
				ln.stream.Close()
			}
			if ln.origin.packet != nil {
				ln.origin.packet.Close()
			}
			ln.unixFile.remove()
		}
	}
	for i, spec := range specs {
		ln, err := listenStd(i, spec)
		if err != nil {
			closeListeners()
			return err
		}
		ln.homeAt = i % numLoops
		listeners = append(listeners, ln)
		s.addrs = append(s.addrs, ln.origin.addr)
		if !spec.perLoop(numLoops) {
			continue
		}
		// A socket per loop on the same port (see listenSpec.perLoop).
		ln.own, ln.homeAt = true, 0
		for k := 1; k < numLoops; k++ {
			m, err := listenStd(i, spec.samePort(ln.origin.addr))
			if err != nil {
				closeListeners()
				return err
			}
			m.own, m.homeAt = true, k
			listeners = append(listeners, m)
		}
	}
	var workers sync.WaitGroup // accept, datagram, read and write goroutines
	stopped := make(chan struct{})
	for _, l := range s.loops {
		l.tp = newStdTransport(l, &workers)
	}
	s.onStop = func() {
		close(stopped)
		// Stop accepting now; the loops drain what is queued.
		for _, ln := range listeners {
			if ln.stream != nil {
				ln.stream.Close()
			}
		}
	}
	err := s.run(func() {
		for _, ln := range listeners {
			workers.Add(1)
			ln.home = s.loops[ln.homeAt]
			if ln.origin.datagram {
				go readDatagramsStd(ln, &workers, stopped)
			} else {
				go acceptStd(s, ln, &workers, stopped)
			}
		}
	})
	closeListeners()
	workers.Wait()
	// Every goroutine that posts is done: connections accepted for loops
	// that had already stopped are closed here, not left to a finalizer.
	s.discardInbox()
	return err
}

func listenStd(index int, spec listenSpec) (*stdListener, error) {
	ln := &stdListener{spec: spec, origin: origin{index: index, fd: -1, unix: spec.network == "unix", datagram: spec.datagram(), tls: spec.tls}}
	lc := net.ListenConfig{}
	if spec.reusePort {
		lc.Control = socket.ControlReusePort
	}
	var err error
	switch {
	case spec.datagram():
		ln.origin.packet, err = lc.ListenPacket(context.Background(), spec.network, spec.address)
		if err == nil {
			ln.origin.addr = ln.origin.packet.LocalAddr()
		}
	case spec.network == "unix":
		if err = prepareUnixPath(spec.raw, spec.address); err != nil {
			return nil, err
		}
		ln.stream, err = lc.Listen(context.Background(), spec.network, spec.address)
		if err == nil {
			// Shutdown removes the file itself, and only if it is still ours.
			ln.stream.(*net.UnixListener).SetUnlinkOnClose(false)
			ln.unixFile = statUnixSocket(spec.address)
			ln.origin.addr = ln.stream.Addr()
		}
	default:
		ln.stream, err = lc.Listen(context.Background(), spec.network, spec.address)
		if err == nil {
			ln.origin.addr = ln.stream.Addr()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("evio: listen %s %s: %w", spec.network, spec.address, err)
	}
	return ln, nil
}

// acceptStd accepts connections on ln and posts each to ln's home, for a
// socket of a per-loop group, or to the loop the balancer picks. Running
// out of descriptors pauses it with a growing back-off, in this
// goroutine, instead of failing the server.
func acceptStd(s *server, ln *stdListener, wg *sync.WaitGroup, stopped <-chan struct{}) {
	defer wg.Done()
	var backoff time.Duration
	for {
		nc, err := stdAcceptFunc(ln.stream)
		if err != nil {
			select {
			case <-stopped:
				return
			default:
			}
			switch classifyAcceptError(err) {
			case acceptSkip:
				continue
			case acceptPause:
				backoff = nextAcceptBackoff(backoff)
				select {
				case <-time.After(backoff):
				case <-stopped:
					return
				}
				continue
			}
			s.shutdown(fmt.Errorf("evio: accept %s %s: %w", ln.spec.network, ln.spec.address, err))
			return
		}
		backoff = 0
		target := s.loops[s.balance.place(ln.homeAt, ln.own)]
		c := &conn{loop: target, origin: &ln.origin, fd: -1, slot: -1, ext: &connExt{stream: newStdStream(nc)}}
		c.addrCache.Store(&connAddrs{local: nc.LocalAddr(), remote: nc.RemoteAddr()})
		target.post(task{kind: taskOpen, c: c})
	}
}

// readDatagramsStd reads the datagrams of a UDP listener and posts each to
// the listener's loop. At most datagramBatch wait there at a time, so that
// the kernel, not the server's memory, absorbs a flood; a loop serves all
// that wait in one pass, with one PreWrite.
func readDatagramsStd(ln *stdListener, wg *sync.WaitGroup, stopped <-chan struct{}) {
	defer wg.Done()
	slots := ln.home.tp.(*stdTransport).datagramSlots
	max := ln.home.server.datagramMax
	buf := make([]byte, max+1) // one byte more tells a datagram too large
	for {
		n, addr, err := ln.origin.packet.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an error left by an earlier datagram; the socket is fine
		}
		if n > max {
			continue // dropped, not delivered cut short
		}
		select {
		case slots <- struct{}{}:
		case <-stopped:
			return
		}
		ln.home.post(task{kind: taskIO, origin: &ln.origin, peer: socket.AddrFromNet(addr), data: append([]byte(nil), buf[:n]...)})
	}
}
