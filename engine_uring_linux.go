package evio

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/evio-go/evio/internal/socket"
	"github.com/evio-go/evio/internal/uring"
	"golang.org/x/sys/unix"
)

// The io_uring engine: one ring per loop, the poll engine's listeners and
// sockets, and completions instead of readiness. Each connection has one
// multishot receive that takes a buffer from the loop's provided-buffer
// ring only when bytes arrive (an idle connection holds none), and at most
// one send in flight, whose chunks the transport keeps until its
// completion. Sends are only queued during an iteration: the enter that
// waits for the next completions submits them (one system call per
// iteration). See docs/ARCHITECTURE.md, "The io_uring engine", for which
// memory the kernel may write and when.

// Sizes of each loop's ring and provided buffers. A receive takes at most
// one buffer; the buffers come back as soon as their bytes are copied out,
// so the ring runs dry only when more connections than buffers receive
// between two enters, and then a receive ends with ENOBUFS and is armed
// again once the batch has given its buffers back.
var (
	uringEntries    uint32 = 1024
	uringBuffers    uint16 = 256
	uringBufferSize        = 16 << 10
)

// uringTransport is the io_uring engine's transport for one loop.
type uringTransport struct {
	sockOps
	l         *loop
	ring      *uring.Ring
	bufs      *uring.BufRing
	listeners []*pollListener // those whose home is this loop, by token
	accepts   []*acceptSlots  // their accepts in flight, by token
	enabled   bool            // the loop's thread has enabled the ring and is locked to it
	exited    bool            // exit ran: closes go straight to the system

	// socks holds the state bits of each descriptor the loop uses, by
	// number (one byte each). An operation's completion names its
	// descriptor, which is closed only once no operation references it:
	// so a completion always concerns the socket the number names now.
	socks []uint8
	// slow holds what only a few connections have at a time: input that
	// arrived while not wanted, a received end of stream or error, a
	// failed send.
	slow map[int32]*uringSlow

	sends     []*uringSend // send records by index, in flight or free
	freeSends []int32
	ops       int // operations in flight whose last completion is still to come
	noBuffers int // receives that ended for want of a provided buffer (tests read it)

	// cqes holds the completions reaped by the last wait, dispatched in
	// order; next is the position of the one being dispatched.
	cqes        []uring.CQE
	next        int
	dispatching bool

	// input is the received bytes being served (curConn's): read copies
	// them out; what it does not take is kept in slow.
	input   []byte
	curConn *conn

	parked []parkedConn // accepted while a fault was injected (uringAcceptFault)

	owed, spareOwed []owedReady // readiness found while arming, delivered by the next poll
	rearm           []*conn     // receives to arm again once the batch gave its buffers back

	// The eventfd that wakes the loop, read by an operation in flight.
	wakeFD      int
	wakeBuf     [8]byte
	wakePending atomic.Bool
	wakeMu      sync.RWMutex // keeps wake from writing to a number released by release
	wakeClosed  bool
}

// parkedConn is a socket accepted on ln that a test's fault kept back.
type parkedConn struct {
	ln   *pollListener
	fd   int
	peer socket.Addr
}

// newURingTransport sets up the loop's ring, disabled: the loop's thread
// enables it and becomes its only issuer (poll). An error wrapping
// uring.ErrUnavailable means the system refuses io_uring.
func newURingTransport(l *loop) (*uringTransport, error) {
	ring, err := uring.Setup(uringEntries, uring.SetupClamp|uring.SetupSingleIssuer|uring.SetupDeferTaskrun|uring.SetupRDisabled)
	if err != nil {
		return nil, err
	}
	bufs, err := ring.RegisterBufRing(0, uringBuffers, uringBufferSize)
	if err != nil {
		ring.Close()
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			err = fmt.Errorf("%w: %w", uring.ErrUnavailable, err)
		}
		return nil, err
	}
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		bufs.Close()
		ring.Close()
		return nil, os.NewSyscallError("eventfd", err)
	}
	t := &uringTransport{l: l, ring: ring, bufs: bufs, wakeFD: wfd, slow: make(map[int32]*uringSlow)}
	t.armWake()
	return t, nil
}

// release closes what is left of the transport once its loop has exited
// (or never ran): the ring, if exit did not, and the eventfd.
func (t *uringTransport) release() {
	if !t.exited {
		t.bufs.Close()
		t.ring.Close()
		t.exited = true
	}
	t.wakeMu.Lock()
	t.wakeClosed = true
	unix.Close(t.wakeFD)
	t.wakeMu.Unlock()
}

// sqe returns a submission entry, submitting the queue first if it is
// full; nil only if the kernel takes none.
func (t *uringTransport) sqe() *uring.SQE {
	if e := t.ring.GetSQE(); e != nil {
		return e
	}
	for i := 0; i < 100; i++ {
		if _, err := t.ring.Submit(0); err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EAGAIN) {
			return nil
		}
		if e := t.ring.GetSQE(); e != nil {
			return e
		}
	}
	return nil
}

var errRingFull = errors.New("evio: io_uring submission queue stays full")

// track makes room for descriptor fd's state.
func (t *uringTransport) track(fd int32) {
	if int(fd) < len(t.socks) {
		return
	}
	n := 2*len(t.socks) + 64
	for n <= int(fd) {
		n *= 2
	}
	grown := make([]uint8, n)
	copy(grown, t.socks)
	t.socks = grown
}

func (t *uringTransport) armWake() {
	e := t.ring.GetSQE() // at setup, or right after a completion freed room
	if e == nil {
		return
	}
	e.Opcode, e.FD = uring.OpRead, int32(t.wakeFD)
	e.Addr, e.Len = uint64(uintptr(unsafe.Pointer(&t.wakeBuf[0]))), 8
	e.UserData = userData(udWake, 0, 0)
	t.ops++
}

func (t *uringTransport) wake() {
	if !t.wakePending.CompareAndSwap(false, true) {
		return
	}
	t.wakeMu.RLock()
	if !t.wakeClosed {
		one := [8]byte{1}
		unix.Write(t.wakeFD, one[:])
	}
	t.wakeMu.RUnlock()
}

func (t *uringTransport) poll(timeout time.Duration) error {
	if !t.enabled {
		// The ring takes submissions from the thread that enables it
		// only (SINGLE_ISSUER): this goroutine keeps that thread.
		runtime.LockOSThread()
		if err := t.ring.EnableRings(); err != nil {
			runtime.UnlockOSThread()
			return err
		}
		t.enabled = true
		// Enters by index: no descriptor lookup per call. Best effort.
		t.ring.RegisterRingFD()
	}
	if len(t.owed) > 0 || len(t.cqes) > 0 {
		timeout = 0
	}
	// First submit and reap without sleeping: a busy loop usually finds
	// completions, and then never makes the blocking call, whose cost is
	// mostly Go's scheduler's (handing the P off and back). Only an
	// iteration that finds nothing waits.
	err := t.ring.SubmitReap()
	if err == nil && timeout != 0 && !t.ring.Ready() {
		_, err = t.ring.SubmitWait(1, timeout)
	}
	if err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EAGAIN) {
		return err
	}
	t.reap()
	t.l.woke()
	t.dispatch()
	t.payOwed()
	t.armAgain()
	return nil
}

// reap moves the completions the kernel posted into t.cqes.
func (t *uringTransport) reap() {
	for {
		cqe, ok := t.ring.PeekCQE()
		if !ok {
			return
		}
		t.cqes = append(t.cqes, *cqe)
		t.ring.SeenCQE()
	}
}

func (t *uringTransport) dispatch() {
	t.dispatching = true
	for t.next = 0; t.next < len(t.cqes); t.next++ {
		e := t.cqes[t.next]
		op, a, fd := splitUserData(e.UserData)
		switch op {
		case udWake:
			t.ops--
			t.wakePending.Store(false)
			t.armWake()
		case udAccept:
			t.acceptDone(t.listeners[a], int(fd), e.Res)
		case udRecv:
			t.recvDone(a, fd, e.Res, e.Flags)
		case udSend:
			t.sendDone(t.sends[a], e.Res)
		case udPoll:
			t.pollDone(a, fd, e.Res)
		case udUDP:
			t.ops--
			ln := t.listeners[a]
			ln.watched = false
			if e.Res >= 0 && !t.l.stopping {
				readDatagrams(t.l, ln)
				t.watchUDP(ln)
			}
		case udClose:
			t.ops--
		}
	}
	t.dispatching = false
	t.cqes = t.cqes[:0] // CQEs hold no pointers: nothing to clear
	t.next = 0
}

// payOwed delivers the readiness found while arming.
func (t *uringTransport) payOwed() {
	if len(t.owed) == 0 {
		return
	}
	owed := t.owed
	t.owed = t.spareOwed[:0]
	for i, o := range owed {
		owed[i] = owedReady{}
		if o.c.slot >= 0 && t.l.conns[o.c.slot] == o.c {
			t.l.serve(o.c, o.r)
		}
	}
	t.spareOwed = owed[:0]
}

// armAgain arms the receives that ended (out of buffers, say) and are
// still wanted, now that the batch has given its buffers back.
func (t *uringTransport) armAgain() {
	for i, c := range t.rearm {
		t.rearm[i] = nil
		if c.slot < 0 || t.l.conns[c.slot] != c || c.armed&wantRead == 0 {
			continue
		}
		st := t.state(c.fd)
		if st&(sockRecv|sockClosing) != 0 {
			continue
		}
		if s := t.slowState(c.fd); s != nil && (s.eof || s.err != nil) {
			continue
		}
		t.armRecv(c)
	}
	t.rearm = t.rearm[:0]
}

func (t *uringTransport) owe(c *conn, r ready) {
	t.owed = append(t.owed, owedReady{c: c, r: r})
}

// uringAccepts is how many accepts each listener keeps in flight. Each has
// its own room for the peer's address, which the kernel writes when it
// completes: a multishot accept cannot report addresses, and asking each
// socket afterwards would cost a system call per connection and find
// nothing for a peer that reset before it was accepted.
const uringAccepts = 16

// acceptSlots is the room of a listener's accepts in flight. The kernel
// writes an entry between its accept's submission and its completion;
// the transport keeps the record alive (and Go's heap does not move it)
// until then.
type acceptSlots struct {
	addr  [uringAccepts]unix.RawSockaddrAny
	size  [uringAccepts]uint32
	armed uint32 // accepts in flight, a bit each
}

// watchListener starts accepting on (or, for UDP, watching) ln: every free
// accept slot gets an accept.
func (t *uringTransport) watchListener(ln *pollListener) error {
	if ln.origin.datagram {
		return t.watchUDP(ln)
	}
	slots := t.accepts[ln.token]
	for i := 0; i < uringAccepts; i++ {
		if slots.armed&(1<<i) == 0 {
			if err := t.armAccept(ln, slots, i); err != nil {
				return err
			}
		}
	}
	ln.watched = true
	return nil
}

func (t *uringTransport) armAccept(ln *pollListener, slots *acceptSlots, i int) error {
	e := t.sqe()
	if e == nil {
		return errRingFull
	}
	slots.size[i] = unix.SizeofSockaddrAny
	e.Opcode, e.FD = uring.OpAccept, int32(ln.origin.fd)
	e.Addr = uint64(uintptr(unsafe.Pointer(&slots.addr[i])))
	e.Off = uint64(uintptr(unsafe.Pointer(&slots.size[i]))) // addr2: the size, in and out
	e.OpFlags = unix.SOCK_NONBLOCK | unix.SOCK_CLOEXEC
	e.UserData = userData(udAccept, int32(ln.token), int32(i))
	slots.armed |= 1 << i
	t.ops++
	return nil
}

// watchUDP waits for a datagram on ln with a one-shot poll, armed again
// after each batch is read: a level-triggered watch.
func (t *uringTransport) watchUDP(ln *pollListener) error {
	e := t.sqe()
	if e == nil {
		return errRingFull
	}
	e.Opcode, e.FD, e.OpFlags = uring.OpPollAdd, int32(ln.origin.fd), unix.POLLIN
	e.UserData = userData(udUDP, int32(ln.token), 0)
	t.ops++
	ln.watched = true
	return nil
}

// resumeAccept ends an accept pause.
func (t *uringTransport) resumeAccept(ln *pollListener) error {
	if err := t.watchListener(ln); err != nil {
		return err
	}
	t.unpark(ln)
	return nil
}

// unpark opens the connections a test's fault kept back on ln.
func (t *uringTransport) unpark(ln *pollListener) {
	kept := t.parked[:0]
	for _, p := range t.parked {
		if p.ln == ln {
			openAccepted(t.l, ln, p.fd, p.peer)
		} else {
			kept = append(kept, p)
		}
	}
	t.parked = kept
}

// acceptDone handles the completion of accept slot i of ln: a new socket,
// or why there is none.
func (t *uringTransport) acceptDone(ln *pollListener, i int, res int32) {
	l := t.l
	slots := t.accepts[ln.token]
	slots.armed &^= 1 << i
	t.ops--
	if res < 0 {
		t.acceptFailed(ln, unix.Errno(-res))
		return
	}
	fd := int(res)
	if l.stopping || !ln.watched {
		unix.Close(fd) // accepted as the loop stopped, or paused
		return
	}
	var peer socket.Addr
	if !ln.origin.unix {
		peer = socket.AddrOfRaw(&slots.addr[i])
	}
	if err := t.armAccept(ln, slots, i); err != nil {
		l.server.shutdown(fmt.Errorf("evio: accept %s %s: %w", ln.spec.network, ln.spec.address, err))
	}
	if f := uringAcceptFault; f != nil {
		if err := f(); err != nil {
			t.parked = append(t.parked, parkedConn{ln, fd, peer})
			t.acceptFailed(ln, err.(unix.Errno))
			return
		}
	}
	openAccepted(t.l, ln, fd, peer)
}

// acceptFailed handles an accept that failed with err, as the poll engine
// does: skipped, paused for a while, or fatal.
func (t *uringTransport) acceptFailed(ln *pollListener, err unix.Errno) {
	l := t.l
	if err == unix.ECANCELED || l.stopping || !ln.watched {
		return
	}
	switch classifyAcceptError(err) {
	case acceptSkip:
		if err := t.watchListener(ln); err != nil {
			l.server.shutdown(fmt.Errorf("evio: accept %s %s: %w", ln.spec.network, ln.spec.address, err))
		}
		t.unpark(ln)
		return
	case acceptPause:
		// Stop the accepts in flight, or they would fail again at once:
		// the pause's end arms them again.
		t.cancelListener(ln)
		ln.backoff = nextAcceptBackoff(ln.backoff)
		l.timers.schedule(ln, monotime()+int64(ln.backoff), 0)
		return
	}
	l.server.shutdown(fmt.Errorf("evio: accept %s %s: %w", ln.spec.network, ln.spec.address, err))
}

// cancelListener cancels every operation on ln: its accepts, or its poll.
func (t *uringTransport) cancelListener(ln *pollListener) {
	ln.watched = false
	if e := t.sqe(); e != nil {
		e.Opcode, e.FD, e.OpFlags = uring.OpAsyncCancel, int32(ln.origin.fd), uring.CancelFD|uring.CancelAll
		e.UserData = userData(udNone, 0, 0)
	}
}

func (t *uringTransport) stopAccepting() {
	for _, ln := range t.listeners {
		t.l.timers.cancel(ln)
		if ln.watched {
			t.cancelListener(ln)
		}
	}
}

// exit cancels whatever is still in flight, waits (a bounded time) for the
// kernel to be done with the memory it references, closes the sockets that
// waited for that and the ring, and gives the loop's thread back.
func (t *uringTransport) exit() {
	if !t.enabled {
		return // the loop failed before its first poll; release closes the ring
	}
	defer runtime.UnlockOSThread()
	if e := t.sqe(); e != nil {
		e.Opcode, e.OpFlags = uring.OpAsyncCancel, uring.CancelAny|uring.CancelAll
		e.UserData = userData(udNone, 0, 0)
	}
	deadline := time.Now().Add(2 * time.Second)
	for t.ops > 0 && time.Now().Before(deadline) {
		if _, err := t.ring.SubmitWait(1, 50*time.Millisecond); err != nil && !errors.Is(err, unix.EBUSY) {
			break
		}
		t.reap()
		for _, e := range t.cqes {
			t.retire(e)
		}
		t.cqes = t.cqes[:0]
	}
	t.exited = true
	for _, p := range t.parked {
		unix.Close(p.fd)
	}
	for fd, st := range t.socks {
		if st&sockClosing != 0 {
			unix.Close(fd)
		}
	}
	t.socks = nil
	t.bufs.Close()
	t.ring.Close()
}

// retire accounts for a completion at exit, when nothing is served any
// more: buffers go back, sends release their chunks, accepted sockets are
// closed.
func (t *uringTransport) retire(e uring.CQE) {
	op, a, _ := splitUserData(e.UserData)
	more := e.Flags&uring.CQEMore != 0
	switch op {
	case udNone:
		return
	case udRecv:
		if e.Flags&uring.CQEBuffer != 0 {
			t.bufs.Provide(uint16(e.Flags >> uring.CQEBufferShift))
		}
	case udAccept:
		if e.Res >= 0 {
			unix.Close(int(e.Res))
		}
	case udSend:
		t.freeSend(t.sends[a])
	}
	if !more {
		t.ops--
	}
}

var _ listenerWatcher = (*uringTransport)(nil)

func (t *uringTransport) addListener(ln *pollListener) error {
	ln.token = uint64(len(t.listeners))
	t.listeners = append(t.listeners, ln)
	t.accepts = append(t.accepts, new(acceptSlots))
	return t.watchListener(ln)
}

// openURing gives loop l an io_uring transport.
func openURing(l *loop) (transport, error) {
	t, err := newURingTransport(l)
	if err != nil {
		if errors.Is(err, uring.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", ErrIOUringUnavailable, err)
		}
		return nil, err
	}
	return t, nil
}
