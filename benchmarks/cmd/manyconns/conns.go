package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/proc"
	"golang.org/x/sys/unix"
)

// client holds the connections: raw non-blocking sockets, an epoll of its
// own for the connects in flight, and nothing per connection but the
// descriptor once it is established (no package net, no goroutine, no
// buffer), so that a million of them cost the client a few megabytes.
type client struct {
	server  unix.SockaddrInet4
	srcBase uint32 // the first source address, 127.x.y.z as a number
	perSrc  int    // connections per source address
	ep      int
	fds     []int32            // established connections
	pending map[int32]struct{} // connects in flight
	started int                // connects started, for the source address
	failed  map[string]int     // failed connects by error
	nfailed int
	events  []unix.EpollEvent
}

func newClient(port int, srcBase [4]byte, perSrc, n int) (*client, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	return &client{
		server:  unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}},
		srcBase: uint32(srcBase[0])<<24 | uint32(srcBase[1])<<16 | uint32(srcBase[2])<<8 | uint32(srcBase[3]),
		perSrc:  perSrc,
		ep:      ep,
		fds:     make([]int32, 0, n),
		pending: map[int32]struct{}{},
		failed:  map[string]int{},
		events:  make([]unix.EpollEvent, 1024),
	}, nil
}

// srcAddr is the source address of the i-th connect: perSrc connects per
// address, since one address has only ip_local_port_range's ports (about
// 28,000 by default) towards one server address and port.
func srcAddr(base uint32, perSrc, i int) [4]byte {
	a := base + uint32(i/perSrc)
	return [4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}
}

func (c *client) fail(err error) {
	c.failed[err.Error()]++
	c.nfailed++
}

// connect starts one connect. IP_BIND_ADDRESS_NO_PORT lets bind take the
// source address alone: the port is picked at connect time, for the whole
// 4-tuple, so the port range is not spent per source address by bind.
func (c *client) connect() {
	src := srcAddr(c.srcBase, c.perSrc, c.started)
	c.started++
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		c.fail(fmt.Errorf("socket: %w", err))
		return
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1); err != nil {
		unix.Close(fd)
		c.fail(fmt.Errorf("IP_BIND_ADDRESS_NO_PORT: %w", err))
		return
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src}); err != nil {
		unix.Close(fd)
		c.fail(fmt.Errorf("bind: %w", err))
		return
	}
	switch err := unix.Connect(fd, &c.server); err {
	case nil:
		c.fds = append(c.fds, int32(fd))
		return
	case unix.EINPROGRESS:
	default:
		unix.Close(fd)
		c.fail(fmt.Errorf("connect: %w", err))
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd)}
	if err := unix.EpollCtl(c.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		unix.Close(fd)
		c.fail(fmt.Errorf("epoll_ctl: %w", err))
		return
	}
	c.pending[int32(fd)] = struct{}{}
}

// poll waits up to ms for connects to finish and files each as
// established or failed. An established socket leaves the epoll: the
// client keeps only its descriptor.
func (c *client) poll(ms int) error {
	n, err := unix.EpollWait(c.ep, c.events, ms)
	if err == unix.EINTR {
		return nil
	}
	if err != nil {
		return err
	}
	for _, ev := range c.events[:n] {
		fd := int(ev.Fd)
		if _, ok := c.pending[ev.Fd]; !ok {
			continue
		}
		delete(c.pending, ev.Fd)
		unix.EpollCtl(c.ep, unix.EPOLL_CTL_DEL, fd, nil)
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
		if err != nil {
			unix.Close(fd)
			c.fail(fmt.Errorf("connect: %w", err))
			continue
		}
		c.fds = append(c.fds, ev.Fd)
	}
	return nil
}

// dropPending closes the connects still in flight.
func (c *client) dropPending() {
	for fd := range c.pending {
		unix.Close(int(fd))
	}
	clear(c.pending)
}

// closeAll closes every connection with SO_LINGER 0: a reset, so that
// neither end leaves a million sockets in TIME_WAIT for the next run.
func (c *client) closeAll() {
	c.dropPending()
	l := unix.Linger{Onoff: 1, Linger: 0}
	for _, fd := range c.fds {
		unix.SetsockoptLinger(int(fd), unix.SOL_SOCKET, unix.SO_LINGER, &l)
		unix.Close(int(fd))
	}
	c.fds = c.fds[:0]
	unix.Close(c.ep)
}

// progressPoint is the state of the opening at one instant.
type progressPoint struct {
	T           float64 `json:"t_s"`
	Established int     `json:"established"`
	Queued      int     `json:"accept_queue"`
	Accepted    int     `json:"accepted"`             // established − accept queue
	ServerFDs   int     `json:"server_fds_delta"`     // the server's descriptors, less those it had before
	Failed      int     `json:"failed"`               // failed connects so far
	MemAvailMB  int64   `json:"mem_available_mb"`     // the machine's MemAvailable
	Throttled   float64 `json:"throttled_s,omitzero"` // seconds the client waited on a full accept queue so far
}

// openCfg bounds the opening.
type openCfg struct {
	n        int
	inflight int    // connects in flight at most
	maxQueue uint32 // the client waits while the accept queue holds this many
	deadline time.Time
	minAvail int64 // stop when MemAvailable falls under this, in bytes
	port     int
	pid      int // the server
	fdsStart int // its descriptors before
	stop     *atomic.Bool
}

// openResult is what the opening did.
type openResult struct {
	Established int            `json:"established"`
	Failed      map[string]int `json:"failed_connects"`
	// Stopped says why the opening ended before n connections were
	// established and accepted; empty when they all were.
	Stopped string `json:"stopped,omitempty"`
	// OpenSeconds runs to the last connect established, AcceptSeconds to
	// the instant the listener's accept queue was empty with all of them
	// established: the server had accepted every one.
	OpenSeconds      float64         `json:"open_s"`
	AcceptSeconds    float64         `json:"accept_s"`
	ThrottledSeconds float64         `json:"throttled_s"`
	Backlog          uint32          `json:"listen_backlog"`
	MaxQueued        uint32          `json:"max_accept_queue"`
	Progress         []progressPoint `json:"progress"`
}

// open establishes cfg.n connections, at most cfg.inflight connects at a
// time, waiting whenever the server's accept queue holds cfg.maxQueue (so
// the rate measured is the slower of the client's connects and the
// server's accepts, never a burst the backlog drops), and returns once the
// server has accepted them all or a bound stops it.
func (c *client) open(cfg openCfg, diag *diagSock) openResult {
	start := time.Now()
	r := openResult{Failed: c.failed}
	fdBuf := make([]byte, 1<<20)
	maxFailed := max(1000, cfg.n/100)
	var q listenQueue
	var lastDiag, lastThrottle time.Time
	nextCheck, nextTick := start, start.Add(time.Second)
	openedAt := time.Time{}
	record := func(now time.Time) {
		p := progressPoint{T: now.Sub(start).Seconds(), Established: len(c.fds), Queued: int(q.queued),
			Accepted: len(c.fds) - int(q.queued), Failed: c.nfailed, Throttled: r.ThrottledSeconds}
		if n, err := countFDs(cfg.pid, fdBuf); err == nil {
			p.ServerFDs = n - cfg.fdsStart
		}
		if a, err := memAvailable(); err == nil {
			p.MemAvailMB = a >> 20
		}
		r.Progress = append(r.Progress, p)
	}
	for {
		now := time.Now()
		if now.Sub(lastDiag) >= 2*time.Millisecond {
			var err error
			if q, err = diag.query(cfg.port); err != nil {
				r.Stopped = "reading the accept queue: " + err.Error()
				break
			}
			r.Backlog = q.limit
			r.MaxQueued = max(r.MaxQueued, q.queued)
			lastDiag = now
		}
		if openedAt.IsZero() && len(c.fds) >= cfg.n {
			openedAt = now
		}
		if !openedAt.IsZero() && q.queued == 0 {
			record(now)
			break
		}
		if !now.Before(nextCheck) {
			nextCheck = now.Add(200 * time.Millisecond)
			if reason := c.checkBounds(cfg, now); reason != "" {
				r.Stopped = reason
				record(now)
				break
			}
		}
		if !now.Before(nextTick) {
			nextTick = nextTick.Add(time.Second)
			record(now)
		}
		throttled := q.queued >= cfg.maxQueue
		if throttled {
			if !lastThrottle.IsZero() {
				r.ThrottledSeconds += now.Sub(lastThrottle).Seconds()
			}
			lastThrottle = now
		} else {
			lastThrottle = time.Time{}
			for len(c.pending) < cfg.inflight && len(c.fds)+len(c.pending) < cfg.n && c.nfailed <= maxFailed {
				c.connect()
			}
		}
		if err := c.poll(1); err != nil {
			r.Stopped = "epoll_wait: " + err.Error()
			break
		}
		if c.nfailed > maxFailed {
			r.Stopped = fmt.Sprintf("%d connects failed", c.nfailed)
			record(time.Now())
			break
		}
	}
	c.dropPending()
	end := time.Now()
	if openedAt.IsZero() {
		openedAt = end
	}
	r.Established = len(c.fds)
	r.OpenSeconds = openedAt.Sub(start).Seconds()
	r.AcceptSeconds = end.Sub(start).Seconds()
	return r
}

// checkBounds names the bound that stops the opening, if one does.
func (c *client) checkBounds(cfg openCfg, now time.Time) string {
	if cfg.stop.Load() {
		return "interrupted"
	}
	if now.After(cfg.deadline) {
		return "deadline reached"
	}
	if !proc.Alive(cfg.pid) {
		return "the server exited"
	}
	if a, err := memAvailable(); err == nil && a < cfg.minAvail {
		return fmt.Sprintf("MemAvailable fell to %d MiB, under the %d MiB floor", a>>20, cfg.minAvail>>20)
	}
	return ""
}

// sampleResult is the check that the connections still answer.
type sampleResult struct {
	Size     int            `json:"size"`
	Answered int            `json:"answered"`
	Failed   int            `json:"failed"`
	Errors   map[string]int `json:"errors,omitempty"`
	P50ms    float64        `json:"p50_ms"`
	Maxms    float64        `json:"max_ms"`
	Seconds  float64        `json:"seconds"`
}

// check writes an echo request on k connections picked at random and
// waits, up to timeout, for each to come back whole.
func (c *client) check(k int, timeout time.Duration) sampleResult {
	k = min(k, len(c.fds))
	res := sampleResult{Size: k, Errors: map[string]int{}}
	type pend struct {
		want []byte
		got  []byte
		sent time.Time
	}
	picked := map[int32]*pend{}
	for _, i := range rand.Perm(len(c.fds))[:k] {
		fd := c.fds[i]
		msg := fmt.Appendf(nil, "manyconns sample %07d\r\n", i)
		p := &pend{want: msg, sent: time.Now()}
		if n, err := unix.Write(int(fd), msg); err != nil || n != len(msg) {
			res.Errors[fmt.Sprintf("write: %v (%d bytes)", err, n)]++
			continue
		}
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: fd}
		if err := unix.EpollCtl(c.ep, unix.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
			res.Errors["epoll_ctl: "+err.Error()]++
			continue
		}
		picked[fd] = p
	}
	start := time.Now()
	var lat []float64
	buf := make([]byte, 4096)
	done := func(fd int32, why string) {
		unix.EpollCtl(c.ep, unix.EPOLL_CTL_DEL, int(fd), nil)
		if why == "" {
			lat = append(lat, float64(time.Since(picked[fd].sent).Microseconds())/1000)
		} else {
			res.Errors[why]++
		}
		delete(picked, fd)
	}
	for deadline := start.Add(timeout); len(picked) > 0 && time.Now().Before(deadline); {
		n, err := unix.EpollWait(c.ep, c.events, 10)
		if err != nil && err != unix.EINTR {
			break
		}
		for _, ev := range c.events[:max(n, 0)] {
			p, ok := picked[ev.Fd]
			if !ok {
				continue
			}
			m, err := unix.Read(int(ev.Fd), buf)
			switch {
			case err == unix.EAGAIN:
				continue
			case err != nil:
				done(ev.Fd, "read: "+err.Error())
				continue
			case m == 0:
				done(ev.Fd, "closed by the server")
				continue
			}
			p.got = append(p.got, buf[:m]...)
			if len(p.got) >= len(p.want) {
				if bytes.Equal(p.got, p.want) {
					done(ev.Fd, "")
				} else {
					done(ev.Fd, "wrong answer")
				}
			}
		}
	}
	for fd := range picked {
		done(fd, fmt.Sprintf("no answer within %v", timeout))
	}
	res.Seconds = time.Since(start).Seconds()
	res.Answered = len(lat)
	res.Failed = k - res.Answered
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50ms, res.Maxms = lat[len(lat)/2], lat[len(lat)-1]
	}
	return res
}
