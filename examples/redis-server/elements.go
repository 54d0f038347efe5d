package main

// Replies of many elements.
//
// Every command that answers with an array of values (LRANGE, SMEMBERS,
// HGETALL, HMGET, ZRANGE, the pops with a count, MGET, KEYS) works in two
// steps: under its shard lock it gathers the elements as a snapshot, a
// [][]byte of references, and after unlocking it hands the snapshot to
// replyElements, the one function that writes such replies, in pieces as
// the socket drains when the reply is large (backpressure.go): every one
// of them streams.
//
// A snapshot stays valid after the lock is released because what it
// refers to is never written again: elements of collections are immutable
// once stored (see collection), members and fields are Go strings, and
// what may change in place, string values (SET reuses their memory) and
// scores, is copied into the client's arena (snapshotCopy, snapshotScore),
// or, for an MGET too large to copy, pinned (entry.pin).

// snapshot starts gathering a multi-element reply: it returns the client's
// empty scratch slice, for the command to append element references to
// and pass to replyElements.
func (c *client) snapshot() [][]byte { return c.elems[:0] }

// snapshotCopy appends a copy of b to elems, in the client's arena: for a
// string value, which a SET from another loop may overwrite in place once
// the lock is released.
func (c *client) snapshotCopy(elems [][]byte, b []byte) [][]byte {
	start := len(c.arena)
	c.arena = append(c.arena, b...)
	return append(elems, c.arenaSince(start))
}

// snapshotScore appends a score, formatted as Redis replies with it.
func (c *client) snapshotScore(elems [][]byte, score float64) [][]byte {
	start := len(c.arena)
	c.arena = appendScore(c.arena, score)
	return append(elems, c.arenaSince(start))
}

// arenaSince returns the arena's bytes from start, never nil (a nil
// element is a null). Its capacity is cut, so nothing appended to the
// arena later can reach into it; and a later growth of the arena copies
// it elsewhere, leaving the bytes it refers to as they are.
func (c *client) arenaSince(start int) []byte {
	if start == len(c.arena) {
		return []byte{}
	}
	return c.arena[start:len(c.arena):len(c.arena)]
}

// replyElements appends a RESP array of bulk strings to the reply, one per
// element, a nil element as a null bulk string ($-1, MGET's missing key):
// as much as the connection's queue takes now (see backpressure.go), the
// rest from resume as it drains, with no other request run in between.
//
// It takes elems, and the arena the copies in it were made in, over from
// the caller: the caller neither reads nor changes them after the call.
// They are kept for the client's next snapshot once the last element is
// written.
func (c *client) replyElements(elems [][]byte) {
	c.out = appendArrayLen(c.out, len(elems))
	c.stream, c.streamNext = elems, 0
	c.continueStream()
}

// continueStream writes elements of the reply in progress until the queue
// is full or the reply is complete.
func (c *client) continueStream() {
	for c.streamNext < len(c.stream) && !c.outputFull() {
		if e := c.stream[c.streamNext]; e == nil {
			c.out = appendNullBulk(c.out)
		} else {
			c.out = appendBulk(c.out, e)
		}
		c.stream[c.streamNext] = nil // written: let the value go
		c.streamNext++
	}
	if c.streamNext == len(c.stream) {
		elems := c.stream
		c.stream, c.streamNext = nil, 0
		c.releaseSnapshot(elems)
	}
}

// releaseSnapshot keeps elems' memory and the arena's for the next
// snapshot, unless a large reply grew them: clearing the references lets
// the garbage collector have elements deleted meanwhile.
func (c *client) releaseSnapshot(elems [][]byte) {
	if cap(elems) > maxKeptElements {
		c.elems = nil
	} else {
		for i := range elems {
			elems[i] = nil
		}
		c.elems = elems[:0]
	}
	if cap(c.arena) > maxKeptBuffer {
		c.arena = nil
	} else {
		c.arena = c.arena[:0]
	}
}

// maxKeptElements bounds the snapshot slice a connection keeps between
// replies.
const maxKeptElements = 4096
