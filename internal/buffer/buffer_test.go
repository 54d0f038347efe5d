package buffer

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestOutputKeepsOrderAcrossPartialWrites(t *testing.T) {
	var pool Pool
	var out Output
	var want, got bytes.Buffer
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		chunk := make([]byte, rng.Intn(3*ChunkSize))
		rng.Read(chunk)
		out.Append(&pool, chunk)
		want.Write(chunk)
		// Write a random part of what is pending, as a partial write would.
		n := rng.Intn(out.Len() + 1)
		got.Write(out.Pending()[:n])
		out.Consume(&pool, n)
	}
	got.Write(out.Pending())
	out.Consume(&pool, out.Len())
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("output reordered or corrupted: got %d bytes, want %d", got.Len(), want.Len())
	}
	if out.Len() != 0 || out.buf != nil {
		t.Fatalf("drained output still holds memory: len %d, buf cap %d", out.Len(), cap(out.buf))
	}
}

func TestOutputReturnsSmallBuffersToPool(t *testing.T) {
	var pool Pool
	var out Output
	out.Append(&pool, []byte("hello"))
	out.Consume(&pool, 5)
	if len(pool.free) != 1 {
		t.Fatalf("pool holds %d buffers after a drained small output, want 1", len(pool.free))
	}
	out.Append(&pool, []byte("again"))
	if len(pool.free) != 0 {
		t.Fatalf("pool still holds %d buffers after reuse, want 0", len(pool.free))
	}
	big := make([]byte, 3*ChunkSize)
	out.Append(&pool, big)
	out.Reset(&pool)
	if len(pool.free) != 0 {
		t.Fatalf("pool kept a buffer grown past ChunkSize")
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
	var out Output
	reply := []byte("+OK\r\n")
	allocs := testing.AllocsPerRun(1000, func() {
		out.Append(&pool, reply)
		out.Consume(&pool, out.Len())
	})
	if allocs != 0 {
		t.Fatalf("append+drain of a small reply allocates %.1f times, want 0", allocs)
	}
}
