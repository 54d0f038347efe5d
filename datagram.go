package evio

import (
	"sync/atomic"

	"github.com/evio-go/evio/internal/socket"
)

// UDP: every datagram is one Data event with a Conn of its own for the
// sender; what Data returns goes back to that sender as one datagram. The
// replies of an iteration wait for its flush, so that one PreWrite covers
// them all, as it covers the connections' output.

// datagramBatch bounds the datagrams a loop reads per readiness event, and
// the replies one sendmmsg sends.
const datagramBatch = 64

// defaultDatagramMax is the largest datagram Data gets: every UDP datagram
// fits (at most 65,507 bytes of payload over IPv4, 65,527 over IPv6), and
// one byte more is still within the loop's 64 KiB read buffer, which is
// how a larger one is told apart. A larger datagram is dropped, never
// delivered cut short: a reader cannot tell a truncated message from a
// whole one.
const defaultDatagramMax = readBufferSize - 1

// Test hooks, read when a server or its loops are made: datagramMaxHook
// (when positive) lowers the datagram limit, so that tests can send what a
// real network cannot carry; datagramBatching off makes the poll and
// io_uring engines read and send one datagram per system call, as on
// systems without recvmmsg.
var (
	datagramMaxHook  atomic.Int32
	datagramBatching atomic.Bool
)

func init() { datagramBatching.Store(mmsgSupported) }

// serveDatagram fires Data for one datagram in from the sender from,
// received on the UDP socket of o; in is the callee's to keep.
func (l *loop) serveDatagram(o *origin, from socket.Addr, in []byte) {
	if l.stopping || l.server.events.Data == nil {
		return
	}
	// No socket of its own: replies leave from o's.
	c := &conn{loop: l, origin: o, remote: from, fd: -1, slot: -1}
	l.fireDatagram(c, in)
}

// fireDatagram fires Data for a datagram's sender (in == nil after a Wake)
// and queues the reply.
func (l *loop) fireDatagram(c *conn, in []byte) {
	out, action, err := l.server.handlers.data(c, in)
	if err != nil {
		return // a datagram has no connection to close; drop it
	}
	l.replyDatagram(c, out, action)
}

// replyDatagram queues what an event of a datagram's sender returned.
func (l *loop) replyDatagram(c *conn, out []byte, action Action) {
	if len(out) > 0 {
		l.replies.add(c.origin, c.remote, out)
	}
	if action == Shutdown {
		l.server.shutdown(nil)
	}
	if l.writeEach && !l.dgram.deferred {
		l.flush()
	}
}

// sendReplies sends the queued replies; flush has run PreWrite for them.
func (l *loop) sendReplies() {
	if l.dgram.on {
		l.dgram.send(l)
		l.replies.reset()
		return
	}
	start := 0
	for _, r := range l.replies.list {
		l.tp.sendTo(r.origin, r.to, l.replies.buf[start:r.end])
		start = r.end
	}
	l.replies.reset()
}

// datagramReplies holds the UDP replies queued since the last flush: their
// bytes back to back in buf, copied because out may be reused at once.
type datagramReplies struct {
	buf  []byte
	list []datagramReply
}

type datagramReply struct {
	origin *origin     // the socket to send from
	to     socket.Addr // the sender of the datagram answered
	end    int         // where its bytes end in buf
}

func (r *datagramReplies) empty() bool { return len(r.list) == 0 }

func (r *datagramReplies) add(o *origin, to socket.Addr, b []byte) {
	r.buf = append(r.buf, b...)
	r.list = append(r.list, datagramReply{origin: o, to: to, end: len(r.buf)})
}

func (r *datagramReplies) reset() {
	for i := range r.list {
		r.list[i].origin = nil
	}
	r.list = r.list[:0]
	r.buf = r.buf[:0]
	if cap(r.buf) > readBufferSize*datagramBatch {
		r.buf = nil // a burst of large replies: do not keep its memory
	}
}
