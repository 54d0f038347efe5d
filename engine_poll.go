//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/evio-go/evio/internal/poll"
	"github.com/evio-go/evio/internal/socket"
	"golang.org/x/sys/unix"
)

// pollEngineAvailable tells serve that this system has epoll or kqueue.
const pollEngineAvailable = true

// pollServer is one Serve call on the epoll/kqueue engine: a set of loops,
// each a goroutine with its own poller, and the listeners they accept on.
type pollServer struct {
	events    Events      // immutable
	handlers  handlers    // calls events
	loops     []*loop     // immutable once the loops run
	listeners []*listener // immutable once the loops run
	balance   *balancer
	budget    *outputBudget

	stopOnce sync.Once
	done     sync.WaitGroup // one count per running loop

	errMu sync.Mutex
	err   error // the first fatal error; guarded by errMu
}

// listener is a bound socket. Each is watched by one loop only, its home,
// so a new connection wakes one loop rather than all of them.
type listener struct {
	index    int             // position in Serve's addr arguments
	spec     listenSpec      // immutable
	fd       int             // immutable
	family   int             // unix.AF_INET, AF_INET6 or AF_UNIX
	addr     net.Addr        // the bound address, as Server.Addrs reports it
	wildcard bool            // bound to an unspecified IP: each connection asks for its local address
	unixFile *unixSocketFile // removed at shutdown
	home     *loop

	// Accept back-off after EMFILE and the like; owned by the home loop.
	paused  bool          // not registered with the poller
	backoff time.Duration // the last pause
	retryAt time.Time     // when to register again
}

func servePoll(events Events, specs []listenSpec, numLoops int) error {
	s := &pollServer{
		events:   events,
		handlers: handlers{events: events},
		balance:  newBalancer(events.LoadBalance, numLoops),
		budget:   newOutputBudget(events.MaxTotalOutput, numLoops),
	}
	defer s.release()
	for i, spec := range specs {
		ln, err := listenPoll(i, spec)
		if err != nil {
			return err
		}
		s.listeners = append(s.listeners, ln)
	}
	for i := 0; i < numLoops; i++ {
		l, err := newLoop(s, i)
		if err != nil {
			return fmt.Errorf("evio: starting loop %d: %w", i, err)
		}
		s.loops = append(s.loops, l)
	}
	addrs := make([]net.Addr, len(s.listeners))
	for i, ln := range s.listeners {
		// Spread listeners over the loops; each one is polled by its home
		// loop only (see docs/ARCHITECTURE.md, "Accepting").
		ln.home = s.loops[i%numLoops]
		ln.home.listeners = append(ln.home.listeners, ln)
		if err := ln.home.poller.Add(ln.fd, poll.Readable); err != nil {
			return fmt.Errorf("evio: listen %s %s: %w", ln.spec.network, ln.spec.address, err)
		}
		addrs[i] = ln.addr
	}
	action, err := s.handlers.serving(Server{Addrs: addrs, NumLoops: numLoops})
	if err != nil || action == Shutdown {
		return err
	}
	s.done.Add(numLoops)
	for _, l := range s.loops {
		go l.run()
	}
	s.done.Wait()
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// listenPoll binds one address.
func listenPoll(index int, spec listenSpec) (*listener, error) {
	if spec.network == "unix" {
		if err := prepareUnixPath(spec.raw, spec.address); err != nil {
			return nil, err
		}
	}
	sl, err := socket.Listen(spec.network, spec.address, spec.reusePort)
	if err != nil {
		return nil, fmt.Errorf("evio: listen %s %s: %w", spec.network, spec.address, err)
	}
	ln := &listener{index: index, spec: spec, fd: sl.FD, family: sl.Family, addr: sl.Addr}
	switch a := sl.Addr.(type) {
	case *net.TCPAddr:
		ln.wildcard = a.IP.IsUnspecified()
	case *net.UnixAddr:
		ln.unixFile = statUnixSocket(spec.address)
	}
	return ln, nil
}

// shutdown stops the server: every loop drains and exits. err, when not
// nil, is what Serve returns. Safe from any goroutine, any number of times.
func (s *pollServer) shutdown(err error) {
	if err != nil {
		s.errMu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.errMu.Unlock()
	}
	s.stopOnce.Do(func() {
		for _, l := range s.loops {
			l.stopRequested.Store(true)
			l.poller.Wake()
		}
	})
}

// release frees what the server holds once its loops have exited (or never
// started): connections handed to a loop that had already stopped, the
// listeners, their socket files and the pollers.
func (s *pollServer) release() {
	for _, l := range s.loops {
		for _, item := range l.inbox.Take(nil) {
			if item.woken == nil {
				unix.Close(item.fd)
			}
		}
	}
	for _, ln := range s.listeners {
		unix.Close(ln.fd)
		ln.unixFile.remove()
	}
	for _, l := range s.loops {
		l.poller.Close()
	}
}

// accept takes the connections waiting on ln and gives each to the loop the
// balancer picks.
func (l *loop) accept(ln *listener) {
	for i := 0; i < acceptBatch; i++ {
		fd, peer, err := acceptFunc(ln.fd)
		if err != nil {
			switch err {
			case unix.EAGAIN:
				ln.backoff = 0
				return
			case unix.EINTR, unix.ECONNABORTED, unix.EPROTO, unix.EPERM:
				// This connection failed, not the listener.
				continue
			case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
				// Out of descriptors or memory: the connection stays in
				// the backlog. Stop watching the listener, or the level-
				// triggered poller would spin, and retry after a pause.
				l.pauseAccept(ln)
				return
			}
			l.server.shutdown(fmt.Errorf("evio: accept %s %s: %w", ln.spec.network, ln.spec.address, err))
			return
		}
		ln.backoff = 0
		target := l.server.loops[l.server.balance.pick()]
		if target == l {
			l.openConn(fd, peer, ln)
		} else {
			target.handOff(inboxItem{fd: fd, peer: peer, listener: ln})
		}
	}
}

// acceptFunc is socket.Accept; tests replace it to inject errors.
var acceptFunc = socket.Accept

// acceptBatch bounds the connections taken per readiness event, so that a
// connection storm cannot starve the loop's other connections.
const acceptBatch = 128

const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

func (l *loop) pauseAccept(ln *listener) {
	if err := l.poller.Delete(ln.fd, poll.Readable); err != nil {
		l.server.shutdown(fmt.Errorf("evio: pausing accept on %s %s: %w", ln.spec.network, ln.spec.address, err))
		return
	}
	ln.paused = true
	ln.backoff *= 2
	if ln.backoff < minAcceptBackoff {
		ln.backoff = minAcceptBackoff
	}
	if ln.backoff > maxAcceptBackoff {
		ln.backoff = maxAcceptBackoff
	}
	ln.retryAt = time.Now().Add(ln.backoff)
}

func (l *loop) resumeAccept(ln *listener) {
	if err := l.poller.Add(ln.fd, poll.Readable); err != nil {
		l.server.shutdown(fmt.Errorf("evio: resuming accept on %s %s: %w", ln.spec.network, ln.spec.address, err))
		return
	}
	ln.paused = false
}

// setAddrs records a new connection's addresses: cheap now, converted to
// net.Addr only if asked for.
func (l *loop) setAddrs(c *conn, peer socket.Addr) {
	c.remote = peer
	if c.listener.wildcard {
		// The listener's address names no IP: ask which one the peer reached.
		if local, err := socket.LocalAddr(c.fd); err == nil {
			c.local = local
		}
	}
}
