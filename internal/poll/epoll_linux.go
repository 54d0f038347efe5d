//go:build linux

package poll

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Poller is an epoll instance plus an eventfd for wakeups.
type Poller struct {
	epfd   int // epoll descriptor; immutable until Close
	wakefd int // eventfd registered for reading; immutable until Close

	events [maxEvents]unix.EpollEvent // owner goroutine only

	// The epoll descriptor is also registered with Go's own poller, so
	// that a Wait with nothing ready parks the goroutine there instead of
	// blocking its thread in epoll_wait (see Wait). Owner goroutine only;
	// file is nil where the runtime refused the registration.
	file        *os.File
	raw         syscall.RawConn
	tryWait     func(uintptr) bool // p.peek as a func value, made once
	ready       int                // what the last peek found
	peekErr     error
	deadlineSet bool

	// wakePending is set by the Wake that writes the eventfd and cleared
	// by Wait once it has read it, so that concurrent Wakes write once.
	wakePending atomic.Bool

	// closeMu keeps Wake from writing to a descriptor number that Close
	// has released and the process may have reused.
	closeMu sync.RWMutex
	closed  bool
}

// Open creates a poller.
func Open() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	p := &Poller{epfd: epfd, wakefd: wakefd}
	if err := p.Add(wakefd, wakeToken, Readable); err != nil {
		unix.Close(wakefd)
		unix.Close(epfd)
		return nil, err
	}
	p.parkInRuntime()
	return p, nil
}

// parkInRuntime registers the epoll descriptor with Go's poller. A loop
// that blocked in epoll_wait would be a goroutine in a system call: with
// GOMAXPROCS=1, Go's sysmon takes its P away after 20 us and hands it to
// another thread, which spins and parks, and the loop's goroutine comes
// back on whichever thread has the P: two context switches and a sysmon
// that never sleeps deeply, for every wait that blocks. Parked in the
// runtime's poller instead, the goroutine waits like any net.Conn reader.
// Where the registration fails, Wait blocks in epoll_wait as before.
func (p *Poller) parkInRuntime() {
	if unix.SetNonblock(p.epfd, true) != nil {
		return
	}
	f := os.NewFile(uintptr(p.epfd), "epoll")
	raw, err := f.SyscallConn()
	if err != nil || f.SetReadDeadline(time.Time{}) != nil {
		// Not pollable: the runtime did not take it. The descriptor
		// stays the poller's; f must not close it.
		return
	}
	p.file, p.raw = f, raw
	p.tryWait = p.peek
}

// peek takes the events that are ready without blocking: a raw system
// call, since it never sleeps.
func (p *Poller) peek(uintptr) bool {
	n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd),
		uintptr(unsafe.Pointer(&p.events[0])), uintptr(len(p.events)), 0, 0, 0)
	p.ready, p.peekErr = int(n), nil
	if errno != 0 {
		p.ready = 0
		if errno != unix.EINTR {
			p.peekErr = errno
			return true
		}
	}
	return p.ready > 0
}

func epollEvents(in Interest) uint32 {
	var ev uint32
	if in&Readable != 0 {
		ev |= unix.EPOLLIN
	}
	if in&Writable != 0 {
		ev |= unix.EPOLLOUT
	}
	return ev
}

// wakeToken marks the eventfd's events; the loops never use it.
const wakeToken = ^uint64(0)

// setToken stores token in ev's 64-bit data word, which x/sys/unix spells
// as the two 32-bit fields Fd and Pad on every Linux architecture.
func setToken(ev *unix.EpollEvent, token uint64) {
	ev.Fd = int32(uint32(token))
	ev.Pad = int32(uint32(token >> 32))
}

func tokenOf(ev *unix.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

func (p *Poller) control(op, fd int, token uint64, in Interest) error {
	ev := unix.EpollEvent{Events: epollEvents(in)}
	setToken(&ev, token)
	if err := epollCtl(p.epfd, op, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// epollCtl is epoll_ctl as a raw system call: it never sleeps, and so
// keeps the loop out of the scheduler's system-call state (see
// parkInRuntime).
func epollCtl(epfd, op, fd int, ev *unix.EpollEvent) error {
	_, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// Add starts watching fd for in; its events carry token.
func (p *Poller) Add(fd int, token uint64, in Interest) error {
	return p.control(unix.EPOLL_CTL_ADD, fd, token, in)
}

// Modify changes what fd is watched for from old to in. A descriptor
// watched for nothing is taken out of the epoll set: epoll reports a
// hang-up or an error whatever a descriptor is watched for, level-
// triggered, so one that stayed in the set would be reported on every
// wait while its owner does not want to hear of it (reading paused, say).
// As kqueue, it then reports nothing until it is watched again.
func (p *Poller) Modify(fd int, token uint64, old, in Interest) error {
	switch {
	case in == old:
		return nil
	case in == 0:
		return p.Delete(fd, old)
	case old == 0:
		return p.control(unix.EPOLL_CTL_ADD, fd, token, in)
	}
	return p.control(unix.EPOLL_CTL_MOD, fd, token, in)
}

// Delete stops watching fd, watched for old. Closing a descriptor also
// stops watching it, so Delete is needed only for descriptors that stay
// open.
func (p *Poller) Delete(fd int, old Interest) error {
	if old == 0 {
		return nil // out of the set already (see Modify)
	}
	if err := epollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Release is a no-op: closing a descriptor removes it from the epoll set,
// and its token lives in the kernel's registration.
func (p *Poller) Release(fd int) {}

// Wait waits for events; see the package documentation.
func (p *Poller) Wait(timeout time.Duration) (int, error) {
	msec := -1
	if timeout >= 0 {
		// Round up, so that a deadline less than a millisecond away does
		// not turn into a busy poll.
		msec = int((timeout + time.Millisecond - 1) / time.Millisecond)
	}
	var n int
	var err error
	if p.file != nil {
		n, err = p.park(timeout)
	} else {
		n, err = unix.EpollWait(p.epfd, p.events[:], msec)
	}
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, os.NewSyscallError("epoll_wait", err)
	}
	for i := 0; i < n; i++ {
		if tokenOf(&p.events[i]) != wakeToken {
			continue
		}
		p.consumeWakeup()
		n--
		p.events[i] = p.events[n]
		break
	}
	return n, nil
}

// park waits in Go's poller for the epoll descriptor to have events; see
// parkInRuntime.
func (p *Poller) park(timeout time.Duration) (int, error) {
	switch {
	case timeout == 0:
		p.peek(0)
		return p.ready, p.peekErr
	case timeout > 0:
		// A deadline moves a runtime timer: set it only when nothing is
		// ready.
		if p.peek(0) || p.peekErr != nil {
			return p.ready, p.peekErr
		}
		p.file.SetReadDeadline(time.Now().Add(timeout))
		p.deadlineSet = true
	case p.deadlineSet:
		p.file.SetReadDeadline(time.Time{})
		p.deadlineSet = false
	}
	// Read peeks before it parks, and must, even right after a peek of
	// park's own: it first clears the runtime's record of readiness, so
	// an edge that came after an earlier peek would be lost if that peek
	// were trusted (a wakeup of the loop lost for good, seen as a
	// connection handed to another loop and never served).
	err := p.raw.Read(p.tryWait)
	if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return 0, err
	}
	return p.ready, p.peekErr
}

func (p *Poller) consumeWakeup() {
	var buf [8]byte
	// The eventfd is non-blocking: EAGAIN only means another read won.
	unix.Read(p.wakefd, buf[:])
	p.wakePending.Store(false)
}

// Event returns the i-th event of the last Wait.
func (p *Poller) Event(i int) (token uint64, r Ready) {
	ev := &p.events[i]
	if ev.Events&(unix.EPOLLIN|unix.EPOLLPRI) != 0 {
		r |= readyRead
	}
	if ev.Events&unix.EPOLLOUT != 0 {
		r |= readyWrite
	}
	if ev.Events&(unix.EPOLLHUP|unix.EPOLLRDHUP) != 0 {
		r |= readyHangup
	}
	if ev.Events&unix.EPOLLERR != 0 {
		r |= readyError
	}
	return tokenOf(ev), r
}

// Wake interrupts Wait; see the package documentation.
func (p *Poller) Wake() error {
	if !p.wakePending.CompareAndSwap(false, true) {
		return nil
	}
	p.closeMu.RLock()
	defer p.closeMu.RUnlock()
	if p.closed {
		return nil
	}
	var one uint64 = 1
	buf := (*[8]byte)(unsafe.Pointer(&one))
	for {
		_, err := unix.Write(p.wakefd, buf[:])
		switch err {
		case nil, unix.EAGAIN:
			// EAGAIN: the counter is saturated, so Wait will wake anyway.
			return nil
		case unix.EINTR:
			continue
		}
		p.wakePending.Store(false)
		return os.NewSyscallError("write", err)
	}
}

// Close releases the poller's descriptors.
func (p *Poller) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	err1 := unix.Close(p.wakefd)
	var err2 error
	if p.file != nil {
		err2 = p.file.Close()
	} else {
		err2 = unix.Close(p.epfd)
	}
	if err1 != nil {
		return os.NewSyscallError("close", err1)
	}
	if err2 != nil {
		return os.NewSyscallError("close", err2)
	}
	return nil
}
