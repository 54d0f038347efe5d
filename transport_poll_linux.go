package evio

import (
	"github.com/evio-go/evio/internal/socket"
	"golang.org/x/sys/unix"
)

// pollEngineName is what Server.Engine says for the poll engine here.
const pollEngineName = "epoll"

// maxIovecs bounds the chunks one writev takes.
const maxIovecs = 64

// writevFunc is socket.Writev; tests count or fail it.
var writevFunc = socket.Writev

// writeOnce makes one system call that writes at most limit bytes of
// c.out: a write for one chunk, a writev when the output spans several.
// full reports that the socket took less than was offered.
func (t *pollTransport) writeOnce(c *conn, limit int) (n int, full bool, err error) {
	if c.out.Chunks() == 1 {
		p := c.out.Chunk(0)
		if len(p) > limit {
			p = p[:limit]
		}
		n, err = writeFunc(int(c.fd), p)
		return n, n < len(p), err
	}
	iov := t.iov[:0]
	total := 0
	for i := 0; i < c.out.Chunks() && len(iov) < len(t.iov) && total < limit; i++ {
		b := c.out.Chunk(i)
		if len(b) > limit-total {
			b = b[:limit-total]
		}
		v := unix.Iovec{Base: &b[0]}
		v.SetLen(len(b))
		iov = append(iov, v)
		total += len(b)
	}
	n, err = writevFunc(int(c.fd), iov)
	for i := range iov {
		iov[i].Base = nil // hold no chunk past the call
	}
	return n, n < total, err
}
