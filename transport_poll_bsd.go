//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package evio

// maxIovecs is unused here: the transport writes one chunk per call.
const maxIovecs = 0

// writeOnce writes at most limit bytes of c.out's first chunk. (x/sys/unix
// has no writev on these systems; a queue that spans chunks takes a few
// writes, within the flush's budget.) full reports that the socket took
// less than was offered.
func (t *pollTransport) writeOnce(c *conn, limit int) (n int, full bool, err error) {
	p := c.out.Chunk(0)
	if len(p) > limit {
		p = p[:limit]
	}
	n, err = writeFunc(int(c.fd), p)
	return n, n < len(p), err
}

// pollEngineName is what Server.Engine says for the poll engine here.
const pollEngineName = "kqueue"
