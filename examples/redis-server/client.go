package main

import (
	"sync/atomic"

	"github.com/evio-go/evio"
)

// client is the state of one connection, kept in its evio.Conn's Context.
// Only the connection's loop touches it.
type client struct {
	srv  *server
	conn evio.Conn // nil while the append-only file is replayed
	id   int64
	addr string // the peer, as CLIENT LIST shows it

	name, libName, libVersion string

	parser requestParser
	// pending holds the bytes of a request that has not fully arrived.
	// With ReuseInputBuffer the bytes of a Data event are only valid during
	// the event, so an incomplete request is copied here; complete
	// requests are executed straight from the event's buffer.
	pending []byte
	// out collects the replies of one Data event; evio copies it, so it is
	// reused by the next event.
	out []byte

	closeAfterReply bool // QUIT, or a protocol error
	shutdown        bool // SHUTDOWN
	replaying       bool // executing the append-only file at start-up
	lastCommand     string
	commands        int64 // executed during the current Data event

	shardScratch []int // shard indexes of a multi-key command
	// elems and arena hold a multi-element reply's snapshot between
	// gathering it and replyElements (see elements.go).
	elems [][]byte
	arena []byte

	// stream is a multi-element reply being written in steps (see
	// backpressure.go): its snapshot, and the next element to write. No
	// request runs until it is done.
	stream     [][]byte
	streamNext int

	// sub holds the client's subscriptions; nil if it has none (see
	// pubsub.go). watching is set while the soft limit's check runs.
	sub      *subscription
	watching bool
	// psCut is set, from any loop, once the connection is reset for not
	// reading what is published to it.
	psCut      atomic.Bool
	pubScratch []byte // PUBLISH's message, reused
}

// maxKeptBuffer bounds the pending and out buffers a connection keeps
// between events; a larger one, grown by a large request or reply, is
// released.
const maxKeptBuffer = 64 << 10

// handleData runs the complete requests in in, appending the replies to
// out, and keeps what it did not run (an incomplete trailing request, or
// requests waiting for the queue to drain: see backpressure.go) for the
// next call. Like Redis, a protocol error answers the requests before it
// and the error, then closes the connection.
func (c *client) handleData(in []byte) (out []byte, action evio.Action) {
	c.out = c.out[:0]
	data := in
	if len(c.pending) > 0 {
		c.pending = append(c.pending, in...)
		data = c.pending
	}
	return c.run(data)
}

// run executes the requests in data until it ends or the connection's
// queue is full, and keeps the rest.
func (c *client) run(data []byte) (out []byte, action evio.Action) {
	consumed := 0
	for consumed < len(data) && !c.closeAfterReply && !c.shutdown && !c.busy() {
		args, n, err := c.parser.parse(data[consumed:])
		if err != nil {
			c.out = appendError(c.out, "ERR "+err.Error())
			c.closeAfterReply = true
			break
		}
		if n == 0 {
			break
		}
		consumed += n
		if len(args) > 0 {
			c.execute(args)
		}
	}
	c.srv.stats.commands.Add(c.commands)
	c.commands = 0
	switch {
	case c.shutdown:
		// The stop (requested by SHUTDOWN) closes the connection once
		// the replies before SHUTDOWN are written.
	case c.closeAfterReply:
		action = evio.Close
	default:
		if !c.keepPending(data, consumed) {
			action = evio.Close
		}
	}
	out = c.out
	if cap(c.out) > maxKeptBuffer {
		c.out = nil
	}
	return out, action
}

// keepPending keeps data[consumed:], an incomplete request, for the next
// event. It reports false when the request has outgrown the query buffer
// limit, and the connection must close.
func (c *client) keepPending(data []byte, consumed int) bool {
	rest := len(data) - consumed
	switch {
	case rest == 0:
		if cap(c.pending) > maxKeptBuffer {
			c.pending = nil
		} else {
			c.pending = c.pending[:0]
		}
		return true
	case rest > maxQueryBuffer:
		c.pending = nil
		return false
	case len(c.pending) > 0:
		// data is c.pending: move the rest to the front (the parser's
		// offsets are relative to the request's first byte).
		c.pending = c.pending[:copy(c.pending, data[consumed:])]
	default:
		c.pending = append(c.pending[:0], data[consumed:]...)
	}
	return true
}

// execute runs one request, appending its reply to c.out.
func (c *client) execute(args [][]byte) {
	c.commands++
	cmd, errMsg := lookupCommand(args)
	if cmd == nil {
		c.out = appendError(c.out, errMsg)
		return
	}
	if !cmd.arityAccepts(len(args)) {
		c.out = appendError(c.out, "ERR wrong number of arguments for '"+cmd.fullName+"' command")
		return
	}
	if cmd.write && !c.replaying {
		if err := c.srv.aofError(); err != nil {
			c.out = appendError(c.out, "MISCONF Errors writing to the AOF file: "+err.Error())
			return
		}
	}
	if c.sub != nil && c.subscribed() && !allowedWhenSubscribed[cmd.fullName] {
		c.out = appendError(c.out, "ERR Can't execute '"+cmd.fullName+"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context")
		return
	}
	c.lastCommand = cmd.fullName
	cmd.run(c, args)
}

// propagate records a write in the append-only file, if there is one. The
// caller holds the locks of the keys written, so writes to one key reach
// the file in the order they were made.
func (c *client) propagate(args ...[]byte) {
	if c.srv.aof != nil && !c.replaying {
		c.srv.aof.append(args...)
	}
}

// propagateElems records "word key elems[0] elems[step] ..." in the
// append-only file: the effect of a pop whose choice a replay could not
// repeat (SPOP), or whose reply interleaves scores (ZPOPMIN), as the
// removal of the members it took.
func (c *client) propagateElems(word, key []byte, elems [][]byte, step int) {
	if c.srv.aof != nil && !c.replaying {
		c.srv.aof.appendElems(word, key, elems, step)
	}
}

func (c *client) replyOK()                 { c.out = appendOK(c.out) }
func (c *client) replyError(msg string)    { c.out = appendError(c.out, msg) }
func (c *client) replyInt(n int64)         { c.out = appendInt(c.out, n) }
func (c *client) replyBulk(b []byte)       { c.out = appendBulk(c.out, b) }
func (c *client) replyBulkString(s string) { c.out = appendBulkString(c.out, s) }
func (c *client) replyNull()               { c.out = appendNullBulk(c.out) }
func (c *client) replyStatus(s string)     { c.out = appendStatus(c.out, s) }
func (c *client) replyArrayLen(n int)      { c.out = appendArrayLen(c.out, n) }
func (c *client) replyNullArray()          { c.out = append(c.out, "*-1\r\n"...) }
func (c *client) replyNotInteger()         { c.replyError(errNotInteger) }
func (c *client) replyWrongType()          { c.replyError(errWrongType) }
func (c *client) replySyntaxError()        { c.replyError(errSyntax) }
func (c *client) replyInvalidExpire(cmd string) {
	c.replyError("ERR invalid expire time in '" + cmd + "' command")
}

// Redis's shared error replies.
const (
	errNotInteger = "ERR value is not an integer or out of range"
	errSyntax     = "ERR syntax error"
	errOverflow   = "ERR increment or decrement would overflow"
	errWrongType  = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errPopCount   = "ERR value is out of range, must be positive"
)
