//go:build darwin || dragonfly || freebsd

package poll

import (
	"os"

	"golang.org/x/sys/unix"
)

// waker wakes a kqueue with an EVFILT_USER event: no descriptor needed.
type waker struct{}

// wakeIdent names our user event; it shares no namespace with descriptors,
// since kqueue keys events by (ident, filter).
const wakeIdent = 0

func (waker) open(kq int) error {
	var k unix.Kevent_t
	unix.SetKevent(&k, wakeIdent, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	if _, err := unix.Kevent(kq, []unix.Kevent_t{k}, nil, nil); err != nil {
		return os.NewSyscallError("kevent", err)
	}
	return nil
}

func (waker) is(ev *unix.Kevent_t) bool {
	return ev.Filter == unix.EVFILT_USER
}

// consume has nothing to do: EV_CLEAR resets the event once delivered.
func (waker) consume() {}

func (waker) trigger(kq int) error {
	var k unix.Kevent_t
	unix.SetKevent(&k, wakeIdent, unix.EVFILT_USER, 0)
	k.Fflags = unix.NOTE_TRIGGER
	for {
		_, err := unix.Kevent(kq, []unix.Kevent_t{k}, nil, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("kevent", err)
		}
		return nil
	}
}

func (waker) close() {}
