package evio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/evio-go/evio/internal/socket"
)

// stdServer is one Serve call on the portable engine, built on package net:
// the same loops and contract as the poll engine, with goroutines doing the
// blocking reads, writes and accepts and handing their results to the loops.
type stdServer struct {
	events    Events         // immutable
	handlers  handlers       // calls events
	loops     []*stdLoop     // immutable once the loops run
	listeners []*stdListener // immutable once the loops run
	balance   *balancer
	budget    *outputBudget

	stopOnce sync.Once
	stopped  chan struct{} // closed by shutdown
	loopsWG  sync.WaitGroup
	ioWG     sync.WaitGroup // accept, read and write goroutines

	errMu sync.Mutex
	err   error // the first fatal error; guarded by errMu
}

// stdListener is one bound address.
type stdListener struct {
	index    int
	spec     listenSpec
	stream   net.Listener   // tcp and unix
	packet   net.PacketConn // udp
	addr     net.Addr
	unixFile *unixSocketFile
	home     *stdLoop // reads the datagrams of a packet listener
}

func serveStd(events Events, specs []listenSpec, numLoops int) error {
	s := &stdServer{
		events:   events,
		handlers: handlers{events: events},
		balance:  newBalancer(events.LoadBalance, numLoops),
		budget:   newOutputBudget(events.MaxTotalOutput, numLoops),
		stopped:  make(chan struct{}),
	}
	for i, spec := range specs {
		ln, err := listenStd(i, spec)
		if err != nil {
			s.closeListeners()
			return err
		}
		s.listeners = append(s.listeners, ln)
	}
	addrs := make([]net.Addr, len(s.listeners))
	for i, ln := range s.listeners {
		addrs[i] = ln.addr
	}
	for i := 0; i < numLoops; i++ {
		s.loops = append(s.loops, newStdLoop(s, i))
	}
	action, err := s.handlers.serving(Server{Addrs: addrs, NumLoops: numLoops})
	if err != nil || action == Shutdown {
		s.closeListeners()
		return err
	}
	s.loopsWG.Add(numLoops)
	for _, l := range s.loops {
		go l.run()
	}
	for i, ln := range s.listeners {
		s.ioWG.Add(1)
		if ln.packet != nil {
			ln.home = s.loops[i%numLoops]
			go s.readPackets(ln)
		} else {
			go s.acceptLoop(ln)
		}
	}
	s.loopsWG.Wait()
	s.shutdown(nil) // a loop that failed stops the others too
	s.closeListeners()
	s.ioWG.Wait()
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

func listenStd(index int, spec listenSpec) (*stdListener, error) {
	ln := &stdListener{index: index, spec: spec}
	lc := net.ListenConfig{}
	if spec.reusePort {
		lc.Control = socket.ControlReusePort
	}
	var err error
	switch {
	case spec.datagram():
		ln.packet, err = lc.ListenPacket(context.Background(), spec.network, spec.address)
		if err == nil {
			ln.addr = ln.packet.LocalAddr()
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
			ln.addr = ln.stream.Addr()
		}
	default:
		ln.stream, err = lc.Listen(context.Background(), spec.network, spec.address)
		if err == nil {
			ln.addr = ln.stream.Addr()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("evio: listen %s %s: %w", spec.network, spec.address, err)
	}
	return ln, nil
}

func (s *stdServer) closeListeners() {
	for _, ln := range s.listeners {
		if ln.stream != nil {
			ln.stream.Close()
		}
		if ln.packet != nil {
			ln.packet.Close()
		}
		ln.unixFile.remove()
	}
}

// shutdown stops the server; err, when not nil, is what Serve returns. Safe
// from any goroutine, any number of times.
func (s *stdServer) shutdown(err error) {
	if err != nil {
		s.errMu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.errMu.Unlock()
	}
	s.stopOnce.Do(func() {
		close(s.stopped)
		// Stop accepting now; the loops drain what is queued.
		for _, ln := range s.listeners {
			if ln.stream != nil {
				ln.stream.Close()
			}
		}
		for _, l := range s.loops {
			l.push(stdEvent{kind: evStop})
		}
	})
}

func (s *stdServer) isStopped() bool {
	select {
	case <-s.stopped:
		return true
	default:
		return false
	}
}

// acceptLoop accepts connections on ln and hands each to the loop the
// balancer picks. Running out of descriptors pauses it with a growing
// back-off instead of failing the server.
func (s *stdServer) acceptLoop(ln *stdListener) {
	defer s.ioWG.Done()
	var backoff time.Duration
	for {
		nc, err := stdAcceptFunc(ln.stream)
		if err != nil {
			if s.isStopped() {
				return
			}
			if isTemporary(err) {
				backoff = nextBackoff(backoff)
				select {
				case <-time.After(backoff):
				case <-s.stopped:
					return
				}
				continue
			}
			s.shutdown(fmt.Errorf("evio: accept %s %s: %w", ln.spec.network, ln.spec.address, err))
			return
		}
		backoff = 0
		s.loops[s.balance.pick()].push(stdEvent{kind: evOpen, nc: nc, listener: ln})
	}
}

// stdAcceptFunc accepts on a listener; tests replace it to inject errors.
var stdAcceptFunc = func(ln net.Listener) (net.Conn, error) { return ln.Accept() }

func nextBackoff(d time.Duration) time.Duration {
	d *= 2
	if d < 5*time.Millisecond {
		d = 5 * time.Millisecond
	}
	if d > time.Second {
		d = time.Second
	}
	return d
}

// isTemporary reports accept errors that a later accept may not repeat:
// descriptor or buffer exhaustion, and connections reset before they were
// taken.
func isTemporary(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR} {
		if errors.Is(err, errno) {
			return true
		}
	}
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// readPackets reads the datagrams of a UDP listener and hands each to the
// listener's loop, waiting until it has been served so that the kernel, not
// the server's memory, absorbs a flood.
func (s *stdServer) readPackets(ln *stdListener) {
	defer s.ioWG.Done()
	buf := make([]byte, readBufferSize)
	ack := make(chan struct{}, 1)
	for {
		n, addr, err := ln.packet.ReadFrom(buf)
		if err != nil {
			if s.isStopped() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue // an error left by an earlier datagram; the socket is fine
		}
		ln.home.push(stdEvent{kind: evDatagram, listener: ln, data: buf[:n], addr: addr, ack: ack})
		select {
		case <-ack:
		case <-s.stopped:
			return
		}
	}
}
