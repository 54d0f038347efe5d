package evio

import (
	"bufio"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// hookWrites makes the poll engine's write system calls go through f,
// which gets the bytes offered by one call (one write, or one writev of
// several chunks) and the real call, until the test ends.
func hookWrites(t *testing.T, f func(offered int, real func() (int, error)) (int, error)) {
	realWrite, realWritev := writeFunc, writevFunc
	writeFunc = func(fd int, p []byte) (int, error) {
		return f(len(p), func() (int, error) { return realWrite(fd, p) })
	}
	writevFunc = func(fd int, iov []unix.Iovec) (int, error) {
		offered := 0
		for _, v := range iov {
			offered += int(v.Len)
		}
		return f(offered, func() (int, error) { return realWritev(fd, iov) })
	}
	t.Cleanup(func() { writeFunc, writevFunc = realWrite, realWritev })
}

// TestMultiChunkOutputIsOneWritev (issue 8): output queued in several
// chunks leaves with one writev, not one write per chunk.
func TestMultiChunkOutputIsOneWritev(t *testing.T) {
	var mu sync.Mutex
	var calls []int // bytes offered per system call
	hookWrites(t, func(offered int, real func() (int, error)) (int, error) {
		mu.Lock()
		calls = append(calls, offered)
		mu.Unlock()
		return real()
	})
	part := make([]byte, 3000) // two of them fill one 4 KiB chunk and start another
	for i := range part {
		part[i] = 'm'
	}
	part[len(part)-1] = '\n'
	events := Events{
		PreWrite: func() {}, // one flush per iteration: both outputs queue first
		Data: func(c Conn, in []byte) ([]byte, Action) {
			if in != nil {
				c.Wake() // served in this iteration, before the flush
			}
			return part, None
		},
	}
	s := startServer(t, events, "tcp://127.0.0.1:0")
	c := s.dial(0)
	c.Write([]byte("go"))
	r := bufio.NewReader(c)
	readLine(t, r, c)
	readLine(t, r, c)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0] != 2*len(part) {
		t.Fatalf("bytes offered per system call for 2 x %d bytes in 2 chunks: %v, want one call of %d", len(part), calls, 2*len(part))
	}
}

// TestFlushWriteIsBounded (issue 8): one flush writes at most writeBudget
// bytes to a connection, so that a large queue and a fast reader cannot
// keep the loop from its other connections; the rest goes on the next
// iterations.
func TestFlushWriteIsBounded(t *testing.T) {
	var perFlush, most, total atomic.Int64
	hookWrites(t, func(offered int, real func() (int, error)) (int, error) {
		// A socket that takes everything at once: only the budget stops
		// the flush.
		if sum := perFlush.Add(int64(offered)); sum > most.Load() {
			most.Store(sum)
		}
		total.Add(int64(offered))
		return offered, nil
	})
	big := make([]byte, 16<<20)
	events := Events{
		PreWrite: func() { perFlush.Store(0) }, // once per flush with output
		Data: func(c Conn, in []byte) ([]byte, Action) {
			return big, None
		},
	}
	s := startServer(t, events, "tcp://127.0.0.1:0")
	c := s.dial(0)
	c.Write([]byte("go"))
	waitFor(t, "the reply to be written", func() bool { return total.Load() == int64(len(big)) })
	if m := most.Load(); m > writeBudget {
		t.Fatalf("one flush wrote %d KiB to one connection, budget %d KiB", m>>10, writeBudget>>10)
	}
}
