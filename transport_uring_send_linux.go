package evio

// The io_uring transport's sends: at most one in flight per connection,
// its chunks held until the completion (see docs/ARCHITECTURE.md, "The
// io_uring engine").

import (
	"fmt"
	"unsafe"

	"github.com/evio-go/evio/internal/uring"
	"golang.org/x/sys/unix"
)

// uringSendMax bounds the bytes one send takes off a connection's queue
// (it takes whole chunks, so a single larger chunk goes whole).
const uringSendMax = 64 << 10

// uringSend is a send in flight: the chunks it took off its connection's
// queue, which the kernel reads until the completion. A chunk larger than
// uringSendMax (a large reply appended whole) is not taken but borrowed: a
// window of it is sent while it stays queued, so that the queue falls as
// the peer takes it; such a chunk never goes back to the pool, and the
// record's reference keeps it alive if the connection drops its queue
// meanwhile.
type uringSend struct {
	c        *conn
	fd       int32
	index    int32
	chunks   [][]byte // chunks[0][head:] goes first
	head     int
	borrowed bool // chunks[0] is a window of the queue's first chunk, consumed as it is sent
	iov      [16]unix.Iovec
	msg      unix.Msghdr
}

func (t *uringTransport) newSend(c *conn) *uringSend {
	var rec *uringSend
	if n := len(t.freeSends); n > 0 {
		rec = t.sends[t.freeSends[n-1]]
		t.freeSends = t.freeSends[:n-1]
	} else {
		rec = &uringSend{index: int32(len(t.sends))}
		t.sends = append(t.sends, rec)
	}
	rec.c, rec.fd = c, c.fd
	return rec
}

func (t *uringTransport) write(c *conn) error {
	st := t.state(c.fd)
	if st&sockSend != 0 {
		return nil // its completion reports room for the rest
	}
	if st&sockSlow != 0 {
		if err := t.slow[c.fd].werr; err != nil {
			return err
		}
	}
	if int(len(t.sends)) > udIndexMax && len(t.freeSends) == 0 {
		return fmt.Errorf("evio: more than %d sends in flight on one io_uring loop", udIndexMax)
	}
	rec := t.newSend(c)
	if first := c.out.Chunk(0); len(first) > uringSendMax {
		rec.chunks, rec.borrowed = append(rec.chunks[:0], first[:uringSendMax]), true
	} else {
		var n int
		rec.chunks, rec.head, n = t.l.pool.Take(&c.out, rec.chunks[:0], len(rec.iov), uringSendMax)
		t.l.sent(c, n)
	}
	if err := t.submitSend(rec, false); err != nil {
		t.freeSend(rec)
		return err
	}
	t.socks[c.fd] |= sockSend
	return nil
}

// submitSend queues the send of what rec holds: a send for one chunk, a
// sendmsg for several.
func (t *uringTransport) submitSend(rec *uringSend, pollFirst bool) error {
	e := t.sqe()
	if e == nil {
		return errRingFull
	}
	if pollFirst {
		e.IOPrio = uring.SendPollFirst
	}
	e.FD, e.OpFlags, e.UserData = rec.fd, unix.MSG_NOSIGNAL, userData(udSend, rec.index, rec.fd)
	if len(rec.chunks) == 1 {
		p := rec.chunks[0][rec.head:]
		e.Opcode, e.Addr, e.Len = uring.OpSend, uint64(uintptr(unsafe.Pointer(&p[0]))), uint32(len(p))
	} else {
		for i, b := range rec.chunks {
			if i == 0 {
				b = b[rec.head:]
			}
			rec.iov[i] = unix.Iovec{Base: &b[0]}
			rec.iov[i].SetLen(len(b))
		}
		rec.msg = unix.Msghdr{Iov: &rec.iov[0]}
		rec.msg.SetIovlen(len(rec.chunks))
		e.Opcode, e.Addr = uring.OpSendMsg, uint64(uintptr(unsafe.Pointer(&rec.msg)))
	}
	t.ops++
	return nil
}

// freeSend gives rec's chunks back to the loop's pool and rec to the free
// list.
func (t *uringTransport) freeSend(rec *uringSend) {
	for i, b := range rec.chunks {
		if !rec.borrowed {
			t.l.pool.Put(b)
		}
		rec.chunks[i] = nil
	}
	rec.borrowed = false
	for i := range rec.iov {
		rec.iov[i] = unix.Iovec{}
	}
	rec.msg = unix.Msghdr{}
	rec.chunks, rec.head, rec.c = rec.chunks[:0], 0, nil
	t.freeSends = append(t.freeSends, rec.index)
}

func (t *uringTransport) sendDone(rec *uringSend, res int32) {
	t.ops--
	fd, c := rec.fd, rec.c
	closing := t.state(fd)&sockClosing != 0
	if res > 0 && !closing {
		t.l.stampActivity(c) // output moving: not idle
		if rec.borrowed {
			t.l.wrote(c, int(res)) // the rest goes with the next send
			res = 0
		}
	}
	again := res == -int32(unix.EAGAIN) || res == -int32(unix.EINTR)
	if !closing && (again || res > 0 && rec.advance(int(res))) {
		// A partial send: the rest. Or none at all: a socket opened
		// non-blocking (unix sockets, here) returns EAGAIN instead of
		// waiting for room; the retry waits for it first.
		if t.submitSend(rec, again) == nil {
			return
		}
		res = -int32(unix.ENOBUFS)
	}
	t.freeSend(rec)
	t.socks[fd] &^= sockSend
	if closing {
		t.settleFD(fd)
		return
	}
	if res < 0 {
		t.slowOf(c).werr = unix.Errno(-res)
		t.l.serve(c, readyWrite|readyError)
		return
	}
	if c.armed&wantWrite != 0 {
		t.l.serve(c, readyWrite)
	}
}

// advance drops n sent bytes from rec and reports whether some remain.
func (rec *uringSend) advance(n int) bool {
	for len(rec.chunks) > 0 {
		rest := len(rec.chunks[0]) - rec.head
		if n < rest {
			rec.head += n
			return true
		}
		n -= rest
		rec.head = 0
		rec.c.loop.pool.Put(rec.chunks[0])
		copy(rec.chunks, rec.chunks[1:])
		rec.chunks[len(rec.chunks)-1] = nil
		rec.chunks = rec.chunks[:len(rec.chunks)-1]
	}
	return false
}
