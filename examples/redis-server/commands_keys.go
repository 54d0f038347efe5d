package main

import (
	"math"
	"strconv"
)

// cmdDel is DEL and UNLINK: it deletes the keys atomically and logs the
// command if any existed.
func cmdDel(c *client, args [][]byte) {
	db := c.srv.db
	keys := args[1:]
	c.shardScratch = c.shardScratch[:0]
	for _, key := range keys {
		c.shardScratch = append(c.shardScratch, db.shardIndex(key))
	}
	locked := db.lockShards(c.shardScratch, true)
	deleted := 0
	for _, key := range keys {
		s := db.shardOf(key)
		if e := s.lookup(key); e != nil {
			s.remove(e)
			deleted++
		}
	}
	if deleted > 0 {
		c.propagate(args...)
	}
	db.unlockShards(locked, true)
	c.replyInt(int64(deleted))
}

// cmdExists counts the keys that exist; a key named twice counts twice.
func cmdExists(c *client, args [][]byte) {
	db := c.srv.db
	keys := args[1:]
	c.shardScratch = c.shardScratch[:0]
	for _, key := range keys {
		c.shardScratch = append(c.shardScratch, db.shardIndex(key))
	}
	locked := db.lockShards(c.shardScratch, false)
	found := 0
	for _, key := range keys {
		if e, _ := db.shardOf(key).peek(key); e != nil {
			found++
		}
	}
	db.unlockShards(locked, false)
	c.replyInt(int64(found))
}

func cmdType(c *client, args [][]byte) {
	s := c.srv.db.shardOf(args[1])
	s.mu.RLock()
	name := "none"
	if e, _ := s.peek(args[1]); e != nil {
		name = "string"
		if !e.isString() {
			name = e.coll.typeName()
		}
	}
	s.mu.RUnlock()
	c.replyStatus(name)
}

func cmdExpire(c *client, args [][]byte)    { expireGeneric(c, args, true, false, "expire") }
func cmdPExpire(c *client, args [][]byte)   { expireGeneric(c, args, false, false, "pexpire") }
func cmdExpireAt(c *client, args [][]byte)  { expireGeneric(c, args, true, true, "expireat") }
func cmdPExpireAt(c *client, args [][]byte) { expireGeneric(c, args, false, true, "pexpireat") }

// expireCondition is EXPIRE's NX, XX, GT or LT option.
type expireCondition struct{ nx, xx, gt, lt bool }

// parseExpireCondition parses the options after EXPIRE's time, with
// Redis's errors. It returns an error reply, or "".
func parseExpireCondition(args [][]byte) (expireCondition, string) {
	var cond expireCondition
	for _, opt := range args {
		switch {
		case equalFold(opt, "nx"):
			cond.nx = true
		case equalFold(opt, "xx"):
			cond.xx = true
		case equalFold(opt, "gt"):
			cond.gt = true
		case equalFold(opt, "lt"):
			cond.lt = true
		default:
			return cond, "ERR Unsupported option " + string(opt)
		}
	}
	if cond.nx && (cond.xx || cond.gt || cond.lt) {
		return cond, "ERR NX and XX, GT or LT options at the same time are not compatible"
	}
	if cond.gt && cond.lt {
		return cond, "ERR GT and LT options at the same time are not compatible"
	}
	return cond, ""
}

// allows reports whether the condition lets an expiry change from current
// (0 for none, which counts as infinite) to when.
func (cond expireCondition) allows(current, when int64) bool {
	switch {
	case cond.nx && current != 0:
		return false
	case cond.xx && current == 0:
		return false
	case cond.gt && (current == 0 || when <= current):
		return false
	case cond.lt && current != 0 && when >= current:
		return false
	}
	return true
}

// expireGeneric is EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT. Unlike SET's,
// their time may be zero or negative: a time in the past deletes the key.
// The expiry is logged as PEXPIREAT, an absolute time, and a deletion as
// DEL.
func expireGeneric(c *client, args [][]byte, inSeconds, absolute bool, name string) {
	cond, errMsg := parseExpireCondition(args[3:])
	if errMsg != "" {
		c.replyError(errMsg)
		return
	}
	when, ok := parseRedisInt(args[2])
	if !ok {
		c.replyNotInteger()
		return
	}
	if inSeconds {
		if when > math.MaxInt64/1000 || when < math.MinInt64/1000 {
			c.replyInvalidExpire(name)
			return
		}
		when *= 1000
	}
	now := c.srv.db.now()
	if !absolute {
		if when > math.MaxInt64-now {
			c.replyInvalidExpire(name)
			return
		}
		when += now
	}
	key := args[1]
	s := c.srv.db.shardOf(key)
	s.mu.Lock()
	e := s.lookup(key)
	if e == nil || !cond.allows(e.expireAt, when) {
		s.mu.Unlock()
		c.replyInt(0)
		return
	}
	// A time in the past deletes the key, except in a replay, which
	// expires nothing: the file logs such a deletion as DEL, so a past
	// time there is one that has passed since.
	if when <= now && !c.srv.db.loading {
		s.remove(e)
		c.propagate(wordDEL, key)
	} else {
		s.setExpiry(e, when)
		var digits [20]byte
		c.propagate(wordPEXPIREAT, key, strconv.AppendInt(digits[:0], when, 10))
	}
	s.mu.Unlock()
	c.replyInt(1)
}

func cmdTTL(c *client, args [][]byte)  { ttlGeneric(c, args, false) }
func cmdPTTL(c *client, args [][]byte) { ttlGeneric(c, args, true) }

// ttlGeneric answers -2 for a missing key, -1 for a key without expiry,
// and otherwise the time left, in milliseconds or in seconds rounded to
// the nearest.
func ttlGeneric(c *client, args [][]byte, inMillis bool) {
	s := c.srv.db.shardOf(args[1])
	s.mu.RLock()
	e, stale := s.peek(args[1])
	var expireAt int64
	if e != nil {
		expireAt = e.expireAt
	}
	s.mu.RUnlock()
	if stale {
		s.reap(args[1])
	}
	switch {
	case e == nil:
		c.replyInt(-2)
	case expireAt == 0:
		c.replyInt(-1)
	default:
		left := expireAt - c.srv.db.now()
		if left < 0 {
			left = 0
		}
		if !inMillis {
			left = (left + 500) / 1000
		}
		c.replyInt(left)
	}
}

func cmdPersist(c *client, args [][]byte) {
	key := args[1]
	s := c.srv.db.shardOf(key)
	s.mu.Lock()
	e := s.lookup(key)
	changed := e != nil && e.expireAt != 0
	if changed {
		s.setExpiry(e, 0)
		c.propagate(args...)
	}
	s.mu.Unlock()
	if changed {
		c.replyInt(1)
	} else {
		c.replyInt(0)
	}
}

// cmdKeys lists the live keys matching a glob pattern. It locks one shard
// at a time, so it never stops the whole server. The keys are Go strings,
// which never change, so the reply is a snapshot of references to them.
func cmdKeys(c *client, args [][]byte) {
	pattern := string(args[1])
	matchAll := pattern == "*"
	db := c.srv.db
	elems := c.snapshot()
	now := c.srv.db.now()
	for i := range db.shards {
		s := &db.shards[i]
		s.mu.RLock()
		for key, e := range s.entries {
			if e.expireAt != 0 && e.expireAt <= now {
				continue
			}
			if matchAll || globMatch(pattern, key, false) {
				elems = append(elems, stringBytes(key))
			}
		}
		s.mu.RUnlock()
	}
	c.replyElements(elems)
}

func cmdDBSize(c *client, args [][]byte) {
	keys, _ := c.srv.db.size()
	c.replyInt(int64(keys))
}

// cmdFlush is FLUSHDB and FLUSHALL (the same: there is one database), with
// an optional ASYNC or SYNC that changes nothing here.
func cmdFlush(c *client, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !equalFold(args[1], "sync") && !equalFold(args[1], "async")) {
		c.replySyntaxError()
		return
	}
	db := c.srv.db
	db.lockAll()
	for i := range db.shards {
		db.shards[i].clear()
	}
	c.propagate(args...)
	db.unlockAll()
	c.replyOK()
}
