// Package buffer holds a connection's pending output and the per-loop pool
// its memory comes from, so that an idle connection holds no buffer at all:
// just a nil *Output.
//
// Nothing here is safe for concurrent use: an event loop owns its Pool and
// the Output of each of its connections.
package buffer

// ChunkSize is the capacity of pooled buffers: large enough for the replies
// of request/response protocols, small enough to keep per loop.
const ChunkSize = 4096

// maxPooled bounds the memory a Pool keeps while connections are idle.
const maxPooled = 256

// Pool recycles ChunkSize buffers and Output records within one loop.
type Pool struct {
	free    [][]byte
	outputs []*Output
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
// A connection with nothing to write holds a nil *Output; the Pool's
// methods create and release the record as bytes come and go.
type Output struct {
	buf  []byte // buf[head:] is pending
	head int
}

// Len is the number of pending bytes; 0 for a nil Output.
func (o *Output) Len() int {
	if o == nil {
		return 0
	}
	return len(o.buf) - o.head
}

// Pending returns the pending bytes; valid until the next Append, Consume
// or Reset.
func (o *Output) Pending() []byte {
	if o == nil {
		return nil
	}
	return o.buf[o.head:]
}

// Append queues a copy of data on *q, creating the Output if needed.
func (p *Pool) Append(q **Output, data []byte) {
	if len(data) == 0 {
		return
	}
	o := *q
	if o == nil {
		if n := len(p.outputs); n > 0 {
			o = p.outputs[n-1]
			p.outputs[n-1] = nil
			p.outputs = p.outputs[:n-1]
		} else {
			o = new(Output)
		}
		if len(data) <= ChunkSize {
			o.buf = p.Get()
		} else {
			o.buf = make([]byte, 0, len(data))
		}
		*q = o
	} else if o.head > 0 && len(o.buf)+len(data) > cap(o.buf) {
		// Reclaim the written front before growing the array.
		n := copy(o.buf, o.buf[o.head:])
		o.buf = o.buf[:n]
		o.head = 0
	}
	o.buf = append(o.buf, data...)
}

// Consume drops n written bytes from the front of *q, releasing it when
// it is empty.
func (p *Pool) Consume(q **Output, n int) {
	o := *q
	if o == nil {
		return
	}
	o.head += n
	if o.head >= len(o.buf) {
		p.Reset(q)
	}
}

// Reset drops everything pending on *q and releases it.
func (p *Pool) Reset(q **Output) {
	o := *q
	if o == nil {
		return
	}
	p.Put(o.buf)
	o.buf = nil
	o.head = 0
	if len(p.outputs) < maxPooled {
		p.outputs = append(p.outputs, o)
	}
	*q = nil
}
