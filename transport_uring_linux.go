package evio

// The io_uring transport's connection I/O: receives, arming, closing,
// detaching and connecting (transport_uring_send_linux.go has the sends,
// engine_uring_linux.go the ring, the wait and accepting).

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/evio-go/evio/internal/socket"
	"github.com/evio-go/evio/internal/uring"
	"golang.org/x/sys/unix"
)

// What a completion's user data says it completes: the operation in the
// top byte, then 24 bits (a connection's slot, a listener's token, a send
// record), then the descriptor.
const (
	udNone   = iota // consumed already, or a cancel or close nobody waits for
	udWake          // the read of the eventfd that wakes the loop
	udAccept        // an accept; a = its listener's token, fd = its slot
	udRecv          // a connection's multishot receive; a = its slot
	udSend          // a send; a = its record
	udPoll          // a connect in progress, watched for writability; a = its slot
	udUDP           // a UDP socket watched for input; a = its token
	udClose         // a close of a descriptor no operation references
)

const udIndexMax = 1<<24 - 1

func userData(op uint8, a int32, fd int32) uint64 {
	return uint64(op)<<56 | uint64(uint32(a)&udIndexMax)<<32 | uint64(uint32(fd))
}

func splitUserData(ud uint64) (op uint8, a int32, fd int32) {
	return uint8(ud >> 56), int32(ud >> 32 & udIndexMax), int32(uint32(ud))
}

// Bits of uringTransport.socks, the transport's state of each descriptor.
const (
	sockRecv    uint8 = 1 << iota // a multishot receive is in flight
	sockCancel                    // and its cancel is submitted
	sockSend                      // a send is in flight
	sockPoll                      // a connect is watched for its end
	sockClosing                   // closed for the loop: the descriptor is closed once no operation references it
	sockSlow                      // uringTransport.slow has an entry
)

// uringSlow is a connection's rare state (see uringTransport.slow).
type uringSlow struct {
	data []byte // input received and not yet read
	eof  bool   // the peer finished sending (after data)
	err  error  // the receive failed (after data)
	werr error  // a send failed
}

func (t *uringTransport) state(fd int32) uint8 { return t.socks[fd] }

// connOf is the registered connection a completion of descriptor fd for
// slot names, or nil when the loop is done with that socket.
func (t *uringTransport) connOf(slot, fd int32) *conn {
	if t.state(fd)&sockClosing != 0 || int(slot) >= len(t.l.conns) {
		return nil
	}
	if c := t.l.conns[slot]; c != nil && c.fd == fd {
		return c
	}
	return nil
}

// slowState returns the rare state of descriptor fd, or nil: a bit test
// first, so that the common case costs no map lookup.
func (t *uringTransport) slowState(fd int32) *uringSlow {
	if t.socks[fd]&sockSlow == 0 {
		return nil
	}
	return t.slow[fd]
}

// slowOf returns c's rare state, creating it.
func (t *uringTransport) slowOf(c *conn) *uringSlow {
	if s := t.slow[c.fd]; s != nil {
		return s
	}
	s := &uringSlow{}
	t.slow[c.fd] = s
	t.socks[c.fd] |= sockSlow
	return s
}

func (t *uringTransport) dropSlow(fd int32) {
	if t.socks[fd]&sockSlow != 0 {
		delete(t.slow, fd)
		t.socks[fd] &^= sockSlow
	}
}

// settleFD closes a descriptor closed for the loop once its last
// operation has completed.
func (t *uringTransport) settleFD(fd int32) {
	if st := t.socks[fd]; st&sockClosing != 0 && st&(sockRecv|sockSend|sockPoll) == 0 {
		t.socks[fd] = 0
		t.closeFD(fd)
	}
}

// closeFD closes a descriptor no operation references: in the next enter,
// batched with the rest, while the loop runs.
func (t *uringTransport) closeFD(fd int32) {
	if !t.exited {
		if e := t.sqe(); e != nil {
			e.Opcode, e.FD, e.UserData = uring.OpClose, fd, userData(udClose, 0, fd)
			t.ops++
			return
		}
	}
	unix.Close(int(fd))
}

func (t *uringTransport) armRecv(c *conn) error {
	e := t.sqe()
	if e == nil {
		return errRingFull
	}
	e.Opcode, e.FD = uring.OpRecv, c.fd
	e.IOPrio = uring.RecvMultishot
	e.Flags = uring.SQEBufferSelect
	e.BufIndex = 0 // the buffer group
	e.UserData = userData(udRecv, c.slot, c.fd)
	t.socks[c.fd] |= sockRecv
	t.ops++
	return nil
}

func (t *uringTransport) recvDone(slot, fd int32, res int32, flags uint32) {
	var id uint16
	hasBuf := flags&uring.CQEBuffer != 0
	if hasBuf {
		id = uint16(flags >> uring.CQEBufferShift)
	}
	more := flags&uring.CQEMore != 0
	if !more {
		t.ops--
		t.socks[fd] &^= sockRecv | sockCancel
	}
	c := t.connOf(slot, fd)
	if c == nil {
		if hasBuf {
			t.bufs.Provide(id)
		}
		if !more {
			t.settleFD(fd)
		}
		return
	}
	switch {
	case res > 0:
		t.received(c, t.bufs.Buffer(id, int(res)))
		t.bufs.Provide(id)
		if !more {
			t.rearm = append(t.rearm, c) // the kernel ended it (its completion queue overflowed, say)
		}
	case res == 0:
		t.slowOf(c).eof = true
		t.deliver(c)
	case res == -int32(unix.ENOBUFS) || res == -int32(unix.ECANCELED) || res == -int32(unix.EAGAIN) || res == -int32(unix.EINTR):
		if res == -int32(unix.ENOBUFS) {
			t.noBuffers++
		}
		// Out of buffers: armed again once the batch gave them back.
		// Cancelled: armed again if reading is wanted again meanwhile.
		// EAGAIN, EINTR: armed again.
		if hasBuf {
			t.bufs.Provide(id)
		}
		t.rearm = append(t.rearm, c)
	default:
		t.slowOf(c).err = unix.Errno(-res)
		t.deliver(c)
	}
}

// received serves bytes received for c: read copies them out during the
// event; what is not read then is kept, behind what was kept before.
func (t *uringTransport) received(c *conn, p []byte) {
	if s := t.slowState(c.fd); s != nil && (len(s.data) > 0 || s.eof || s.err != nil) {
		s.data = append(s.data, p...)
		t.deliver(c)
		return
	}
	if c.armed&wantRead != 0 {
		t.input, t.curConn = p, c
		t.l.serve(c, readyRead)
		if t.curConn == nil {
			return // read took it
		}
		t.input, t.curConn = nil, nil
		if t.connOf(c.slot, c.fd) != c {
			return // closed meanwhile: dropped, as a closed socket drops it
		}
	}
	s := t.slowOf(c)
	s.data = append(s.data, p...)
}

// deliver reports input to c if it is read now; arm reports it once c is.
func (t *uringTransport) deliver(c *conn) {
	if c.armed&wantRead != 0 {
		t.l.serve(c, readyRead)
	}
}

func (t *uringTransport) read(c *conn, p []byte) (int, error) {
	if t.curConn == c {
		n := copy(p, t.input)
		if n < len(t.input) {
			s := t.slowOf(c)
			s.data = append(s.data, t.input[n:]...)
			t.owe(c, readyRead)
		}
		t.input, t.curConn = nil, nil
		return n, nil
	}
	if t.state(c.fd)&sockSlow == 0 {
		return 0, errAgain
	}
	s := t.slow[c.fd]
	if len(s.data) > 0 {
		n := copy(p, s.data)
		s.data = s.data[n:]
		if len(s.data) == 0 {
			s.data = nil
			if !s.eof && s.err == nil && s.werr == nil {
				t.dropSlow(c.fd)
			}
		} else {
			t.owe(c, readyRead) // level-triggered, as a socket with more to read
		}
		return n, nil
	}
	switch {
	case s.werr != nil:
		return 0, s.werr // the send failed first: that is the connection's error
	case s.err != nil:
		return 0, s.err
	case s.eof:
		return 0, nil
	}
	return 0, errAgain
}

func (t *uringTransport) register(c *conn, want interest) error {
	t.track(c.fd)
	if c.slot > udIndexMax {
		return fmt.Errorf("evio: more than %d connections on one io_uring loop", udIndexMax)
	}
	return t.arm(c, want)
}

// arm makes the transport behave as a level-triggered poller would for
// want: a receive in flight while reading is wanted (cancelled when it is
// not), and readiness owed for input already kept or room for output.
func (t *uringTransport) arm(c *conn, want interest) error {
	fd := c.fd
	st := t.state(fd)
	if want&wantRead != 0 {
		s := t.slowState(fd)
		if c.armed&wantRead == 0 && s != nil && (len(s.data) > 0 || s.eof || s.err != nil || s.werr != nil) {
			t.owe(c, readyRead)
		}
		if st&sockRecv == 0 && (s == nil || (!s.eof && s.err == nil)) {
			if err := t.armRecv(c); err != nil {
				return err
			}
		}
		// A receive being cancelled is armed again by its last completion.
	} else if st&sockRecv != 0 && st&sockCancel == 0 {
		e := t.sqe()
		if e == nil {
			return errRingFull
		}
		e.Opcode, e.Addr = uring.OpAsyncCancel, userData(udRecv, c.slot, fd)
		e.UserData = userData(udNone, 0, 0)
		t.socks[fd] |= sockCancel
	}
	if want&wantWrite != 0 && c.armed&wantWrite == 0 && st&(sockSend|sockPoll) == 0 {
		t.owe(c, readyWrite)
	}
	return nil
}

func (t *uringTransport) drained(c *conn) bool { return t.state(c.fd)&sockSend == 0 }

func (t *uringTransport) unsettled(c *conn) bool {
	st := t.state(c.fd)
	if st&sockSend != 0 {
		return true
	}
	if st&sockSlow != 0 && len(t.slow[c.fd].data) > 0 {
		return true
	}
	return unsettledFunc(int(c.fd), !c.origin.unix)
}

func (t *uringTransport) writtenAt(c *conn) int64 { return 0 } // l.sent records it

func (t *uringTransport) handle(*task) {} // the io_uring engine posts no taskIO

// connect starts a non-blocking connect; one in progress is watched for
// writability by a poll operation, whose completion reports its end.
func (t *uringTransport) connect(c *conn, d *dialState) (bool, error) {
	family, sa, err := dialSockaddr(d)
	if err != nil {
		return false, err
	}
	fd, inProgress, err := socket.Connect(family, sa)
	if err != nil {
		return false, err
	}
	c.fd = int32(fd)
	t.track(c.fd)
	if !inProgress {
		if err := t.register(c, wantRead); err != nil {
			return false, err
		}
		c.armed = wantRead
		return true, nil
	}
	e := t.sqe()
	if e == nil {
		return false, errRingFull
	}
	e.Opcode, e.FD, e.OpFlags = uring.OpPollAdd, c.fd, unix.POLLOUT
	e.UserData = userData(udPoll, c.slot, c.fd)
	t.socks[c.fd] |= sockPoll
	t.ops++
	c.armed = wantWrite
	return false, nil
}

func (t *uringTransport) pollDone(slot, fd int32, res int32) {
	t.ops--
	t.socks[fd] &^= sockPoll
	c := t.connOf(slot, fd)
	if c == nil {
		t.settleFD(fd)
		return
	}
	r := readyWrite
	if res < 0 || res&(unix.POLLERR|unix.POLLHUP) != 0 {
		r |= readyError
	}
	t.l.serve(c, r)
}

// close closes c's socket for the loop. A descriptor that operations still
// reference is closed once they have all completed: they are cancelled
// now (a multishot receive would otherwise keep the socket open), and
// until then its number cannot be reused, so no completion of theirs can
// reach another socket.
func (t *uringTransport) close(c *conn, reset bool) {
	fd := c.fd
	if fd < 0 {
		return // a dial that failed before it had a socket
	}
	if reset {
		resetOnClose(c)
	}
	c.setAsync(asyncSocketGone)
	if t.curConn == c {
		t.input, t.curConn = nil, nil
	}
	if int(fd) >= len(t.socks) {
		// Never registered here (accepted as the loop stopped).
		t.closeFD(fd)
		return
	}
	t.dropSlow(fd)
	st := t.socks[fd]
	if st&(sockRecv|sockSend|sockPoll) == 0 {
		t.socks[fd] = 0
		t.closeFD(fd)
		return
	}
	t.socks[fd] = st | sockClosing
	if t.exited || st&(sockSend|sockPoll|sockCancel) == sockCancel {
		return // exiting cancels everything; or the receive's cancel is on its way
	}
	if e := t.sqe(); e != nil {
		e.Opcode, e.FD, e.OpFlags = uring.OpAsyncCancel, fd, uring.CancelFD|uring.CancelAll
		e.UserData = userData(udNone, 0, 0)
	}
}

// detach hands c's socket to package net, once its receive has ended:
// what the receive took and the loop did not read is replayed first by
// the stream Detached gets.
func (t *uringTransport) detach(c *conn) (io.ReadWriteCloser, error) {
	fd := c.fd
	c.setAsync(asyncSocketGone)
	var leftover []byte
	if t.curConn == c {
		leftover = append(leftover, t.input...)
		t.input, t.curConn = nil, nil
	}
	if s := t.slow[fd]; s != nil {
		leftover = append(leftover, s.data...)
		t.dropSlow(fd)
	}
	if t.state(fd)&sockRecv != 0 {
		if e := t.sqe(); e != nil {
			e.Opcode, e.FD, e.OpFlags = uring.OpAsyncCancel, fd, uring.CancelFD|uring.CancelAll
			e.UserData = userData(udNone, 0, 0)
		}
		from := 0
		if t.dispatching {
			from = t.next + 1
		}
		deadline := time.Now().Add(2 * time.Second)
		for t.state(fd)&sockRecv != 0 {
			for i := from; i < len(t.cqes); i++ {
				e := &t.cqes[i]
				op, _, efd := splitUserData(e.UserData)
				if op != udRecv || efd != fd {
					continue
				}
				if e.Flags&uring.CQEBuffer != 0 {
					id := uint16(e.Flags >> uring.CQEBufferShift)
					if e.Res > 0 {
						leftover = append(leftover, t.bufs.Buffer(id, int(e.Res))...)
					}
					t.bufs.Provide(id)
				}
				if e.Flags&uring.CQEMore == 0 {
					t.ops--
					t.socks[fd] &^= sockRecv | sockCancel
				}
				e.UserData = userData(udNone, 0, 0)
			}
			if t.state(fd)&sockRecv == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.socks[fd] |= sockClosing // its receive's end closes it
				return nil, errors.New("evio: detach: the io_uring receive did not end")
			}
			from = len(t.cqes)
			if _, err := t.ring.SubmitWait(1, 10*time.Millisecond); err != nil && !errors.Is(err, unix.EBUSY) {
				t.socks[fd] |= sockClosing
				return nil, err
			}
			t.reap()
		}
	}
	t.socks[fd] = 0
	nc, err := handOver(int(fd))
	if err != nil {
		return nil, err
	}
	if len(leftover) == 0 {
		return nc, nil
	}
	return &replayConn{Conn: nc, unread: leftover}, nil
}
