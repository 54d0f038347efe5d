package main

import (
	"math/rand"
	"unsafe"
)

// collection is the value of a key that is not a string: a list, a set, a
// hash or a sorted set. Its methods are called with the key's shard
// locked.
//
// Elements are immutable once stored: a command that changes an element
// stores a new one in its place and never writes into the bytes of the old
// one. So a reply can be gathered as references to elements under the
// shard lock and written out after it is released (see replyElements),
// even while other loops change the collection.
type collection interface {
	// typeName is what TYPE answers.
	typeName() string
	// length is the number of elements; never 0 for a stored collection.
	length() int
}

// cloneBytes copies b into memory of its own. The copy is never nil, even
// for an empty b: a nil element stands for a null in replyElements.
func cloneBytes(b []byte) []byte { return append([]byte{}, b...) }

// stringBytes returns the bytes of s without copying them. The result
// must only be read: it is how members and fields, held as map keys,
// become reply elements. Never nil, like cloneBytes's copies.
func stringBytes(s string) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// listValue is a list: a ring buffer of elements, so that pushing and
// popping at either end take constant time, and indexing too.
type listValue struct {
	ring [][]byte // its length is 0 or a power of two
	head int      // index in ring of the first element
	n    int      // number of elements
}

func (l *listValue) typeName() string { return "list" }
func (l *listValue) length() int      { return l.n }

// at returns the i'th element, 0 <= i < n.
func (l *listValue) at(i int) []byte { return l.ring[(l.head+i)&(len(l.ring)-1)] }

// grow makes room for one more element.
func (l *listValue) grow() {
	if l.n < len(l.ring) {
		return
	}
	size := 2 * len(l.ring)
	if size == 0 {
		size = 4
	}
	l.resize(size)
}

// resize moves the elements to a ring of size slots, first at 0.
func (l *listValue) resize(size int) {
	ring := make([][]byte, size)
	for i := 0; i < l.n; i++ {
		ring[i] = l.at(i)
	}
	l.ring, l.head = ring, 0
}

// shrink returns memory once most of the ring is empty, so a list that
// was long and is drained does not keep its peak size.
func (l *listValue) shrink() {
	if len(l.ring) > 16 && l.n < len(l.ring)/4 {
		l.resize(len(l.ring) / 2)
	}
}

// pushFront stores a copy of b before the first element.
func (l *listValue) pushFront(b []byte) {
	l.grow()
	l.head = (l.head - 1) & (len(l.ring) - 1)
	l.ring[l.head] = cloneBytes(b)
	l.n++
}

// pushBack stores a copy of b after the last element.
func (l *listValue) pushBack(b []byte) {
	l.grow()
	l.ring[(l.head+l.n)&(len(l.ring)-1)] = cloneBytes(b)
	l.n++
}

// popFront removes and returns the first element; the list is not empty.
func (l *listValue) popFront() []byte {
	b := l.ring[l.head]
	l.ring[l.head] = nil // for the garbage collector
	l.head = (l.head + 1) & (len(l.ring) - 1)
	l.n--
	l.shrink()
	return b
}

// popBack removes and returns the last element; the list is not empty.
func (l *listValue) popBack() []byte {
	i := (l.head + l.n - 1) & (len(l.ring) - 1)
	b := l.ring[i]
	l.ring[i] = nil
	l.n--
	l.shrink()
	return b
}

// setValue is a set: its members in a slice, for picking one at random in
// constant time (SPOP), and their positions in a map.
type setValue struct {
	members []string
	index   map[string]int
}

func newSet() *setValue { return &setValue{index: make(map[string]int)} }

func (s *setValue) typeName() string { return "set" }
func (s *setValue) length() int      { return len(s.members) }

func (s *setValue) has(member []byte) bool {
	_, ok := s.index[string(member)]
	return ok
}

// add adds member and reports whether it was new.
func (s *setValue) add(member []byte) bool {
	if s.has(member) {
		return false
	}
	m := string(member)
	s.index[m] = len(s.members)
	s.members = append(s.members, m)
	return true
}

// remove removes member and reports whether it was there. The last
// member takes its place, so removal takes constant time.
func (s *setValue) remove(member []byte) bool {
	i, ok := s.index[string(member)]
	if !ok {
		return false
	}
	s.removeAt(i)
	return true
}

func (s *setValue) removeAt(i int) {
	last := len(s.members) - 1
	delete(s.index, s.members[i])
	if i != last {
		s.members[i] = s.members[last]
		s.index[s.members[i]] = i
	}
	s.members[last] = ""
	s.members = s.members[:last]
	if cap(s.members) > 64 && len(s.members) < cap(s.members)/4 {
		s.members = append([]string(nil), s.members...)
	}
}

// popRandom removes a member chosen uniformly at random and returns it.
// The set is not empty.
func (s *setValue) popRandom() string {
	i := rand.Intn(len(s.members))
	m := s.members[i]
	s.removeAt(i)
	return m
}

// hashOrderedMax is the size up to which a hash keeps its fields in the
// order they were first set, deletions included, as Redis's compact
// encoding of small hashes does (hash-max-listpack-entries), so that
// HGETALL of a small hash answers in Redis's order. Above it a deletion
// moves the last field into the gap, as order is then unspecified in
// Redis too.
const hashOrderedMax = 128

// hashValue is a hash: fields and values in a slice, in the order HGETALL
// answers them, and the fields' positions in a map.
type hashValue struct {
	fields []hashField
	index  map[string]int
}

// hashField is one field of a hash and its value.
type hashField struct {
	name  string
	value []byte
}

func newHash() *hashValue { return &hashValue{index: make(map[string]int)} }

func (h *hashValue) typeName() string { return "hash" }
func (h *hashValue) length() int      { return len(h.fields) }

// get returns the value of field, or nil if there is none.
func (h *hashValue) get(field []byte) ([]byte, bool) {
	i, ok := h.index[string(field)]
	if !ok {
		return nil, false
	}
	return h.fields[i].value, true
}

// set stores a copy of value in field and reports whether the field is
// new. An existing field gets the new copy in its place; the old value's
// bytes are left as they are for any reply still holding them.
func (h *hashValue) set(field, value []byte) bool {
	if i, ok := h.index[string(field)]; ok {
		h.fields[i].value = cloneBytes(value)
		return false
	}
	name := string(field)
	h.index[name] = len(h.fields)
	h.fields = append(h.fields, hashField{name: name, value: cloneBytes(value)})
	return true
}

// remove deletes field and reports whether it was there.
func (h *hashValue) remove(field []byte) bool {
	i, ok := h.index[string(field)]
	if !ok {
		return false
	}
	delete(h.index, h.fields[i].name)
	last := len(h.fields) - 1
	if len(h.fields) <= hashOrderedMax {
		copy(h.fields[i:], h.fields[i+1:])
		for j := i; j < last; j++ {
			h.index[h.fields[j].name] = j
		}
	} else if i != last {
		h.fields[i] = h.fields[last]
		h.index[h.fields[i].name] = i
	}
	h.fields[last] = hashField{}
	h.fields = h.fields[:last]
	return true
}

// collectionOf returns e's collection as a T: the zero T (nil) and true
// for a missing key, false for a key of another type, strings included.
func collectionOf[T collection](e *entry) (T, bool) {
	var none T
	if e == nil {
		return none, true
	}
	v, ok := e.coll.(T)
	return v, ok
}

// readEntry locks key's shard for reading and returns its live entry, or
// nil. The caller ends with s.readDone.
func (db *keyspace) readEntry(key []byte) (s *shard, e *entry, stale bool) {
	s = db.shardOf(key)
	s.mu.RLock()
	e, stale = s.peek(key)
	return s, e, stale
}

// readDone unlocks what readEntry locked and deletes key if readEntry
// found it expired.
func (s *shard) readDone(key []byte, stale bool) {
	s.mu.RUnlock()
	if stale {
		s.reap(key)
	}
}

// writeEntry locks key's shard for writing and returns its live entry, or
// nil. The caller unlocks s.mu.
func (db *keyspace) writeEntry(key []byte) (s *shard, e *entry) {
	s = db.shardOf(key)
	s.mu.Lock()
	return s, s.lookup(key)
}

// removeIfEmpty deletes e once its collection has lost its last element,
// as Redis deletes an emptied key. The caller holds the write lock.
func (s *shard) removeIfEmpty(e *entry) {
	if e.coll.length() == 0 {
		s.remove(e)
	}
}

// parsePopCount parses the count of LPOP, SPOP, ZPOPMIN and their
// siblings: a non-negative integer, or Redis's one error for anything
// else.
func parsePopCount(b []byte) (int64, bool) {
	n, ok := parseRedisInt(b)
	return n, ok && n >= 0
}

// indexRange turns LRANGE's or ZRANGE's start and stop, which count from
// the end when negative, into indexes lo..hi of a sequence of n, clamped
// to it; ok is false when the range holds nothing.
func indexRange(start, stop int64, n int) (lo, hi int, ok bool) {
	length := int64(n)
	if start < 0 {
		start += length
	}
	if stop < 0 {
		stop += length
	}
	if start < 0 {
		start = 0
	}
	if start > stop || start >= length {
		return 0, 0, false
	}
	if stop >= length {
		stop = length - 1
	}
	return int(start), int(stop), true
}

// removableCollection is a collection whose members (or fields) are
// removed one at a time: a set, a sorted set, a hash.
type removableCollection interface {
	collection
	remove(member []byte) bool
}

// removeMembers is SREM, ZREM and HDEL: it removes the members named after
// the key from a collection of type T, deletes the key once it is empty,
// logs the command if it removed anything, and replies with the count.
func removeMembers[T removableCollection](c *client, args [][]byte) {
	s, e := c.srv.db.writeEntry(args[1])
	coll, ok := collectionOf[T](e)
	if !ok {
		s.mu.Unlock()
		c.replyWrongType()
		return
	}
	removed := 0
	if e != nil {
		for _, member := range args[2:] {
			if coll.remove(member) {
				removed++
			}
		}
		s.removeIfEmpty(e)
	}
	if removed > 0 {
		c.propagate(args...)
	}
	s.mu.Unlock()
	c.replyInt(int64(removed))
}
