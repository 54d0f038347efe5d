// Package buffer holds a connection's pending output and the per-loop pool
// its memory comes from, so that an idle connection holds no buffer at all.
//
// Nothing here is safe for concurrent use: an event loop owns its Pool and
// the Output of each of its connections.
package buffer

// ChunkSize is the capacity of pooled buffers: large enough for the replies
// of request/response protocols, small enough to keep per loop.
const ChunkSize = 4096

// maxPooled bounds the memory a Pool keeps while connections are idle.
const maxPooled = 256

// Pool recycles ChunkSize buffers within one loop.
type Pool struct {
	free [][]byte
}

// Get returns an empty buffer of capacity ChunkSize.
func (p *Pool) Get() []byte {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		return b
	}
	return make([]byte, 0, ChunkSize)
}

// Put returns b to the pool if it is a pool-sized buffer; anything else is
// left to the garbage collector.
func (p *Pool) Put(b []byte) {
	if cap(b) != ChunkSize || len(p.free) >= maxPooled {
		return
	}
	p.free = append(p.free, b[:0])
}

// Output is the queue of bytes waiting to be written to one connection.
// Written bytes are consumed from the front; memory goes back to the pool
// as soon as the queue is empty.
type Output struct {
	buf  []byte // buf[head:] is pending; nil when empty
	head int
}

// Len is the number of pending bytes.
func (o *Output) Len() int { return len(o.buf) - o.head }

// Pending returns the pending bytes; valid until the next Append, Consume
// or Reset.
func (o *Output) Pending() []byte { return o.buf[o.head:] }

// Append queues a copy of data.
func (o *Output) Append(p *Pool, data []byte) {
	if len(data) == 0 {
		return
	}
	if o.buf == nil {
		if len(data) <= ChunkSize {
			o.buf = p.Get()
		} else {
			o.buf = make([]byte, 0, len(data))
		}
	} else if o.head > 0 && len(o.buf)+len(data) > cap(o.buf) {
		// Reclaim the written front before growing the array.
		n := copy(o.buf, o.buf[o.head:])
		o.buf = o.buf[:n]
		o.head = 0
	}
	o.buf = append(o.buf, data...)
}

// Consume drops n written bytes from the front.
func (o *Output) Consume(p *Pool, n int) {
	o.head += n
	if o.head >= len(o.buf) {
		o.Reset(p)
	}
}

// Reset drops everything pending and returns the memory.
func (o *Output) Reset(p *Pool) {
	if o.buf != nil {
		p.Put(o.buf)
	}
	o.buf = nil
	o.head = 0
}
