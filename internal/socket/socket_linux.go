//go:build linux

package socket

import (
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func newSocket(family, typ int) (int, error) {
	fd, err := unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	return fd, nil
}

func readSomaxconn() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return unix.SOMAXCONN
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return unix.SOMAXCONN
	}
	return n
}

// SetKeepAlive turns TCP keepalive on with idle time and probe interval d,
// rounded up to whole seconds.
func SetKeepAlive(fd int, d time.Duration) error {
	secs := roundSeconds(d)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	return os.NewSyscallError("setsockopt", unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs))
}

// Unsettled reports whether closing fd now could reset the connection
// and destroy data in flight: the peer has sent bytes not yet read (a close
// then answers with a reset), or bytes written are not yet acknowledged by
// the peer (a reset provoked by anything the peer sends later would drop
// them). An error reads as settled.
//
// For a TCP socket one getsockopt(SO_MEMINFO) answers both (Linux 4.6
// and later): the memory of the receive queue and backlog, and of the send
// queue, whose buffers are freed only once the peer has acknowledged them.
// It also counts an unread end of stream as input, which only makes such
// a close linger until the end of stream is read. A unix socket's queues
// are charged to the sending socket, so SO_MEMINFO does not see its unread
// input: for it, for a socket not known to be TCP, and where SO_MEMINFO is
// refused, the two queue ioctls (SIOCINQ, SIOCOUTQ) answer.
func Unsettled(fd int, tcp bool) bool {
	if tcp {
		if unsettled, ok := meminfoUnsettled(fd); ok {
			return unsettled
		}
	}
	return queuesUnsettled(fd)
}

// meminfoUnsettled is Unsettled by SO_MEMINFO; ok is false where the
// kernel refuses it.
func meminfoUnsettled(fd int) (unsettled, ok bool) {
	var info [skMeminfoVars]uint32
	size := uint32(unsafe.Sizeof(info))
	_, _, errno := unix.RawSyscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&info[0])), uintptr(unsafe.Pointer(&size)), 0)
	if errno != 0 || size != uint32(unsafe.Sizeof(info)) {
		return false, false
	}
	return info[skMeminfoRmemAlloc] > 0 || info[skMeminfoBacklog] > 0 || info[skMeminfoWmemQueued] > 0, true
}

// queuesUnsettled is Unsettled by the queue ioctls: two system calls.
func queuesUnsettled(fd int) bool {
	if n, err := queued(fd, unix.TIOCINQ); err == nil && n > 0 {
		return true
	}
	n, err := queued(fd, unix.TIOCOUTQ)
	return err == nil && n > 0
}

// The fields of SO_MEMINFO's array that Unsettled reads (linux/sock_diag.h).
const (
	skMeminfoRmemAlloc  = 0 // receive queue
	skMeminfoWmemQueued = 5 // send queue, until acknowledged
	skMeminfoBacklog    = 7 // received while the socket was busy, not yet queued
	skMeminfoVars       = 9
)

// ReusePortBalances says that sockets bound to one address with
// SO_REUSEPORT share its connections and datagrams, the kernel spreading
// them by a hash of the peer's address (Linux 3.9 and later). On macOS
// and most BSDs the option only lets the sockets coexist, the newest one
// taking everything, so a listener per loop would leave the others idle.
const ReusePortBalances = true
