//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package poll

import (
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Poller is a kqueue plus a wakeup source (EVFILT_USER where the system has
// it, a pipe elsewhere).
type Poller struct {
	kq     int                      // kqueue descriptor; immutable until Close
	waker  waker                    // immutable until Close
	events [maxEvents]unix.Kevent_t // owner goroutine only
	ready  [maxEvents]Ready         // decoded events of the last Wait
	tokens [maxEvents]uint64        // their tokens, read as Wait returned
	// registered holds each watched descriptor's token: kqueue's udata is
	// a pointer field, which cannot carry an integer safely (see the
	// package documentation). Owner goroutine only.
	registered map[int]uint64
	// changes is reused for registrations; owner goroutine only.
	changes [2]unix.Kevent_t

	// wakePending is set by the Wake that triggers the waker and cleared
	// by Wait once it has consumed it, so that concurrent Wakes trigger once.
	wakePending atomic.Bool

	// closeMu keeps Wake from using descriptors that Close has released.
	closeMu sync.RWMutex
	closed  bool
}

// Open creates a poller.
func Open() (*Poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, os.NewSyscallError("kqueue", err)
	}
	unix.CloseOnExec(kq)
	p := &Poller{kq: kq, registered: make(map[int]uint64)}
	if err := p.waker.open(kq); err != nil {
		unix.Close(kq)
		return nil, err
	}
	return p, nil
}

func (p *Poller) apply(changes []unix.Kevent_t) error {
	for {
		_, err := unix.Kevent(p.kq, changes, nil, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("kevent", err)
		}
		return nil
	}
}

// change registers (flags EV_ADD) or removes (EV_DELETE) the filters of in.
func (p *Poller) change(fd int, in Interest, flags int) error {
	changes := p.changes[:0]
	if in&Readable != 0 {
		var k unix.Kevent_t
		unix.SetKevent(&k, fd, unix.EVFILT_READ, flags)
		changes = append(changes, k)
	}
	if in&Writable != 0 {
		var k unix.Kevent_t
		unix.SetKevent(&k, fd, unix.EVFILT_WRITE, flags)
		changes = append(changes, k)
	}
	if len(changes) == 0 {
		return nil
	}
	return p.apply(changes)
}

// Add starts watching fd for in; its events carry token.
func (p *Poller) Add(fd int, token uint64, in Interest) error {
	if err := p.change(fd, in, unix.EV_ADD); err != nil {
		return err
	}
	p.registered[fd] = token
	return nil
}

// Modify changes what fd is watched for from old to in.
func (p *Poller) Modify(fd int, token uint64, old, in Interest) error {
	if err := p.change(fd, in&^old, unix.EV_ADD); err != nil {
		return err
	}
	p.registered[fd] = token
	return p.change(fd, old&^in, unix.EV_DELETE)
}

// Delete stops watching fd. Closing a descriptor also stops watching it, so
// Delete is needed only for descriptors that stay open.
func (p *Poller) Delete(fd int, old Interest) error {
	err := p.change(fd, old, unix.EV_DELETE)
	if se, ok := err.(*os.SyscallError); ok && se.Err == unix.ENOENT {
		err = nil
	}
	if err == nil {
		delete(p.registered, fd)
	}
	return err
}

// Release forgets fd's token: closing the descriptor removed its filters
// from the kqueue.
func (p *Poller) Release(fd int) {
	delete(p.registered, fd)
}

// Wait waits for events; see the package documentation.
func (p *Poller) Wait(timeout time.Duration) (int, error) {
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	n, err := unix.Kevent(p.kq, nil, p.events[:], ts)
	if err != nil {
		if err == unix.EINTR {
			return 0, nil
		}
		return 0, os.NewSyscallError("kevent", err)
	}
	kept := 0
	for i := 0; i < n; i++ {
		ev := &p.events[i]
		if p.waker.is(ev) {
			p.waker.consume()
			p.wakePending.Store(false)
			continue
		}
		var r Ready
		switch ev.Filter {
		case unix.EVFILT_READ:
			r |= readyRead
		case unix.EVFILT_WRITE:
			r |= readyWrite
		}
		if ev.Flags&unix.EV_EOF != 0 {
			r |= readyHangup
		}
		if ev.Flags&unix.EV_ERROR != 0 {
			r |= readyError
		}
		token, ok := p.registered[int(ev.Ident)]
		if !ok {
			continue // released already; nothing asked for it
		}
		p.tokens[kept] = token
		p.ready[kept] = r
		kept++
	}
	return kept, nil
}

// Event returns the i-th event of the last Wait. kqueue reports reading and
// writing as separate events, so one descriptor may appear twice.
func (p *Poller) Event(i int) (token uint64, r Ready) {
	return p.tokens[i], p.ready[i]
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
	if err := p.waker.trigger(p.kq); err != nil {
		p.wakePending.Store(false)
		return err
	}
	return nil
}

// Close releases the poller's descriptors.
func (p *Poller) Close() error {
	p.closeMu.Lock()
	defer p.closeMu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	p.waker.close()
	if err := unix.Close(p.kq); err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}
