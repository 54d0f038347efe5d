package evio

import "time"

// Time inside a loop is monotonic nanoseconds since clockEpoch: cheap to
// read (time.Since of a monotonic reading is one runtime clock call) and
// immune to wall-clock steps.
var clockEpoch = time.Now()

// monotime is the loop clock: nanoseconds since clockEpoch.
func monotime() int64 { return int64(time.Since(clockEpoch)) }

// A timerTarget is what a loop's timer heap schedules: a connection (its
// deadlines, then its linger re-checks), a Timer of AfterFunc, a listener
// (accept back-off) or one of the loop's own timers (Tick, the shutdown
// drain deadline). Each target is in
// the heap at most once: scheduling it again moves it.
type timerTarget interface {
	// timerIndex is where the heap keeps the target's position: index+1,
	// or 0 while the target is not scheduled.
	timerIndex() *int32
	// onTimer runs on the loop's goroutine when the target is due, with
	// the clock reading and the arg it was scheduled with; it is no longer
	// in the heap and may schedule itself again.
	onTimer(l *loop, now, arg int64)
}

type timerEntry struct {
	when   int64 // monotime at which it is due
	arg    int64 // for the target: a linger deadline, say
	target timerTarget
}

// timerHeap is a loop's one timer mechanism, Redis's time events on a
// binary min-heap: the loop waits until the earliest entry is due and then
// runs every due entry. Scheduling and cancelling cost O(log n); a loop
// iteration looks at the earliest entry only, so timers that are not due
// cost nothing. Owned by the loop's goroutine.
type timerHeap struct {
	entries []timerEntry
}

// schedule puts t in the heap, due at when; if t is already scheduled it
// moves.
func (h *timerHeap) schedule(t timerTarget, when, arg int64) {
	idx := t.timerIndex()
	if *idx > 0 {
		i := int(*idx - 1)
		old := h.entries[i].when
		h.entries[i].when, h.entries[i].arg = when, arg
		if when < old {
			h.up(i)
		} else {
			h.down(i)
		}
		return
	}
	h.entries = append(h.entries, timerEntry{when: when, arg: arg, target: t})
	i := len(h.entries) - 1
	*idx = int32(i + 1)
	h.up(i)
}

// scheduleBy makes t due at when at the latest: it is scheduled if it is
// not, and moved only if it is due later. A target that may fire early
// looks at the real time itself (checkDeadlines), so pushing a deadline
// later leaves the heap alone.
func (h *timerHeap) scheduleBy(t timerTarget, when int64) {
	if idx := *t.timerIndex(); idx > 0 && h.entries[idx-1].when <= when {
		return
	}
	h.schedule(t, when, 0)
}

// cancel takes t out of the heap, if it is there.
func (h *timerHeap) cancel(t timerTarget) {
	idx := t.timerIndex()
	if *idx == 0 {
		return
	}
	i := int(*idx - 1)
	*idx = 0
	last := len(h.entries) - 1
	if i != last {
		h.entries[i] = h.entries[last]
		*h.entries[i].target.timerIndex() = int32(i + 1)
	}
	h.entries[last] = timerEntry{}
	h.entries = h.entries[:last]
	if i != last {
		h.down(i)
		h.up(i)
	}
}

// next is when the earliest entry is due; ok is false when there is none.
func (h *timerHeap) next() (when int64, ok bool) {
	if len(h.entries) == 0 {
		return 0, false
	}
	return h.entries[0].when, true
}

// popDue takes the earliest entry out if it is due at now.
func (h *timerHeap) popDue(now int64) (t timerTarget, arg int64, ok bool) {
	if len(h.entries) == 0 || h.entries[0].when > now {
		return nil, 0, false
	}
	e := h.entries[0]
	h.cancel(e.target)
	return e.target, e.arg, true
}

func (h *timerHeap) len() int { return len(h.entries) }

func (h *timerHeap) swap(i, j int) {
	h.entries[i], h.entries[j] = h.entries[j], h.entries[i]
	*h.entries[i].target.timerIndex() = int32(i + 1)
	*h.entries[j].target.timerIndex() = int32(j + 1)
}

func (h *timerHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if h.entries[parent].when <= h.entries[i].when {
			return
		}
		h.swap(i, parent)
		i = parent
	}
}

func (h *timerHeap) down(i int) {
	n := len(h.entries)
	for {
		least := i
		if l := 2*i + 1; l < n && h.entries[l].when < h.entries[least].when {
			least = l
		}
		if r := 2*i + 2; r < n && h.entries[r].when < h.entries[least].when {
			least = r
		}
		if least == i {
			return
		}
		h.swap(i, least)
		i = least
	}
}

// loopTimer is one of a loop's own timers (Tick, the drain deadline).
type loopTimer struct {
	index int32
	fire  func(l *loop, now int64)
}

func (t *loopTimer) timerIndex() *int32              { return &t.index }
func (t *loopTimer) onTimer(l *loop, now, arg int64) { t.fire(l, now) }

// Timer is a function scheduled with Conn.AfterFunc. Its methods belong to
// the connection's loop: call them from the events and timers of that
// connection.
type Timer struct {
	c          *conn // nil for a Timer that never fires
	f          func() (out []byte, action Action)
	index      int32  // in the loop's heap, +1; 0 when not scheduled
	prev, next *Timer // in c.ext.timers while scheduled (not for UDP)
	// due is when the timer fires. Its heap entry may be due earlier: a
	// Reset to a later time (a timeout pushed back on every request) only
	// stores it, and the entry, when it comes, moves itself to due.
	due int64
}

func (c *conn) AfterFunc(d time.Duration, f func() (out []byte, action Action)) *Timer {
	t := &Timer{f: f}
	if c.ended() {
		return t
	}
	t.c = c
	t.schedule(d)
	return t
}

// Stop keeps the timer from firing. It reports whether it did: false when
// the timer has already fired, been stopped, or been stopped with its
// connection.
func (t *Timer) Stop() bool {
	if t.index == 0 {
		return false
	}
	t.c.loop.timers.cancel(t)
	t.unlink()
	return true
}

// Reset makes the timer fire once d has passed from now, whether or not it
// has fired or been stopped; it reports whether the timer was still to
// fire. Once its connection has ended it does nothing and reports false.
func (t *Timer) Reset(d time.Duration) bool {
	if t.c == nil || t.c.ended() {
		return false
	}
	pending := t.index != 0
	t.schedule(d)
	return pending
}

func (t *Timer) schedule(d time.Duration) {
	if d < 0 {
		d = 0
	}
	c := t.c
	t.due = addTime(monotime(), int64(d))
	c.loop.timers.scheduleBy(t, t.due)
	if c.origin.datagram || t.prev != nil || c.ext != nil && c.ext.timers == t {
		return // a datagram's sender never ends; or linked already
	}
	x := c.extend()
	t.next = x.timers
	if t.next != nil {
		t.next.prev = t
	}
	x.timers = t
}

// unlink takes t out of its connection's list.
func (t *Timer) unlink() {
	c := t.c
	if c.origin.datagram {
		return
	}
	if t.prev != nil {
		t.prev.next = t.next
	} else if c.ext != nil && c.ext.timers == t {
		c.ext.timers = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.prev, t.next = nil, nil
}

func (t *Timer) timerIndex() *int32 { return &t.index }

func (t *Timer) onTimer(l *loop, now, arg int64) {
	if t.due > now {
		l.timers.schedule(t, t.due, 0) // Reset later since it was scheduled
		return
	}
	t.unlink()
	c := t.c
	if l.stopping || c.ended() {
		return
	}
	out, action, err := l.server.handlers.timer(t.f)
	if c.origin.datagram {
		if err == nil {
			l.replyDatagram(c, out, action)
		}
		return
	}
	if err != nil {
		l.closeConn(c, err)
		return
	}
	l.react(c, out, action)
}

// stopTimers stops c's AfterFunc timers: it has ended.
func (l *loop) stopTimers(c *conn) {
	if c.ext == nil {
		return
	}
	for t := c.ext.timers; t != nil; {
		next := t.next
		l.timers.cancel(t)
		t.prev, t.next = nil, nil
		t = next
	}
	c.ext.timers = nil
}
