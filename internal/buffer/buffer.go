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

// Output is the queue of bytes waiting to be written to one connection: a
// list of chunks, so that a large queue costs what it holds and no more (a
// single growing slice would double its array and leave the old one to the
// collector). Small outputs fill pooled ChunkSize buffers; a large append
// gets a chunk of exactly its size. A connection with nothing to write
// holds a nil *Output; the Pool's methods create and release the record as
// bytes come and go.
type Output struct {
	chunks [][]byte // chunks[0][head:] is written first
	head   int
	n      int // pending bytes
}

// Len is the number of pending bytes; 0 for a nil Output.
func (o *Output) Len() int {
	if o == nil {
		return 0
	}
	return o.n
}

// Pending returns the bytes to write next: the rest of the first chunk.
// Valid until the next Append, Consume or Reset.
func (o *Output) Pending() []byte {
	if o == nil || len(o.chunks) == 0 {
		return nil
	}
	return o.chunks[0][o.head:]
}

// Chunks is the number of chunks holding the pending bytes; 0 for a nil
// Output.
func (o *Output) Chunks() int {
	if o == nil {
		return 0
	}
	return len(o.chunks)
}

// Chunk returns the pending bytes of the i-th chunk, 0 <= i < Chunks(): a
// vectored write takes them in order. Valid until the next Append,
// Consume or Reset.
func (o *Output) Chunk(i int) []byte {
	if i == 0 {
		return o.chunks[0][o.head:]
	}
	return o.chunks[i]
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
		*q = o
	}
	o.n += len(data)
	if k := len(o.chunks); k > 0 {
		last := o.chunks[k-1]
		if room := cap(last) - len(last); room > 0 && (room >= len(data) || len(data) <= ChunkSize) {
			m := len(data)
			if m > room {
				m = room
			}
			o.chunks[k-1] = append(last, data[:m]...)
			data = data[m:]
		}
	}
	for len(data) > 0 {
		var chunk []byte
		if len(data) <= ChunkSize {
			chunk = p.Get()
		} else {
			chunk = make([]byte, 0, len(data))
		}
		m := cap(chunk)
		if m > len(data) {
			m = len(data)
		}
		o.chunks = append(o.chunks, append(chunk, data[:m]...))
		data = data[m:]
	}
}

// Consume drops n written bytes, at most Len(), from the front of *q,
// releasing each chunk it empties and the Output once it is empty.
func (p *Pool) Consume(q **Output, n int) {
	o := *q
	if o == nil || n <= 0 {
		return
	}
	o.n -= n
	done := 0 // chunks emptied
	for n > 0 {
		rest := len(o.chunks[done]) - o.head
		if n < rest {
			o.head += n
			break
		}
		n -= rest
		o.head = 0
		p.Put(o.chunks[done])
		o.chunks[done] = nil
		done++
	}
	if done > 0 {
		k := copy(o.chunks, o.chunks[done:])
		for i := k; i < len(o.chunks); i++ {
			o.chunks[i] = nil
		}
		o.chunks = o.chunks[:k]
	}
	if len(o.chunks) == 0 {
		p.Reset(q)
	}
}

// Take moves chunks off the front of *q into dst, at most max of them and
// none that would take the bytes past maxBytes but the first, for an
// engine whose writes complete later: the bytes stay in those chunks, which the caller gives back with
// Put once the kernel is done with them. head is where the pending bytes
// of the first chunk start; n is how many bytes were taken.
func (p *Pool) Take(q **Output, dst [][]byte, max, maxBytes int) (chunks [][]byte, head, n int) {
	o := *q
	if o == nil {
		return dst, 0, 0
	}
	head = o.head
	k := 0
	for k < len(o.chunks) && k < max {
		c := o.chunks[k]
		m := len(c)
		if k == 0 {
			m -= head
		} else if n+m > maxBytes {
			break
		}
		n += m
		dst = append(dst, c)
		k++
	}
	rest := copy(o.chunks, o.chunks[k:])
	for i := rest; i < len(o.chunks); i++ {
		o.chunks[i] = nil
	}
	o.chunks = o.chunks[:rest]
	o.head = 0
	o.n -= n
	if len(o.chunks) == 0 {
		p.Reset(q)
	}
	return dst, head, n
}

// Reset drops everything pending on *q and releases it.
func (p *Pool) Reset(q **Output) {
	o := *q
	if o == nil {
		return
	}
	for i, c := range o.chunks {
		p.Put(c)
		o.chunks[i] = nil
	}
	o.chunks = o.chunks[:0]
	o.head, o.n = 0, 0
	if len(p.outputs) < maxPooled {
		p.outputs = append(p.outputs, o)
	}
	*q = nil
}
