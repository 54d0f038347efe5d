package buffer

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestOutputKeepsOrderAcrossPartialWrites(t *testing.T) {
	var pool Pool
	var out *Output
	var want, got bytes.Buffer
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		chunk := make([]byte, rng.Intn(3*ChunkSize))
		rng.Read(chunk)
		pool.Append(&out, chunk)
		want.Write(chunk)
		// Write a random part of what is pending, as a partial write would.
		n := rng.Intn(len(out.Pending()) + 1)
		got.Write(out.Pending()[:n])
		pool.Consume(&out, n)
	}
	for out.Len() > 0 {
		p := out.Pending()
		got.Write(p)
		pool.Consume(&out, len(p))
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("output reordered or corrupted: got %d bytes, want %d", got.Len(), want.Len())
	}
	if out != nil {
		t.Fatalf("drained output still held: len %d", out.Len())
	}
}

func TestOutputReturnsMemoryToPool(t *testing.T) {
	var pool Pool
	var out *Output
	pool.Append(&out, []byte("hello"))
	pool.Consume(&out, 5)
	if out != nil || len(pool.free) != 1 || len(pool.outputs) != 1 {
		t.Fatalf("after draining a small output: out %v, pool holds %d buffers and %d records, want nil, 1, 1",
			out, len(pool.free), len(pool.outputs))
	}
	pool.Append(&out, []byte("again"))
	if len(pool.free) != 0 || len(pool.outputs) != 0 {
		t.Fatalf("pool still holds %d buffers and %d records after reuse", len(pool.free), len(pool.outputs))
	}
	pool.Reset(&out)
	big := make([]byte, 3*ChunkSize)
	pool.Append(&out, big)
	pool.Reset(&out)
	if len(pool.free) != 1 {
		t.Fatalf("pool holds %d buffers, want only the one ChunkSize buffer, not the big chunk", len(pool.free))
	}
}

func TestNilOutputIsEmpty(t *testing.T) {
	var out *Output
	var pool Pool
	if out.Len() != 0 || out.Pending() != nil {
		t.Fatal("a nil Output is not empty")
	}
	pool.Consume(&out, 0)
	pool.Reset(&out)
	pool.Append(&out, nil)
	if out != nil {
		t.Fatal("appending nothing created an Output")
	}
}

func TestPoolIsBounded(t *testing.T) {
	var pool Pool
	for i := 0; i < 2*maxPooled; i++ {
		pool.Put(make([]byte, 0, ChunkSize))
	}
	if len(pool.free) != maxPooled {
		t.Fatalf("pool holds %d buffers, want the bound %d", len(pool.free), maxPooled)
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	var pool Pool
	var out *Output
	reply := []byte("+OK\r\n")
	pool.Append(&out, reply)
	pool.Reset(&out)
	allocs := testing.AllocsPerRun(1000, func() {
		pool.Append(&out, reply)
		pool.Consume(&out, out.Len())
	})
	if allocs != 0 {
		t.Fatalf("append+drain of a small reply allocates %.1f times, want 0", allocs)
	}
}

// TestLargeQueueCostsWhatItHolds: queueing 64 MiB in 1 MiB appends holds
// 64 MiB of chunks, not a doubled array.
func TestLargeQueueCostsWhatItHolds(t *testing.T) {
	var pool Pool
	var out *Output
	chunk := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		pool.Append(&out, chunk)
	}
	held := 0
	for _, c := range out.chunks {
		held += cap(c)
	}
	if out.Len() != 64<<20 || held != 64<<20 {
		t.Fatalf("queued %d bytes in chunks of total capacity %d, want 64 MiB each", out.Len(), held)
	}
}

// TestSmallAppendsShareChunks: many small appends fill pooled chunks.
func TestSmallAppendsShareChunks(t *testing.T) {
	var pool Pool
	var out *Output
	for i := 0; i < 1000; i++ {
		pool.Append(&out, []byte("0123456789"))
	}
	if want := (10000 + ChunkSize - 1) / ChunkSize; len(out.chunks) != want {
		t.Fatalf("10,000 bytes in 10-byte appends took %d chunks, want %d", len(out.chunks), want)
	}
}

// TestVectoredConsumeKeepsOrder: a vectored write takes bytes from several
// chunks at once, and Consume then drops them across chunk boundaries.
func TestVectoredConsumeKeepsOrder(t *testing.T) {
	var pool Pool
	var out *Output
	var want, got bytes.Buffer
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 2000; i++ {
		chunk := make([]byte, rng.Intn(3*ChunkSize))
		rng.Read(chunk)
		pool.Append(&out, chunk)
		want.Write(chunk)
		// Take a random number of bytes from the chunks in order, as a
		// short writev would.
		n := rng.Intn(out.Len() + 1)
		taken := 0
		for c := 0; c < out.Chunks() && taken < n; c++ {
			b := out.Chunk(c)
			if len(b) > n-taken {
				b = b[:n-taken]
			}
			got.Write(b)
			taken += len(b)
		}
		pool.Consume(&out, n)
		if out.Len() != want.Len()-got.Len() {
			t.Fatalf("after consuming %d: Len = %d, want %d", n, out.Len(), want.Len()-got.Len())
		}
	}
	for out.Len() > 0 {
		p := out.Pending()
		got.Write(p)
		pool.Consume(&out, len(p))
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("output reordered or corrupted: got %d bytes, want %d", got.Len(), want.Len())
	}
	if out != nil {
		t.Fatalf("drained output still held: len %d", out.Len())
	}
}

// Take hands an engine whose writes complete later the chunks themselves,
// bounded by count and bytes, in order, and leaves the rest queued; the
// chunks come back through Put only when the engine is done with them,
// so nothing it still sends can be reused meanwhile.
func TestTakeMovesChunksInOrder(t *testing.T) {
	var p Pool
	var q *Output
	want := bytes.Repeat([]byte("0123456789"), 2000) // 20,000 bytes: five chunks
	p.Append(&q, want[:ChunkSize*2])
	for i := ChunkSize * 2; i < len(want); i += 1000 {
		end := i + 1000
		if end > len(want) {
			end = len(want)
		}
		p.Append(&q, want[i:end])
	}
	p.Consume(&q, 10) // a head inside the first chunk
	var got []byte
	for q.Len() > 0 {
		before := q.Len()
		chunks, head, n := p.Take(&q, nil, 2, 6000)
		if len(chunks) == 0 || len(chunks) > 2 || n != before-q.Len() {
			t.Fatalf("took %d chunks, %d bytes, queue %d -> %d", len(chunks), n, before, q.Len())
		}
		sum := 0
		for i, c := range chunks {
			if i == 0 {
				c = c[head:]
			}
			got = append(got, c...)
			sum += len(c)
		}
		if sum != n {
			t.Fatalf("chunks hold %d bytes, Take said %d", sum, n)
		}
		if n > 6000 && len(chunks) > 1 {
			t.Fatalf("took %d bytes in %d chunks, past the bound", n, len(chunks))
		}
		if len(p.free) > 0 {
			// Nothing goes back to the pool until Put.
			for _, f := range p.free {
				for _, c := range chunks {
					if &f[:1][0] == &c[:1][0] {
						t.Fatal("a chunk in flight is in the pool")
					}
				}
			}
		}
		for _, c := range chunks {
			p.Put(c)
		}
	}
	if !bytes.Equal(got, want[10:]) {
		t.Fatalf("took %d bytes out of order or lost some (want %d)", len(got), len(want)-10)
	}
	if q != nil {
		t.Fatal("the Output record was not released once empty")
	}
}
