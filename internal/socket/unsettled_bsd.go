//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package socket

import "golang.org/x/sys/unix"

// fionread is FIONREAD, _IOR('f', 127, int), the same on every BSD and on
// macOS; x/sys/unix does not name it.
const fionread = 0x4004667f

// Unsettled reports whether closing fd now could reset the connection and
// destroy data in flight: the peer has sent bytes not yet read (a close
// then answers with a reset), or bytes written are not yet acknowledged by
// the peer (a reset provoked by anything the peer sends later would drop
// them). Unacknowledged output is known on macOS (SO_NWRITE), FreeBSD and
// NetBSD (FIONWRITE); OpenBSD and DragonFly have no such count, so there
// only unread input is seen. An error reads as settled. tcp does not
// change how it is asked here.
func Unsettled(fd int, tcp bool) bool {
	if n, err := unix.IoctlGetInt(fd, fionread); err == nil && n > 0 {
		return true
	}
	return unacknowledged(fd) > 0
}
