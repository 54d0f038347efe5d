//go:build linux && !evio_nommsg

package evio

import (
	"github.com/evio-go/evio/internal/socket"
	"golang.org/x/sys/unix"
)

// mmsgSupported: on Linux the poll and io_uring engines move datagrams in
// batches, recvmmsg and sendmmsg, unless built with the evio_nommsg tag
// (which keeps one recvfrom and one sendto per datagram, for measuring
// what the batches save).
const mmsgSupported = true

// datagramRecvBatch is how many datagrams one recvmmsg takes at most. Each
// needs a buffer for the largest datagram (64 KiB), so the loop's receive
// area is 1 MiB, allocated when its first datagram arrives and resident
// only as far as datagrams have filled it; 16 keeps that bounded while one
// call already covers most of what a readiness event brings (up to
// datagramBatch, 64, in four calls).
const datagramRecvBatch = 16

// datagramIO is a loop's state for moving datagrams in batches; the loop's
// goroutine owns it.
type datagramIO struct {
	on bool // batches: set by servePoll, for the poll and io_uring engines
	// deferred holds the replies back while read serves a batch, so that
	// they leave together at its end even without PreWrite (writeEach).
	deferred bool

	in       *socket.Mmsgs
	recvBufs []byte // datagramRecvBatch buffers of slotSize, back to back
	slotSize int
	out      *socket.Mmsgs
}

// read serves the datagrams waiting on the UDP socket of o, up to
// datagramBatch, datagramRecvBatch per system call: one Data each, in the
// order they arrived, in copied to memory of its own (the callee keeps
// it, as on the per-datagram path). A datagram larger than
// server.datagramMax is dropped, not delivered cut short.
func (d *datagramIO) read(l *loop, o *origin) {
	if d.in == nil {
		d.slotSize = l.server.datagramMax + 1 // one byte more tells a datagram too large
		d.in = socket.NewMmsgs(datagramRecvBatch)
		d.recvBufs = make([]byte, datagramRecvBatch*d.slotSize)
		for i := 0; i < datagramRecvBatch; i++ {
			d.in.SetBuf(i, d.slot(i))
		}
	}
	for total := 0; total < datagramBatch && !l.stopping; {
		want := datagramRecvBatch
		if left := datagramBatch - total; left < want {
			want = left
		}
		n, err := d.in.Recv(o.fd, want)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			// EAGAIN, or an error a past datagram left (ICMP port
			// unreachable, say): the socket itself is fine.
			return
		}
		d.deferred = true
		for i := 0; i < n; i++ {
			size, from, truncated := d.in.Result(i)
			if truncated || size > l.server.datagramMax {
				continue
			}
			l.serveDatagram(o, from, append([]byte(nil), d.slot(i)[:size]...))
		}
		d.deferred = false
		if l.writeEach {
			l.flush()
		}
		total += n
		if n < want {
			// The socket is empty: the poller (level-triggered) or the
			// next poll operation reports what comes later.
			return
		}
	}
}

func (d *datagramIO) slot(i int) []byte {
	return d.recvBufs[i*d.slotSize : (i+1)*d.slotSize : (i+1)*d.slotSize]
}

// send sends the loop's queued replies with as few sendmmsg calls as it
// can: those of one socket together, in the order they were queued (the
// replies of different sockets need no order between them), up to
// datagramBatch a call. As with sendto before, a reply the kernel refuses
// (a full send buffer, an unreachable peer) is dropped and the rest go on.
func (d *datagramIO) send(l *loop) {
	if d.out == nil {
		d.out = socket.NewMmsgs(datagramBatch)
	}
	r := &l.replies
	list := r.list
	for first := 0; first < len(list); {
		o := list[first].origin
		next := len(list) // the first reply of another socket
		k := 0
		for j := first; j < len(list); j++ {
			e := &list[j]
			if e.origin != o {
				if e.origin != nil && next == len(list) {
					next = j
				}
				continue
			}
			start := 0
			if j > 0 {
				start = list[j-1].end
			}
			d.out.SetBuf(k, r.buf[start:e.end])
			d.out.SetAddr(k, e.to, o.family)
			e.origin = nil // sent, for the next pass
			if k++; k == datagramBatch {
				d.sendAll(o.fd, k)
				k = 0
			}
		}
		if k > 0 {
			d.sendAll(o.fd, k)
		}
		first = next
	}
	used := len(list)
	if used > datagramBatch {
		used = datagramBatch
	}
	d.out.Forget(used)
}

// sendAll sends the first n entries, going on after a partial send and
// skipping an entry the kernel refused.
func (d *datagramIO) sendAll(fd, n int) {
	for sent := 0; sent < n; {
		k, err := d.out.Send(fd, sent, n)
		switch {
		case err == unix.EINTR:
		case err != nil:
			sent++ // the error is entry sent's: drop it
		default:
			sent += k
		}
	}
}
