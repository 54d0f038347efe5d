//go:build linux

package uring

import (
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's uapi (include/uapi/linux/io_uring.h), the parts used here.
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000

	featSingleMmap = 1 << 0

	enterGetEvents      = 1 << 0
	enterRegisteredRing = 1 << 4

	// Setup flags.
	SetupClamp        = 1 << 4
	SetupRDisabled    = 1 << 6 // created disabled: EnableRings makes the caller's thread its issuer
	SetupSubmitAll    = 1 << 7
	SetupCoopTaskrun  = 1 << 8
	SetupSingleIssuer = 1 << 12
	SetupDeferTaskrun = 1 << 13

	// Opcodes.
	OpNop         = 0
	OpPollAdd     = 6 // OpFlags: the poll events; Len: PollAddMulti for a multishot poll
	OpSendMsg     = 9 // Addr: a *unix.Msghdr
	OpAccept      = 13
	OpAsyncCancel = 14 // Addr: the user data of the operation to cancel
	OpClose       = 19
	OpRead        = 22
	OpSend        = 26
	OpRecv        = 27
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

// SQE is a submission queue entry, laid out as struct io_uring_sqe.
type SQE struct {
	Opcode      uint8
	Flags       uint8
	IOPrio      uint16
	FD          int32
	Off         uint64
	Addr        uint64
	Len         uint32
	OpFlags     uint32
	UserData    uint64
	BufIndex    uint16
	Personality uint16
	FileIndex   int32
	Addr3       uint64
	_           uint64
}

// CQE is a completion queue entry, laid out as struct io_uring_cqe.
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// ErrUnavailable is what Setup returns, wrapped with the system's error,
// when io_uring cannot be used here: a kernel without it (ENOSYS), one
// where it is disabled by the io_uring_disabled sysctl or a seccomp
// profile (EPERM, EACCES), or one that refuses the ring's flags (EINVAL).
// The caller falls back to epoll.
var ErrUnavailable = errors.New("uring: io_uring is not available")

// setupSyscall is io_uring_setup; tests replace it to refuse the setup as
// a locked-down system would.
var setupSyscall = func(entries uint32, p *params) (int, syscall.Errno) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	return int(fd), errno
}

// RefuseSetup makes every Setup fail with errno, as a system that refuses
// io_uring would, until restore is called: for tests of the fall-back,
// here and in the packages that use this one. Not safe to call while
// another goroutine may call Setup.
func RefuseSetup(errno syscall.Errno) (restore func()) {
	real := setupSyscall
	setupSyscall = func(uint32, *params) (int, syscall.Errno) { return -1, errno }
	return func() { setupSyscall = real }
}

// Ring is one io_uring instance: its descriptor and mapped queues.
type Ring struct {
	fd       int
	features uint32
	// enterFD and enterFlags are what io_uring_enter is called with: the
	// ring's descriptor, or its index once RegisterRingFD registered it.
	enterFD    int
	enterFlags uintptr

	sqRing, cqRing, sqeMem []byte
	sqHead, sqTail         *uint32 // the kernel advances head; we advance tail
	sqMask                 uint32
	sqArray                []uint32
	sqes                   []SQE
	sqPending              uint32 // entries written since the last submit

	cqHead, cqTail *uint32 // we advance head; the kernel advances tail
	cqMask         uint32
	cqes           []CQE

	// The arguments of a timed wait live here, on the heap: the kernel
	// reads them through addresses passed as integers, which Go would not
	// update if it moved a goroutine's stack.
	waitTS  unix.Timespec
	waitArg getEventsArg
}

// Setup creates a ring with room for entries submissions (a power of two)
// and the given Setup* flags.
func Setup(entries uint32, flags uint32) (*Ring, error) {
	var p params
	p.flags = flags
	fd, errno := setupSyscall(entries, &p)
	if errno != 0 {
		switch errno {
		case unix.ENOSYS, unix.EPERM, unix.EACCES, unix.EINVAL:
			return nil, fmt.Errorf("%w: io_uring_setup: %w", ErrUnavailable, errno)
		}
		return nil, fmt.Errorf("uring: io_uring_setup: %w", errno)
	}
	r := &Ring{fd: fd, features: p.features, enterFD: fd}
	if err := r.mapQueues(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mapQueues(p *params) error {
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(CQE{})))
	if p.features&featSingleMmap != 0 && cqSize > sqSize {
		sqSize = cqSize
	}
	var err error
	if r.sqRing, err = unix.Mmap(r.fd, offSQRing, sqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("uring: mapping the submission queue: %w", err)
	}
	r.cqRing = r.sqRing
	if p.features&featSingleMmap == 0 {
		if r.cqRing, err = unix.Mmap(r.fd, offCQRing, cqSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
			return fmt.Errorf("uring: mapping the completion queue: %w", err)
		}
	}
	sqeSize := int(p.sqEntries) * int(unsafe.Sizeof(SQE{}))
	if r.sqeMem, err = unix.Mmap(r.fd, offSQEs, sqeSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		return fmt.Errorf("uring: mapping the submission entries: %w", err)
	}
	u32 := func(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }
	r.sqHead, r.sqTail = u32(r.sqRing, p.sqOff.head), u32(r.sqRing, p.sqOff.tail)
	r.sqMask = *u32(r.sqRing, p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(u32(r.sqRing, p.sqOff.array), p.sqEntries)
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	r.cqHead, r.cqTail = u32(r.cqRing, p.cqOff.head), u32(r.cqRing, p.cqOff.tail)
	r.cqMask = *u32(r.cqRing, p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&r.cqRing[p.cqOff.cqes])), p.cqEntries)
	return nil
}

// Close unmaps the queues and closes the ring. Operations still in flight
// are cancelled by the kernel; memory they reference must stay alive
// until their completions have been read, or the ring closed.
func (r *Ring) Close() error {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	if r.cqRing != nil && (r.sqRing == nil || &r.cqRing[0] != &r.sqRing[0]) {
		unix.Munmap(r.cqRing) // mapped apart: no IORING_FEAT_SINGLE_MMAP
	}
	if r.sqRing != nil {
		unix.Munmap(r.sqRing)
	}
	r.sqeMem, r.cqRing, r.sqRing = nil, nil, nil
	return unix.Close(r.fd)
}

// GetSQE returns the next free submission entry, zeroed, or nil when the
// queue is full (submit first).
func (r *Ring) GetSQE() *SQE {
	head := atomic.LoadUint32(r.sqHead)
	tail := *r.sqTail + r.sqPending
	if tail-head >= uint32(len(r.sqes)) {
		return nil
	}
	i := tail & r.sqMask
	sqe := &r.sqes[i]
	*sqe = SQE{}
	r.sqArray[i] = i
	r.sqPending++
	return sqe
}

// Submit publishes the entries written since the last call and enters the
// kernel once, waiting for at least waitFor completions (0: none). It
// returns how many entries the kernel took.
func (r *Ring) Submit(waitFor uint32) (int, error) {
	n := r.sqPending
	if n > 0 {
		// The entries must be visible before the new tail (release).
		atomic.StoreUint32(r.sqTail, *r.sqTail+n)
		r.sqPending = 0
	}
	flags := r.enterFlags
	if waitFor > 0 {
		flags |= enterGetEvents
	}
	for {
		got, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.enterFD), uintptr(n), uintptr(waitFor), flags, 0, 0)
		switch errno {
		case 0:
			return int(got), nil
		case unix.EINTR:
			if waitFor == 0 {
				return int(got), nil
			}
			n = 0 // taken already; wait again
			continue
		}
		return int(got), fmt.Errorf("uring: io_uring_enter: %w", errno)
	}
}

// PeekCQE returns the oldest completion not yet consumed, without waiting.
func (r *Ring) PeekCQE() (*CQE, bool) {
	head := *r.cqHead
	if head == atomic.LoadUint32(r.cqTail) { // acquire: the entry is written before the tail
		return nil, false
	}
	return &r.cqes[head&r.cqMask], true
}

// SeenCQE consumes the completion PeekCQE returned: the kernel may reuse
// its slot once the new head is stored (release).
func (r *Ring) SeenCQE() {
	atomic.StoreUint32(r.cqHead, *r.cqHead+1)
}
