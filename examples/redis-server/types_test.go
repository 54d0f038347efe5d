package main

import (
	"fmt"
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestListRing checks the ring buffer against a slice through random
// pushes and pops at both ends, through growing and shrinking.
func TestListRing(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	l := &listValue{}
	var model []string
	for step := 0; step < 20000; step++ {
		// Phases of growth and of draining, so that the ring shrinks too.
		growing := (step/2000)%2 == 0
		push := (rng.Intn(10) < 6) == growing
		switch {
		case push || len(model) == 0:
			v := fmt.Sprint(step)
			if rng.Intn(2) == 0 {
				l.pushFront([]byte(v))
				model = append([]string{v}, model...)
			} else {
				l.pushBack([]byte(v))
				model = append(model, v)
			}
		case rng.Intn(2) == 0:
			if got := string(l.popFront()); got != model[0] {
				t.Fatalf("step %d: popFront %q, want %q", step, got, model[0])
			}
			model = model[1:]
		default:
			if got := string(l.popBack()); got != model[len(model)-1] {
				t.Fatalf("step %d: popBack %q, want %q", step, got, model[len(model)-1])
			}
			model = model[:len(model)-1]
		}
		if l.length() != len(model) {
			t.Fatalf("step %d: length %d, want %d", step, l.length(), len(model))
		}
		if step%97 == 0 {
			for i, want := range model {
				if got := string(l.at(i)); got != want {
					t.Fatalf("step %d: at(%d) = %q, want %q", step, i, got, want)
				}
			}
		}
	}
	for l.length() > 0 {
		l.popFront()
	}
	if len(l.ring) > 16 {
		t.Errorf("a drained list keeps a ring of %d slots", len(l.ring))
	}
}

// zmodel is a sorted set as a sorted slice: the reference the skiplist is
// checked against.
type zmodel []skipNode

func (m zmodel) less(i, j int) bool {
	return m[i].score < m[j].score || (m[i].score == m[j].score && m[i].member < m[j].member)
}

// TestSkiplist checks the sorted set against a sorted slice through random
// adds, score changes and removals: order, ranks (the spans), backward
// links and range bounds.
func TestSkiplist(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	z := newZset()
	scores := map[string]float64{}
	for step := 0; step < 5000; step++ {
		member := fmt.Sprint("m", rng.Intn(300))
		if rng.Intn(4) == 0 {
			_, had := scores[member]
			if got := z.remove([]byte(member)); got != had {
				t.Fatalf("step %d: remove(%s) = %v, want %v", step, member, got, had)
			}
			delete(scores, member)
		} else {
			score := float64(rng.Intn(50)) // many ties, ordered by member
			z.set(member, score)
			scores[member] = score
		}
		if step%50 == 0 {
			checkSkiplist(t, z, scores, rng)
		}
	}
	checkSkiplist(t, z, scores, rng)
}

func checkSkiplist(t *testing.T, z *zsetValue, scores map[string]float64, rng *rand.Rand) {
	t.Helper()
	var m zmodel
	for member, score := range scores {
		m = append(m, skipNode{member: member, score: score})
	}
	sort.Slice(m, m.less)
	if z.length() != len(m) || !reflect.DeepEqual(z.scores, scores) {
		t.Fatalf("length %d, want %d", z.length(), len(m))
	}
	i := 0
	var prev *skipNode
	for node := z.order.first(); node != nil; node = node.next[0].node {
		if i >= len(m) || node.member != m[i].member || node.score != m[i].score {
			t.Fatalf("node %d is %s=%v, want %v", i, node.member, node.score, m[i])
		}
		if node.prev != prev {
			t.Fatalf("node %d's backward link is wrong", i)
		}
		if at := z.order.at(i); at != node {
			t.Fatalf("at(%d) is not the %d'th node", i, i)
		}
		prev = node
		i++
	}
	if i != len(m) || z.order.tail != prev {
		t.Fatalf("%d nodes, want %d; tail right: %v", i, len(m), z.order.tail == prev)
	}
	for k := 0; k < 20; k++ {
		b := rangeBound{score: float64(rng.Intn(52) - 1), exclusive: rng.Intn(2) == 0}
		wantFirst, wantLast := -1, -1
		for j := range m {
			if wantFirst < 0 && b.lowerAdmits(&m[j]) {
				wantFirst = j
			}
			if b.upperAdmits(&m[j]) {
				wantLast = j
			}
		}
		if got := z.order.firstFrom(b); (got == nil) != (wantFirst < 0) || (got != nil && got.member != m[wantFirst].member) {
			t.Fatalf("firstFrom(%+v) wrong", b)
		}
		if got := z.order.lastUpTo(b); (got == nil) != (wantLast < 0) || (got != nil && got.member != m[wantLast].member) {
			t.Fatalf("lastUpTo(%+v) wrong", b)
		}
	}
}

// TestHashOrder checks that a small hash keeps its fields in the order
// they were first set through deletions, as Redis's compact hashes do,
// and that a large one stays consistent when deletions reorder it.
func TestHashOrder(t *testing.T) {
	h := newHash()
	for _, f := range []string{"a", "b", "c", "d"} {
		h.set([]byte(f), []byte("v"+f))
	}
	h.set([]byte("b"), []byte("new"))
	h.remove([]byte("a"))
	h.remove([]byte("c"))
	var names []string
	for _, f := range h.fields {
		names = append(names, f.name)
	}
	if strings.Join(names, ",") != "b,d" {
		t.Errorf("fields in order %v, want b,d", names)
	}
	if v, ok := h.get([]byte("b")); !ok || string(v) != "new" {
		t.Errorf("b = %q, %v", v, ok)
	}

	big := newHash()
	for i := 0; i < 3*hashOrderedMax; i++ {
		big.set([]byte(fmt.Sprint(i)), []byte(fmt.Sprint(i)))
	}
	for i := 0; i < 3*hashOrderedMax; i += 2 {
		if !big.remove([]byte(fmt.Sprint(i))) {
			t.Fatalf("field %d missing", i)
		}
	}
	for i, f := range big.fields {
		if big.index[f.name] != i || string(f.value) != f.name {
			t.Fatalf("field %q at %d indexed at %d", f.name, i, big.index[f.name])
		}
	}
	if big.length() != 3*hashOrderedMax/2 || len(big.index) != big.length() {
		t.Errorf("%d fields, %d indexed", big.length(), len(big.index))
	}
}

// TestSetPopIsUniform pops from a set of four members many times: each
// must come out about as often as the others, as SPOP promises.
func TestSetPopIsUniform(t *testing.T) {
	s := newSet()
	members := []string{"a", "b", "c", "d"}
	for _, m := range members {
		s.add([]byte(m))
	}
	counts := map[string]int{}
	const pops = 8000
	for i := 0; i < pops; i++ {
		m := s.popRandom()
		counts[m]++
		s.add([]byte(m))
	}
	for _, m := range members {
		// Expected 2000, standard deviation about 39.
		if counts[m] < 1700 || counts[m] > 2300 {
			t.Errorf("%s popped %d times of %d", m, counts[m], pops)
		}
	}
	if s.length() != 4 || len(s.index) != 4 {
		t.Errorf("set of %d members, %d indexed", s.length(), len(s.index))
	}
}

// TestSnapshotOutlivesWrites checks the promise replyElements relies on:
// a snapshot gathered under the lock still holds the bytes it saw after
// the keyspace is changed, a string overwritten in place (its memory
// reused by SET) and collection elements popped, replaced and pushed
// over.
func TestSnapshotOutlivesWrites(t *testing.T) {
	srv, err := newServer(config{})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{srv: srv}
	run := func(args ...string) string {
		out, _ := c.handleData([]byte(cmd(args...)))
		return string(out)
	}
	run("SET", "str", "before")
	run("RPUSH", "list", "l1", "l2")
	run("HSET", "hash", "f", "h1")

	s := srv.db.shardOf([]byte("str"))
	e, _ := s.peek([]byte("str"))
	valueMemory := &e.value[0]
	elems := c.snapshot()
	elems = c.snapshotCopy(elems, e.value)
	l := srv.db.shardOf([]byte("list")).entries["list"].coll.(*listValue)
	elems = append(elems, l.at(0), l.at(1))
	h := srv.db.shardOf([]byte("hash")).entries["hash"].coll.(*hashValue)
	v, _ := h.get([]byte("f"))
	elems = append(elems, v)
	elems = c.snapshotScore(elems, 1.5)

	run("SET", "str", "after!")
	if e, _ := s.peek([]byte("str")); &e.value[0] != valueMemory {
		t.Fatal("SET did not reuse the value's memory: the test no longer tests the copy")
	}
	run("LPOP", "list", "2")
	run("RPUSH", "list", "x1", "x2", "x3")
	run("HSET", "hash", "f", "h2")
	want := []string{"before", "l1", "l2", "h1", "1.5"}
	for i, w := range want {
		if string(elems[i]) != w {
			t.Errorf("snapshot element %d is %q after the writes, want %q", i, elems[i], w)
		}
	}
	c.out = c.out[:0]
	c.replyElements(elems)
	if got := string(c.out); got != "*5\r\n$6\r\nbefore\r\n$2\r\nl1\r\n$2\r\nl2\r\n$2\r\nh1\r\n$3\r\n1.5\r\n" {
		t.Errorf("reply %q", got)
	}
}

// TestReplyElements checks the encoding of nil and empty elements and
// that the snapshot's memory is kept for the next reply, but not when a
// large reply grew it.
func TestReplyElements(t *testing.T) {
	c := &client{}
	elems := append(c.snapshot(), nil, []byte{}, []byte("x"))
	elems = c.snapshotCopy(elems, nil)
	c.replyElements(elems)
	if got := string(c.out); got != "*4\r\n$-1\r\n$0\r\n\r\n$1\r\nx\r\n$0\r\n\r\n" {
		t.Errorf("reply %q", got)
	}
	if cap(c.elems) < 4 || len(c.elems) != 0 {
		t.Errorf("snapshot slice not kept: len %d cap %d", len(c.elems), cap(c.elems))
	}
	big := c.snapshot()
	for i := 0; i <= maxKeptElements; i++ {
		big = c.snapshotCopy(big, []byte(strings.Repeat("y", 100)))
	}
	c.replyElements(big)
	if c.elems != nil || c.arena != nil {
		t.Errorf("a reply of %d elements left a slice of %d and an arena of %d kept", len(big), cap(c.elems), cap(c.arena))
	}
}

// TestParseScore checks scores against what Redis accepts (the compat
// test has the replies; this names the reasons).
func TestParseScore(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"1", 1, true}, {"-1.5", -1.5, true}, {"1e3", 1000, true}, {"inf", math.Inf(1), true}, {"-Infinity", math.Inf(-1), true},
		{"0x10", 16, true}, {"0x1p4", 16, true}, {".5", 0.5, true}, {"4.9e-324", 5e-324, true}, {"0.0", 0, true},
		{"", 0, false}, {" 1", 0, false}, {"1 ", 0, false}, {"nan", 0, false}, {"1e400", 0, false}, {"1e-400", 0, false},
		{"1_0", 0, false}, {"abc", 0, false}, {"1.5.5", 0, false},
		// A p before the x once cut the mantissa backwards and panicked
		// (found by FuzzRequests in CI).
		{"px", 0, false}, {"p0x1", 0, false}, {"0x1p4x", 0, false},
	} {
		got, ok := parseScore([]byte(tc.in))
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseScore(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
