package evio

import "sync/atomic"

// Output bounds; see Options.MaxOutput and Events.MaxTotalOutput.
const (
	defaultMaxOutput      = 64 << 20
	defaultMaxTotalOutput = 1 << 30
	// sharedOutputFloor is the queue size up to which a connection is never
	// held back by the server-wide total.
	sharedOutputFloor = 64 << 10
)

// cacheLine is the size the per-loop atomics are padded to, so that loops
// updating their own counters do not invalidate each other's cache lines.
// 128 bytes covers the adjacent-line prefetch of x86 and the 128-byte
// lines of some arm64 cores.
const cacheLine = 128

// outputBudget is the server-wide bound on queued output. Each loop
// publishes its own total at the end of each iteration in which it changed;
// any goroutine may read.
type outputBudget struct {
	limit int64
	loops []budgetShare // by loop
}

// budgetShare is one loop's part of the budget, alone on its cache line.
type budgetShare struct {
	queued atomic.Int64
	// waiting is set by a loop that holds connections back because the
	// total is used up; the loop whose publish brings the total below the
	// limit clears it and wakes that loop.
	waiting atomic.Bool
	_       [cacheLine - 12]byte
}

func newOutputBudget(limit, loops int) *outputBudget {
	if limit <= 0 {
		limit = defaultMaxTotalOutput
	}
	return &outputBudget{limit: int64(limit), loops: make([]budgetShare, loops)}
}

// exhausted reports whether the server holds its limit of queued output.
func (b *outputBudget) exhausted() bool {
	var total int64
	for i := range b.loops {
		total += b.loops[i].queued.Load()
	}
	return total >= b.limit
}

// publish stores loop i's total and, if the server is now below its limit,
// wakes the loops that hold connections back for it.
func (b *outputBudget) publish(s *server, i, queued int) {
	b.loops[i].queued.Store(int64(queued))
	if b.exhausted() {
		return
	}
	for j := range b.loops {
		if b.loops[j].waiting.Load() && b.loops[j].waiting.CompareAndSwap(true, false) {
			s.loops[j].post(task{kind: taskBudget})
		}
	}
}

// wait records that loop i holds a connection back because the total is
// used up, and reports whether it still is. The flag is set before the
// total is read again, and publish stores before it reads the flags, so a
// publish that frees the total either sees the flag or is seen here: no
// wakeup is lost.
func (b *outputBudget) wait(i int) (stillExhausted bool) {
	b.loops[i].waiting.Store(true)
	return b.exhausted()
}
