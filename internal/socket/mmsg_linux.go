//go:build linux

package socket

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr, one entry of a recvmmsg or sendmmsg array:
// a msghdr and the bytes that message moved. golang.org/x/sys has it as
// unix.Mmsghdr only from versions that need a newer Go than the library
// supports, so it is spelled out here; the Go layout is the C one on every
// architecture (64 bytes with 64-bit pointers, 32 with 32-bit ones; a test
// checks).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// Mmsgs is an array of messages for recvmmsg and sendmmsg, each with one
// buffer and room for an IPv4 or IPv6 address, all allocated once, so that
// moving a batch of datagrams allocates nothing. It belongs to one
// goroutine at a time.
//
// The entries hold pointers to Go memory (their buffers, addresses and
// iovecs): the kernel reads and writes them during the system call only,
// and the Go heap does not move objects, so the raw system call may pass
// them.
type Mmsgs struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // big enough for a sockaddr_in too
}

// NewMmsgs makes n entries, without buffers.
func NewMmsgs(n int) *Mmsgs {
	m := &Mmsgs{
		hdrs:  make([]mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		names: make([]unix.RawSockaddrInet6, n),
	}
	for i := range m.hdrs {
		h := &m.hdrs[i].hdr
		h.Name = (*byte)(unsafe.Pointer(&m.names[i]))
		h.Iov = &m.iovs[i]
		h.SetIovlen(1)
	}
	return m
}

// Len is the number of entries.
func (m *Mmsgs) Len() int { return len(m.hdrs) }

// SetBuf makes p the buffer of entry i: where a receive lands, or what a
// send sends. p must stay as it is until the call that uses it returns.
func (m *Mmsgs) SetBuf(i int, p []byte) {
	iov := &m.iovs[i]
	if len(p) == 0 {
		iov.Base = nil
	} else {
		iov.Base = &p[0]
	}
	iov.SetLen(len(p))
}

// SetAddr makes a the destination of entry i, for a socket of the given
// family (unix.AF_INET or AF_INET6), without allocating: Addr.Sockaddr
// allocates a unix.Sockaddr, and unix.Sendto converts it once more.
func (m *Mmsgs) SetAddr(i int, a Addr, family int) {
	name := &m.names[i]
	h := &m.hdrs[i].hdr
	if family == unix.AF_INET {
		// SAFETY: a sockaddr_in (16 bytes) fits in the sockaddr_in6 (28).
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		sa.Family = unix.AF_INET
		sa.Port = networkOrder(a.port) // swapping is its own inverse
		copy(sa.Addr[:], a.ip[12:])
		sa.Zero = [8]byte{}
		h.Namelen = unix.SizeofSockaddrInet4
		return
	}
	name.Family = unix.AF_INET6
	name.Port = networkOrder(a.port)
	name.Flowinfo = 0
	name.Addr = a.ip
	name.Scope_id = a.scope
	h.Namelen = unix.SizeofSockaddrInet6
}

// Recv receives up to n datagrams (n at most Len) into the buffers of the
// first n entries with one recvmmsg, and returns how many came; Result
// tells each one's size and sender. On a non-blocking socket it never
// blocks, so the raw system call is safe; with nothing waiting it fails
// with EAGAIN.
func (m *Mmsgs) Recv(fd, n int) (int, error) {
	if n <= 0 {
		return 0, nil
	}
	for i := 0; i < n; i++ {
		h := &m.hdrs[i].hdr
		h.Namelen = unix.SizeofSockaddrInet6 // the kernel writes the length it used
		h.Flags = 0
	}
	r, _, errno := unix.RawSyscall6(unix.SYS_RECVMMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&m.hdrs[0])), uintptr(n), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// Result is what the last Recv put in entry i: the datagram's size, its
// sender, and whether it was larger than the entry's buffer (MSG_TRUNC),
// its end then lost.
func (m *Mmsgs) Result(i int) (n int, from Addr, truncated bool) {
	h := &m.hdrs[i]
	return int(h.len), m.addrOf(i), h.hdr.Flags&unix.MSG_TRUNC != 0
}

// addrOf reads the sender the kernel wrote into entry i.
func (m *Mmsgs) addrOf(i int) Addr { return addrOfInet(&m.names[i]) }

// Send sends entries [from, to) with one sendmmsg and returns how many the
// kernel took, which may be fewer. An error (EAGAIN with the send buffer
// full, say) concerns entry from, the first not sent: sendmmsg reports an
// error only when it could send nothing. Like Recv, it never blocks.
func (m *Mmsgs) Send(fd, from, to int) (int, error) {
	if from >= to {
		return 0, nil
	}
	r, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, uintptr(fd),
		uintptr(unsafe.Pointer(&m.hdrs[from])), uintptr(to-from), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// Forget drops the buffers of entries [0, n), so that the array does not
// keep memory alive that its owner has let go.
func (m *Mmsgs) Forget(n int) {
	for i := 0; i < n; i++ {
		m.iovs[i].Base = nil
	}
}
