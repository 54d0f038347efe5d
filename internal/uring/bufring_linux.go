//go:build linux

package uring

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// More of the uapi: provided-buffer rings, multishot operations, waiting
// with a timeout.
const (
	registerEnableRings = 12
	registerRingFDs     = 20
	registerPbufRing    = 22
	registerUnregister  = 23 // IORING_UNREGISTER_PBUF_RING

	enterExtArg = 1 << 3

	// SQE flags.
	SQEBufferSelect = 1 << 5

	// SQE IOPrio bits of accept and recv.
	AcceptMultishot = 1 << 0
	RecvMultishot   = 1 << 1
	SendPollFirst   = 1 << 0 // wait for room before trying: after -EAGAIN

	// CQE flags.
	CQEBuffer = 1 << 0 // a provided buffer was used: its id is Flags >> CQEBufferShift
	CQEMore   = 1 << 1 // a multishot operation goes on: more completions follow

	CQEBufferShift = 16

	// OpAsyncCancel flags (in OpFlags).
	CancelAll = 1 << 0 // every matching operation, not just the first
	CancelFD  = 1 << 1 // match on FD instead of Addr's user data
	CancelAny = 1 << 2 // match every operation of the ring

	PollAddMulti = 1 << 0 // OpPollAdd Len: report readiness until cancelled
)

type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

type ringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	resv uint16 // in entry 0, the ring's tail
}

// BufRing is a provided-buffer ring: buffers the kernel picks from for
// receives with SQEBufferSelect, so that a connection holds none while it
// waits. The ring and the buffers are memory mapped outside Go's heap:
// the kernel may write a buffer at any time between its Provide and the
// completion that names it, and Go memory must not move or be freed
// under it (Go's collector does not move, but it frees what Go code no
// longer references).
type BufRing struct {
	ring    *Ring
	group   uint16
	entries uint16
	size    int
	mem     []byte // the ring's entries
	bufs    []byte // entries * size bytes of buffers
	tail    uint16
}

// RegisterBufRing registers a ring of entries buffers (a power of two) of
// size bytes each as buffer group group, every buffer provided.
func (r *Ring) RegisterBufRing(group uint16, entries uint16, size int) (*BufRing, error) {
	br := &BufRing{ring: r, group: group, entries: entries, size: size}
	var err error
	ringBytes := int(entries) * int(unsafe.Sizeof(ringBuf{}))
	if br.mem, err = unix.Mmap(-1, 0, ringBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE); err != nil {
		return nil, fmt.Errorf("uring: buffer ring: %w", err)
	}
	if br.bufs, err = unix.Mmap(-1, 0, int(entries)*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE); err != nil {
		unix.Munmap(br.mem)
		return nil, fmt.Errorf("uring: buffers: %w", err)
	}
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&br.mem[0]))), ringEntries: uint32(entries), bgid: group}
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0)
	if errno != 0 {
		br.unmap()
		return nil, fmt.Errorf("uring: registering buffer group %d: %w", group, errno)
	}
	for id := uint16(0); id < entries; id++ {
		br.put(id)
	}
	br.publish()
	return br, nil
}

func (br *BufRing) entry(i uint16) *ringBuf {
	return (*ringBuf)(unsafe.Pointer(&br.mem[int(i)*int(unsafe.Sizeof(ringBuf{}))]))
}

func (br *BufRing) put(id uint16) {
	e := br.entry(br.tail & (br.entries - 1))
	e.addr = uint64(uintptr(unsafe.Pointer(&br.bufs[int(id)*br.size])))
	e.len = uint32(br.size)
	e.bid = id
	br.tail++
}

// publish stores the new tail for the kernel (release: the entries are
// written before it).
//
// The tail is the 16-bit word at byte 14 of the ring, where entry 0's
// reserved field is (struct io_uring_buf_ring). Go has no 16-bit atomic
// store, so the 32-bit word at byte 12 is stored whole: entry 0's buffer
// id, which is ours and written before, and the tail.
func (br *BufRing) publish() {
	word := uint32(br.entry(0).bid) | uint32(br.tail)<<16
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&br.mem[12])), word)
}

// Buffer returns the bytes of buffer id that a completion filled.
func (br *BufRing) Buffer(id uint16, n int) []byte {
	off := int(id) * br.size
	return br.bufs[off : off+n : off+br.size]
}

// Provide gives buffer id back to the kernel once its bytes are used.
func (br *BufRing) Provide(id uint16) {
	br.put(id)
	br.publish()
}

// Close unregisters the group and unmaps its memory; no receive may be in
// flight on it.
func (br *BufRing) Close() error {
	reg := bufReg{bgid: br.group}
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(br.ring.fd), registerUnregister, uintptr(unsafe.Pointer(&reg)), 1, 0, 0)
	br.unmap()
	if errno != 0 {
		return fmt.Errorf("uring: unregistering buffer group %d: %w", br.group, errno)
	}
	return nil
}

func (br *BufRing) unmap() {
	unix.Munmap(br.mem)
	unix.Munmap(br.bufs)
}

type getEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	pad       uint32
	ts        uint64
}

// SubmitWait is Submit that waits for waitFor completions (none: it only
// reaps what is ready, which a ring with SetupDeferTaskrun needs to see
// completions at all), at most timeout (forever when negative). A wait
// that times out or is interrupted is not an error. It returns what was
// submitted.
func (r *Ring) SubmitWait(waitFor uint32, timeout time.Duration) (int, error) {
	n := r.sqPending
	if n > 0 {
		atomic.StoreUint32(r.sqTail, *r.sqTail+n)
		r.sqPending = 0
	}
	r.waitArg = getEventsArg{sigmaskSz: 8}
	if timeout >= 0 {
		r.waitTS = unix.NsecToTimespec(int64(timeout))
		r.waitArg.ts = uint64(uintptr(unsafe.Pointer(&r.waitTS)))
	}
	got, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.enterFD), uintptr(n), uintptr(waitFor),
		r.enterFlags|enterGetEvents|enterExtArg, uintptr(unsafe.Pointer(&r.waitArg)), unsafe.Sizeof(r.waitArg))
	switch errno {
	case 0, unix.ETIME, unix.EINTR:
		return int(got), nil
	}
	return int(got), fmt.Errorf("uring: io_uring_enter: %w", errno)
}

type rsrcUpdate struct {
	offset uint32
	resv   uint32
	data   uint64
}

// SubmitReap submits what is queued and makes the kernel post the
// completions that are ready, without waiting: an enter that never
// sleeps, made without telling Go's scheduler (a raw system call), so that
// a busy loop that finds work does not pay for a blocking call.
func (r *Ring) SubmitReap() error {
	n := r.sqPending
	if n > 0 {
		atomic.StoreUint32(r.sqTail, *r.sqTail+n)
		r.sqPending = 0
	}
	_, _, errno := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.enterFD), uintptr(n), 0, r.enterFlags|enterGetEvents, 0, 0)
	switch errno {
	case 0, unix.EINTR:
		return nil
	}
	return fmt.Errorf("uring: io_uring_enter: %w", errno)
}

// Ready reports whether completions wait to be peeked.
func (r *Ring) Ready() bool { return *r.cqHead != atomic.LoadUint32(r.cqTail) }

// RegisterRingFD registers the ring's descriptor with the calling thread,
// so that its enters skip looking the descriptor up. Registrations belong
// to the thread that makes them: only that thread may enter the ring
// afterwards (the single issuer's, locked to it).
func (r *Ring) RegisterRingFD() error {
	upd := rsrcUpdate{offset: ^uint32(0), data: uint64(r.fd)}
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerRingFDs, uintptr(unsafe.Pointer(&upd)), 1, 0, 0)
	if errno != 0 {
		return fmt.Errorf("uring: registering the ring's descriptor: %w", errno)
	}
	r.enterFD, r.enterFlags = int(upd.offset), enterRegisteredRing
	return nil
}

// EnableRings enables a ring made with SetupRDisabled. With
// SetupSingleIssuer the calling thread becomes the only one that may submit
// to it: the caller locks its goroutine to its thread first.
func (r *Ring) EnableRings() error {
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), registerEnableRings, 0, 0, 0, 0)
	if errno != 0 {
		return fmt.Errorf("uring: enabling the ring: %w", errno)
	}
	return nil
}

// Pending is the number of entries written and not yet submitted.
func (r *Ring) Pending() int { return int(r.sqPending) }
