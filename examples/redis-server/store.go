package main

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// shardCount is the number of independently locked parts of the keyspace.
// Commands on keys of different shards, from different loops, do not wait
// for each other. A power of two, so a hash picks a shard with a mask.
const shardCount = 64

// keyspace is the server's one database: string keys to values of
// Redis's types (strings, lists, sets, hashes and sorted sets), each with
// an optional expiry. It is shared by every loop.
//
// Locking: a command locks the shards of the keys it touches, in
// increasing shard order when there are several, and holds them while it
// reads, changes and (for a write) logs to the append-only file, so that
// the file records writes to one key in the order they happened. KEYS and
// DBSIZE lock one shard at a time; FLUSHDB and FLUSHALL lock them all.
//
// Expiry and the append-only file: the file must replay to the keyspace
// the clients were answered whatever the clock says at the replay. So
// expiries are logged as absolute times, a key deleted because it expired
// is logged as deleted (DEL), like any other deletion, and while the file
// is replayed no key expires (loading): every logged command then meets
// the keys it met when it ran, expired or not. Keys whose time passed
// while the server was down are deleted, and logged, once the replay is
// done (deleteExpired).
type keyspace struct {
	seed maphash.Seed // immutable
	// now is the clock keys expire by, in unix milliseconds: the system's,
	// or one a test moves to restart a server later. Immutable.
	now func() int64
	// loading stops keys expiring while the append-only file is replayed,
	// as Redis does. Written only before the loops start.
	loading bool
	// logExpired, if not nil, logs the deletion of an expired key to the
	// append-only file. Set before the loops start; called with the key's
	// shard locked for writing, so the deletion reaches the file in order
	// with the key's other writes.
	logExpired func(key string)
	shards     [shardCount]shard
	// expireCursor is the next shard the active expiry visits; only Tick
	// uses it.
	expireCursor int
}

// shard is one locked part of the keyspace. entries holds every key;
// volatile holds the subset with an expiry, so that the active expiry can
// sample them without wading through persistent keys.
type shard struct {
	db       *keyspace // the keyspace of the shard, for its clock; immutable
	mu       sync.RWMutex
	entries  map[string]*entry
	volatile map[string]*entry
	// Pad each shard to its own cache lines, so loops locking different
	// shards do not contend on one line.
	_ [64]byte
}

// entry is one key. Its fields are guarded by its shard's lock.
//
// A string is held in value, as it always was, so that GET and SET pay for
// other types no more than a nil check of coll. Every other type is held
// in coll, and value is then nil. A collection is never empty: the command
// that takes its last element deletes the key, as Redis does.
type entry struct {
	key      string // the map key, kept so deletions need no conversion
	value    []byte // the string, when coll is nil
	coll     collection
	expireAt int64 // unix time in milliseconds; 0 for no expiry
	// pinned is set when a reply written in steps refers to value (see
	// pin): the next write of the string must not reuse its memory. Set
	// under the read lock, by any number of readers, hence atomic.
	pinned atomic.Bool
}

// pin returns e's string for a reply written after the lock is released,
// and keeps the next write from overwriting its memory. Never nil: nil
// elements are missing keys.
func (e *entry) pin() []byte {
	e.pinned.Store(true)
	if e.value == nil {
		return []byte{}
	}
	return e.value[:len(e.value):len(e.value)]
}

// storeString sets e's string to a copy of value, in e's memory unless a
// reply still refers to it. The caller holds the write lock.
func (e *entry) storeString(value []byte) {
	if e.pinned.Load() {
		e.pinned.Store(false)
		e.value = nil
	}
	e.value = copyValue(e.value, value)
}

// isString reports whether e holds a string.
func (e *entry) isString() bool { return e.coll == nil }

// newKeyspace returns an empty keyspace whose keys expire by now, or by
// the system's clock if now is nil.
func newKeyspace(now func() int64) *keyspace {
	if now == nil {
		now = systemMillis
	}
	db := &keyspace{seed: maphash.MakeSeed(), now: now}
	for i := range db.shards {
		db.shards[i].db = db
		db.shards[i].entries = make(map[string]*entry)
		db.shards[i].volatile = make(map[string]*entry)
	}
	return db
}

// systemMillis is the system's clock in unix milliseconds, the clock keys
// expire by unless a test sets another.
func systemMillis() int64 { return time.Now().UnixMilli() }

func (db *keyspace) shardIndex(key []byte) int {
	return int(maphash.Bytes(db.seed, key) & (shardCount - 1))
}

func (db *keyspace) shardOf(key []byte) *shard { return &db.shards[db.shardIndex(key)] }

// expired reports whether e, one of s's entries, has passed its expiry.
// The clock is read only for keys that have one. Nothing expires while the
// append-only file is replayed.
func (s *shard) expired(e *entry) bool {
	return e.expireAt != 0 && !s.db.loading && e.expireAt <= s.db.now()
}

// peek returns the live entry of key, or nil. It needs only the read lock,
// so it leaves an expired entry in place and reports it as stale: the
// caller, once it has unlocked, reaps it.
func (s *shard) peek(key []byte) (e *entry, stale bool) {
	e = s.entries[string(key)]
	if e != nil && s.expired(e) {
		return nil, true
	}
	return e, false
}

// reap deletes key if it has expired, as Redis deletes an expired key that
// a command reads. The caller holds no lock of s.
func (s *shard) reap(key []byte) {
	s.mu.Lock()
	s.lookup(key)
	s.mu.Unlock()
}

// lookup returns the live entry of key, or nil, deleting it if it has
// expired. The caller holds the write lock.
func (s *shard) lookup(key []byte) *entry {
	e := s.entries[string(key)]
	if e != nil && s.expired(e) {
		s.removeExpired(e)
		return nil
	}
	return e
}

// set stores a copy of value under key with the given expiry (0 for none),
// replacing any entry there, of whatever type, and returns the entry. The
// caller holds the write lock. An entry being overwritten keeps its
// value's memory when the new value fits snugly, so a steady stream of
// SETs to the same keys does not allocate.
func (s *shard) set(key, value []byte, expireAt int64) *entry {
	e := s.entries[string(key)]
	if e == nil {
		e = &entry{key: string(key)}
		s.entries[e.key] = e
	}
	e.coll = nil
	e.storeString(value)
	s.setExpiry(e, expireAt)
	return e
}

// add stores a new collection under key, which holds no live entry, and
// returns its entry. The caller holds the write lock and fills the
// collection before it unlocks.
func (s *shard) add(key []byte, coll collection) *entry {
	e := &entry{key: string(key), coll: coll}
	s.entries[e.key] = e
	return e
}

// copyValue copies value, into old's memory when that is neither too small
// nor more than twice too large.
func copyValue(old, value []byte) []byte {
	if len(value) <= cap(old) && cap(old) <= 2*len(value)+64 {
		return append(old[:0], value...)
	}
	return append(make([]byte, 0, len(value)), value...)
}

// setExpiry sets e's expiry (0 for none) and keeps the volatile index in
// step. The caller holds the write lock.
func (s *shard) setExpiry(e *entry, expireAt int64) {
	switch {
	case expireAt != 0 && e.expireAt == 0:
		s.volatile[e.key] = e
	case expireAt == 0 && e.expireAt != 0:
		delete(s.volatile, e.key)
	}
	e.expireAt = expireAt
}

// remove deletes e. The caller holds the write lock.
func (s *shard) remove(e *entry) {
	delete(s.entries, e.key)
	if e.expireAt != 0 {
		delete(s.volatile, e.key)
	}
}

// removeExpired deletes e, which has expired, and logs the deletion: a
// replay, which expires nothing, would otherwise keep e's old value for
// the commands that follow (an INCR or APPEND of a key that was gone
// would build on it). The caller holds the write lock.
func (s *shard) removeExpired(e *entry) {
	s.remove(e)
	if s.db.logExpired != nil {
		s.db.logExpired(e.key)
	}
}

// deleteExpired deletes every key that has expired and returns how many
// there were. It runs once the append-only file is replayed, for the keys
// whose time passed while the server was down.
func (db *keyspace) deleteExpired() (deleted int) {
	for i := range db.shards {
		s := &db.shards[i]
		s.mu.Lock()
		for _, e := range s.volatile {
			if s.expired(e) {
				s.removeExpired(e)
				deleted++
			}
		}
		s.mu.Unlock()
	}
	return deleted
}

// clear deletes every key. The caller holds the write lock.
func (s *shard) clear() {
	s.entries = make(map[string]*entry)
	s.volatile = make(map[string]*entry)
}

// lockShards locks the distinct shards in indexes, which it sorts, in
// increasing order, for writing or for reading.
func (db *keyspace) lockShards(indexes []int, write bool) []int {
	indexes = sortUnique(indexes)
	for _, i := range indexes {
		if write {
			db.shards[i].mu.Lock()
		} else {
			db.shards[i].mu.RLock()
		}
	}
	return indexes
}

// unlockShards undoes lockShards.
func (db *keyspace) unlockShards(indexes []int, write bool) {
	for _, i := range indexes {
		if write {
			db.shards[i].mu.Unlock()
		} else {
			db.shards[i].mu.RUnlock()
		}
	}
}

// lockAll locks every shard for writing, for commands that change the
// whole keyspace.
func (db *keyspace) lockAll() {
	for i := range db.shards {
		db.shards[i].mu.Lock()
	}
}

func (db *keyspace) unlockAll() {
	for i := range db.shards {
		db.shards[i].mu.Unlock()
	}
}

// sortUnique sorts a few shard indexes in place and drops duplicates. An
// insertion sort: a command names few keys, and sort.Ints would allocate
// through its interface.
func sortUnique(a []int) []int {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
	n := 0
	for i, v := range a {
		if i == 0 || v != a[n-1] {
			a[n] = v
			n++
		}
	}
	return a[:n]
}

// size counts the keys, including expired ones not yet deleted, as Redis's
// DBSIZE does.
func (db *keyspace) size() (keys, volatile int) {
	for i := range db.shards {
		s := &db.shards[i]
		s.mu.RLock()
		keys += len(s.entries)
		volatile += len(s.volatile)
		s.mu.RUnlock()
	}
	return keys, volatile
}

// Active expiry, Redis's way: look at a few keys with an expiry, delete
// those that have passed it, and look again at once if many had. Each
// Tick runs one bounded cycle, so expired keys nobody reads are reclaimed
// without a pause.
const (
	expireSampleSize = 20                     // keys examined per sample
	expireCycleTime  = 2 * time.Millisecond   // time budget of one cycle
	expireRepeatPct  = 25                     // sample again above this % expired
	expireTickPeriod = 100 * time.Millisecond // how often Tick runs a cycle
)

// activeExpireCycle samples the shards in turn from where the last cycle
// stopped, within expireCycleTime. It returns the keys it deleted. Only
// the Tick goroutine calls it.
func (db *keyspace) activeExpireCycle() (deleted int) {
	deadline := time.Now().Add(expireCycleTime)
	for visited := 0; visited < shardCount; visited++ {
		s := &db.shards[db.expireCursor]
		db.expireCursor = (db.expireCursor + 1) % shardCount
		for {
			sampled, expired := s.expireSample()
			deleted += expired
			if sampled == 0 || expired*100 <= sampled*expireRepeatPct || time.Now().After(deadline) {
				break
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	return deleted
}

// expireSample examines up to expireSampleSize keys with an expiry and
// deletes the expired ones. Go's map iteration starts at a random place,
// which makes the keys examined a sample.
func (s *shard) expireSample() (sampled, expired int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.volatile) == 0 {
		return 0, 0
	}
	now := s.db.now()
	for _, e := range s.volatile {
		if sampled == expireSampleSize {
			break
		}
		sampled++
		if e.expireAt <= now {
			s.removeExpired(e)
			expired++
		}
	}
	return sampled, expired
}
