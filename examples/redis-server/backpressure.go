package main

import "github.com/evio-go/evio"

// Back-pressure: a client that sends requests faster than it reads the
// replies (a pipeline of GETs of a large value that it never reads, say)
// must not make the server hold its replies without bound. Redis itself
// buffers them until client-output-buffer-limit, which for normal clients
// is unlimited by default. Here a connection's queued replies stop at a
// high mark: the server answers requests until the queue reaches it, keeps
// the rest of the input unparsed (evio then stops reading the connection,
// so TCP holds the client back), and carries on when evio reports the
// queue below the low mark (the Drained event). A reply of many elements
// (MGET, LRANGE, ...) is written in steps the same way, so one command
// cannot take the queue far past the mark either. Memory per connection is
// then about the high mark plus the largest single value.
const (
	replyHighWater = 4 << 20
	replyLowWater  = 1 << 20
)

// outputFull reports whether the connection's queue, with the replies of
// this event, has reached the high mark: no more requests are answered
// until it drains.
func (c *client) outputFull() bool {
	return c.conn != nil && c.conn.QueuedOutput()+len(c.out) >= replyHighWater
}

// fits reports whether n more bytes of replies keep the queue below the
// high mark: a reply that fits is written at once, without a snapshot.
func (c *client) fits(n int) bool {
	return c.conn == nil || c.conn.QueuedOutput()+len(c.out)+n < replyHighWater
}

// busy reports whether the client must not execute another request now:
// a reply is still being written in steps, or the queue is full.
func (c *client) busy() bool {
	return c.stream != nil || c.outputFull()
}

// resume carries on once the connection's queue has fallen below the low
// mark: the reply in progress first, then the requests kept unparsed.
func (c *client) resume() (out []byte, action evio.Action) {
	c.out = c.out[:0]
	if c.stream != nil {
		c.continueStream()
	}
	return c.run(c.pending)
}
