//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/evio-go/evio/internal/poll"
	"github.com/evio-go/evio/internal/socket"
	"golang.org/x/sys/unix"
)

// The poll engine: non-blocking sockets on epoll (Linux) or kqueue (macOS
// and the BSDs), one poller per loop, no goroutine but the loops.

// pollEngineAvailable tells serve that this system has epoll or kqueue.
const pollEngineAvailable = true

// System calls that tests fail or count, behind variables as in Go's
// hook_unix.go files.
var (
	acceptFunc = socket.Accept
	// uringAcceptFault, when set, is asked about each connection the
	// io_uring engine accepts: an error is handled as if accept had
	// failed with it, and the connection is taken again (as a failed
	// accept leaves it in the backlog) when accepting goes on.
	uringAcceptFault func() error
	writeFunc        = socket.Write
	unsettledFunc    = socket.Unsettled
)

// pollListener is a bound socket. Each is watched by one loop only, its
// home, so a new connection wakes one loop rather than all of them.
type pollListener struct {
	origin   origin          // what its connections report (conn.origin points here)
	spec     listenSpec      // immutable
	unixFile *unixSocketFile // removed at shutdown
	home     *loop           // immutable once the loops run
	homeAt   int             // home's index, chosen as the socket is bound
	own      bool            // one of a per-loop group (listenSpec.perLoop): its connections stay on home
	token    uint64          // its poller token: generation 0, slot = position in the home transport's listeners

	// Owned by the home loop.
	watched bool          // registered with the home poller (not while accept is paused, nor after shutdown)
	backoff time.Duration // the last accept pause
	timer   int32         // timerTarget: the end of the pause
}

func servePoll(events Events, specs []listenSpec, numLoops int, h *Handle) error {
	s := newServer(events, numLoops, h)
	var listeners []*pollListener
	defer func() {
		s.discardInbox()
		for _, ln := range listeners {
			unix.Close(ln.origin.fd)
			ln.unixFile.remove()
		}
		for _, l := range s.loops {
			switch t := l.tp.(type) {
			case *pollTransport:
				t.poller.Close()
			case interface{ release() }:
				t.release()
			}
		}
	}()
	for i, spec := range specs {
		group, err := listenGroup(i, spec, numLoops)
		listeners = append(listeners, group...)
		if err != nil {
			return err
		}
	}
	s.engine = pollEngineName
	if askURing(specs) {
		s.engine = "io_uring"
	}
	for _, l := range s.loops {
		if s.engine == "io_uring" {
			t, err := openURing(l)
			if err == nil {
				l.tp = t
				continue
			}
			if l.index > 0 || !errors.Is(err, ErrIOUringUnavailable) {
				return fmt.Errorf("evio: %w", err)
			}
			// Refused by the system: the server runs on epoll, and says
			// why in Server.EngineFallback.
			s.engine, s.engineFallback = pollEngineName, err
		}
		p, err := poll.Open()
		if err != nil {
			return fmt.Errorf("evio: %w", err)
		}
		l.tp = &pollTransport{l: l, poller: p}
	}
	for _, l := range s.loops {
		l.dgram.on = mmsgSupported && datagramBatching.Load()
	}
	for _, ln := range listeners {
		// Each socket is polled by its home loop only (see
		// docs/ARCHITECTURE.md, "Accepting").
		ln.home = s.loops[ln.homeAt]
		if err := ln.home.tp.(listenerWatcher).addListener(ln); err != nil {
			return fmt.Errorf("evio: listen %s %s: %w", ln.spec.network, ln.spec.address, err)
		}
		if len(s.addrs) == ln.origin.index {
			s.addrs = append(s.addrs, ln.origin.addr) // a group's first socket
		}
	}
	return s.run(nil)
}

// listenGroup binds the index-th address: one socket, whose home is a
// loop in turn, or, for an address that asks for it (listenSpec.perLoop),
// one socket per loop on the same port. What it bound is returned with
// an error too, for the caller to close.
func listenGroup(index int, spec listenSpec, numLoops int) ([]*pollListener, error) {
	ln, err := listenPoll(index, spec)
	if err != nil {
		return nil, err
	}
	if !spec.perLoop(numLoops) {
		ln.homeAt = index % numLoops
		return []*pollListener{ln}, nil
	}
	ln.own = true
	group := []*pollListener{ln}
	for i := 1; i < numLoops; i++ {
		m, err := listenPoll(index, spec.samePort(ln.origin.addr))
		if err != nil {
			return group, err
		}
		m.own, m.homeAt = true, i
		group = append(group, m)
	}
	return group, nil
}

// listenerWatcher is a transport that accepts on pollListeners: the poll
// engine's, and the io_uring engine's.
type listenerWatcher interface {
	// addListener makes ln one of the transport's listeners and starts
	// accepting on it (for UDP, reading from it).
	addListener(ln *pollListener) error
	// resumeAccept watches ln again after an accept pause.
	resumeAccept(ln *pollListener) error
}

func (t *pollTransport) addListener(ln *pollListener) error {
	ln.token = uint64(len(t.listeners))
	t.listeners = append(t.listeners, ln)
	return t.resumeAccept(ln)
}

// listenPoll binds one address.
func listenPoll(index int, spec listenSpec) (*pollListener, error) {
	if spec.network == "unix" {
		if err := prepareUnixPath(spec.raw, spec.address); err != nil {
			return nil, err
		}
	}
	sl, err := socket.Listen(spec.network, spec.address, spec.reusePort)
	if err != nil {
		return nil, fmt.Errorf("evio: listen %s %s: %w", spec.network, spec.address, err)
	}
	ln := &pollListener{spec: spec, origin: origin{
		index:    index,
		addr:     sl.Addr,
		family:   sl.Family,
		fd:       sl.FD,
		unix:     sl.Family == unix.AF_UNIX,
		datagram: spec.datagram(),
		tls:      spec.tls,
	}}
	switch a := sl.Addr.(type) {
	case *net.TCPAddr:
		ln.origin.wildcard = a.IP.IsUnspecified()
	case *net.UnixAddr:
		ln.unixFile = statUnixSocket(spec.address)
	}
	return ln, nil
}

// accept takes the connections waiting on ln and opens each
// (openAccepted).
func (t *pollTransport) accept(ln *pollListener) {
	l := t.l
	for i := 0; i < acceptBatch; i++ {
		fd, peer, err := acceptFunc(ln.origin.fd)
		if err != nil {
			if err == unix.EAGAIN {
				ln.backoff = 0
				return
			}
			switch classifyAcceptError(err) {
			case acceptSkip:
				continue
			case acceptPause:
				// The connection stays in the backlog. Stop watching the
				// listener, or the level-triggered poller would spin, and
				// try again after a pause.
				t.pauseAccept(ln)
				return
			}
			l.server.shutdown(fmt.Errorf("evio: accept %s %s: %w", ln.spec.network, ln.spec.address, err))
			return
		}
		openAccepted(l, ln, fd, peer)
	}
}

// openAccepted opens fd, accepted on ln by loop l, on the loop the
// balancer places it on (balancer.place): in place when that is l,
// through the other loop's inbox if not. Both the poll and the io_uring engine accept by it.
func openAccepted(l *loop, ln *pollListener, fd int, peer socket.Addr) {
	ln.backoff = 0
	target := l.server.loops[l.server.balance.place(ln.home.index, ln.own)]
	c := &conn{loop: target, origin: &ln.origin, fd: int32(fd), slot: -1, remote: peer}
	if target == l {
		l.openConn(c)
	} else {
		target.post(task{kind: taskOpen, c: c})
	}
}

func (t *pollTransport) pauseAccept(ln *pollListener) {
	if err := t.poller.Delete(ln.origin.fd, poll.Readable); err != nil {
		t.l.server.shutdown(fmt.Errorf("evio: pausing accept on %s %s: %w", ln.spec.network, ln.spec.address, err))
		return
	}
	ln.watched = false
	ln.backoff = nextAcceptBackoff(ln.backoff)
	t.l.timers.schedule(ln, monotime()+int64(ln.backoff), 0)
}

// timerIndex and onTimer make a listener a timerTarget: the end of an
// accept pause.
func (ln *pollListener) timerIndex() *int32 { return &ln.timer }

func (ln *pollListener) onTimer(l *loop, now, arg int64) {
	if l.stopping || ln.watched {
		return
	}
	if err := l.tp.(listenerWatcher).resumeAccept(ln); err != nil {
		l.server.shutdown(fmt.Errorf("evio: resuming accept on %s %s: %w", ln.spec.network, ln.spec.address, err))
	}
}

func (t *pollTransport) resumeAccept(ln *pollListener) error {
	if err := t.poller.Add(ln.origin.fd, ln.token, poll.Readable); err != nil {
		return err
	}
	ln.watched = true
	return nil
}

// readDatagrams serves the datagrams waiting on a UDP socket: one Data
// event each.
func (t *pollTransport) readDatagrams(ln *pollListener) { readDatagrams(t.l, ln) }

// readDatagrams reads up to datagramBatch datagrams from ln, a UDP socket,
// and serves each: in batches where the system has recvmmsg (l.dgram),
// else one recvfrom each into l's read buffer. Both drop a datagram larger
// than server.datagramMax.
func readDatagrams(l *loop, ln *pollListener) {
	if l.dgram.on {
		l.dgram.read(l, &ln.origin)
		return
	}
	buf := l.readBuf[:l.server.datagramMax+1] // one byte more tells a datagram too large
	for i := 0; i < datagramBatch; i++ {
		n, sa, err := unix.Recvfrom(ln.origin.fd, buf, 0)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			// EAGAIN, or an error a past datagram left (ICMP port
			// unreachable, say): the socket itself is fine.
			return
		}
		if n > l.server.datagramMax {
			continue // dropped, not delivered cut short
		}
		l.serveDatagram(&ln.origin, socket.AddrOf(sa), append([]byte(nil), buf[:n]...))
	}
}
