package main

import (
	"math"
	"strconv"
)

// Words of the commands written to the append-only file.
var (
	wordSET       = []byte("SET")
	wordPXAT      = []byte("PXAT")
	wordKEEPTTL   = []byte("KEEPTTL")
	wordDEL       = []byte("DEL")
	wordPEXPIREAT = []byte("PEXPIREAT")
)

func cmdGet(c *client, args [][]byte) {
	key := args[1]
	s := c.srv.db.shardOf(key)
	s.mu.RLock()
	e, stale := s.peek(key)
	switch {
	case e == nil:
		c.out = appendNullBulk(c.out)
	case !e.isString():
		c.replyWrongType()
	default:
		c.out = appendBulk(c.out, e.value)
	}
	s.mu.RUnlock()
	if stale {
		s.reap(key)
	}
}

func cmdStrlen(c *client, args [][]byte) {
	s := c.srv.db.shardOf(args[1])
	s.mu.RLock()
	e, _ := s.peek(args[1])
	wrongType := e != nil && !e.isString()
	n := 0
	if e != nil {
		n = len(e.value)
	}
	s.mu.RUnlock()
	if wrongType {
		c.replyWrongType()
		return
	}
	c.replyInt(int64(n))
}

// setOptions are SET's options after the value.
type setOptions struct {
	nx, xx, get, keepTTL bool
	expire               []byte // the EX/PX/EXAT/PXAT argument, or nil
	inSeconds            bool   // EX or EXAT
	absolute             bool   // EXAT or PXAT
}

// parseSetOptions parses SET's options as Redis does: NX and XX exclude
// each other, and so do KEEPTTL, EX, PX, EXAT and PXAT (though one of them
// may repeat: the last wins); anything else is a syntax error. The expiry
// is parsed later, so a syntax error anywhere wins over a bad number.
func parseSetOptions(args [][]byte) (setOptions, bool) {
	var o setOptions
	var ex, px, exat, pxat bool
	for i := 0; i < len(args); i++ {
		opt := args[i]
		hasNext := i+1 < len(args)
		switch {
		case equalFold(opt, "nx") && !o.xx:
			o.nx = true
		case equalFold(opt, "xx") && !o.nx:
			o.xx = true
		case equalFold(opt, "get"):
			o.get = true
		case equalFold(opt, "keepttl") && !ex && !px && !exat && !pxat:
			o.keepTTL = true
		case equalFold(opt, "ex") && !o.keepTTL && !px && !exat && !pxat && hasNext:
			ex, o.inSeconds, o.absolute = true, true, false
			i++
			o.expire = args[i]
		case equalFold(opt, "px") && !o.keepTTL && !ex && !exat && !pxat && hasNext:
			px, o.inSeconds, o.absolute = true, false, false
			i++
			o.expire = args[i]
		case equalFold(opt, "exat") && !o.keepTTL && !ex && !px && !pxat && hasNext:
			exat, o.inSeconds, o.absolute = true, true, true
			i++
			o.expire = args[i]
		case equalFold(opt, "pxat") && !o.keepTTL && !ex && !px && !exat && hasNext:
			pxat, o.inSeconds, o.absolute = true, false, true
			i++
			o.expire = args[i]
		default:
			return o, false
		}
	}
	return o, true
}

// expireTime turns the argument of SET's EX/PX/EXAT/PXAT or of SETEX and
// PSETEX into an absolute unix time in milliseconds, with Redis's checks:
// an integer, positive, and not overflowing. A relative time counts from
// now. It returns an error reply, or "".
func expireTime(arg []byte, inSeconds, absolute bool, now int64, cmdName string) (int64, string) {
	n, ok := parseRedisInt(arg)
	if !ok {
		return 0, errNotInteger
	}
	invalid := "ERR invalid expire time in '" + cmdName + "' command"
	if n <= 0 || (inSeconds && n > math.MaxInt64/1000) {
		return 0, invalid
	}
	if inSeconds {
		n *= 1000
	}
	if !absolute {
		if n > math.MaxInt64-now {
			return 0, invalid
		}
		n += now
	}
	return n, ""
}

func cmdSet(c *client, args [][]byte) {
	opts, ok := parseSetOptions(args[3:])
	if !ok {
		c.replySyntaxError()
		return
	}
	var expireAt int64
	if opts.expire != nil {
		var errMsg string
		if expireAt, errMsg = expireTime(opts.expire, opts.inSeconds, opts.absolute, c.srv.db.now(), "set"); errMsg != "" {
			c.replyError(errMsg)
			return
		}
	}
	key, value := args[1], args[2]
	s := c.srv.db.shardOf(key)
	s.mu.Lock()
	e := s.lookup(key)
	if opts.get && e != nil && !e.isString() {
		// SET ... GET answers the old value, which must be a string;
		// without GET, SET replaces a value of any type.
		s.mu.Unlock()
		c.replyWrongType()
		return
	}
	if opts.get {
		if e != nil {
			c.out = appendBulk(c.out, e.value)
		} else {
			c.out = appendNullBulk(c.out)
		}
	}
	if (opts.nx && e != nil) || (opts.xx && e == nil) {
		s.mu.Unlock()
		if !opts.get {
			c.replyNull()
		}
		return
	}
	if opts.keepTTL && e != nil {
		expireAt = e.expireAt
	}
	s.set(key, value, expireAt)
	c.propagateSet(key, value, expireAt, opts.keepTTL)
	s.mu.Unlock()
	if !opts.get {
		c.replyOK()
	}
}

// propagateSet logs a SET in the append-only file with its expiry as an
// absolute time, so that replaying the file later does not extend it.
func (c *client) propagateSet(key, value []byte, expireAt int64, keepTTL bool) {
	switch {
	case expireAt != 0:
		var digits [20]byte
		c.propagate(wordSET, key, value, wordPXAT, strconv.AppendInt(digits[:0], expireAt, 10))
	case keepTTL:
		c.propagate(wordSET, key, value, wordKEEPTTL)
	default:
		c.propagate(wordSET, key, value)
	}
}

func cmdSetNX(c *client, args [][]byte) {
	key, value := args[1], args[2]
	s := c.srv.db.shardOf(key)
	s.mu.Lock()
	created := s.lookup(key) == nil
	if created {
		s.set(key, value, 0)
		c.propagateSet(key, value, 0, false)
	}
	s.mu.Unlock()
	if created {
		c.replyInt(1)
	} else {
		c.replyInt(0)
	}
}

func cmdSetEX(c *client, args [][]byte)  { setWithExpiry(c, args, true, "setex") }
func cmdPSetEX(c *client, args [][]byte) { setWithExpiry(c, args, false, "psetex") }

// setWithExpiry is SETEX and PSETEX: key, relative expiry, value.
func setWithExpiry(c *client, args [][]byte, inSeconds bool, name string) {
	expireAt, errMsg := expireTime(args[2], inSeconds, false, c.srv.db.now(), name)
	if errMsg != "" {
		c.replyError(errMsg)
		return
	}
	key, value := args[1], args[3]
	s := c.srv.db.shardOf(key)
	s.mu.Lock()
	s.set(key, value, expireAt)
	c.propagateSet(key, value, expireAt, false)
	s.mu.Unlock()
	c.replyOK()
}

func cmdGetSet(c *client, args [][]byte) {
	key, value := args[1], args[2]
	s := c.srv.db.shardOf(key)
	s.mu.Lock()
	e := s.lookup(key)
	switch {
	case e == nil:
		c.out = appendNullBulk(c.out)
	case !e.isString():
		s.mu.Unlock()
		c.replyWrongType()
		return
	default:
		c.out = appendBulk(c.out, e.value)
	}
	s.set(key, value, 0)
	c.propagateSet(key, value, 0, false)
	s.mu.Unlock()
}

func cmdGetDel(c *client, args [][]byte) {
	key := args[1]
	s := c.srv.db.shardOf(key)
	s.mu.Lock()
	e := s.lookup(key)
	switch {
	case e == nil:
		c.out = appendNullBulk(c.out)
	case !e.isString():
		c.replyWrongType()
	default:
		c.out = appendBulk(c.out, e.value)
		s.remove(e)
		c.propagate(wordDEL, key)
	}
	s.mu.Unlock()
}

func cmdMGet(c *client, args [][]byte) {
	db := c.srv.db
	keys := args[1:]
	c.shardScratch = c.shardScratch[:0]
	for _, key := range keys {
		c.shardScratch = append(c.shardScratch, db.shardIndex(key))
	}
	locked := db.lockShards(c.shardScratch, false)
	defer db.unlockShards(locked, false)
	size := 0
	for _, key := range keys {
		if e, _ := db.shardOf(key).peek(key); e != nil && e.isString() {
			size += len(e.value)
		}
	}
	elems := c.snapshot()
	if c.fits(size + 16*len(keys)) {
		// Small enough to be queued at once: copies, written now.
		for _, key := range keys {
			if e, _ := db.shardOf(key).peek(key); e != nil && e.isString() {
				elems = c.snapshotCopy(elems, e.value)
			} else {
				elems = append(elems, nil) // missing, or not a string
			}
		}
	} else {
		// Written in steps as the client reads (replyElements): references,
		// not copies, or the snapshot would hold the whole reply. Pinned
		// values are not overwritten in place (entry.storeString).
		for _, key := range keys {
			if e, _ := db.shardOf(key).peek(key); e != nil && e.isString() {
				elems = append(elems, e.pin())
			} else {
				elems = append(elems, nil)
			}
		}
	}
	c.replyElements(elems)
}

func cmdMSet(c *client, args [][]byte) {
	if len(args)%2 == 0 {
		c.replyError("ERR wrong number of arguments for 'mset' command")
		return
	}
	db := c.srv.db
	c.shardScratch = c.shardScratch[:0]
	for i := 1; i < len(args); i += 2 {
		c.shardScratch = append(c.shardScratch, db.shardIndex(args[i]))
	}
	locked := db.lockShards(c.shardScratch, true)
	for i := 1; i < len(args); i += 2 {
		db.shardOf(args[i]).set(args[i], args[i+1], 0)
	}
	c.propagate(args...)
	db.unlockShards(locked, true)
	c.replyOK()
}

func cmdIncr(c *client, args [][]byte) { incrementBy(c, args, 1) }
func cmdDecr(c *client, args [][]byte) { incrementBy(c, args, -1) }

func cmdIncrBy(c *client, args [][]byte) {
	delta, ok := parseRedisInt(args[2])
	if !ok {
		c.replyNotInteger()
		return
	}
	incrementBy(c, args, delta)
}

func cmdDecrBy(c *client, args [][]byte) {
	delta, ok := parseRedisInt(args[2])
	if !ok {
		c.replyNotInteger()
		return
	}
	if delta == math.MinInt64 {
		c.replyError("ERR decrement would overflow")
		return
	}
	incrementBy(c, args, -delta)
}

// incrementBy adds delta to the integer value of args[1], keeping its
// expiry, and logs the command as it came.
func incrementBy(c *client, args [][]byte, delta int64) {
	key := args[1]
	s := c.srv.db.shardOf(key)
	s.mu.Lock()
	e := s.lookup(key)
	var current int64
	if e != nil && !e.isString() {
		s.mu.Unlock()
		c.replyWrongType()
		return
	}
	if e != nil {
		var ok bool
		if current, ok = parseRedisInt(e.value); !ok {
			s.mu.Unlock()
			c.replyNotInteger()
			return
		}
	}
	if (delta < 0 && current < 0 && delta < math.MinInt64-current) ||
		(delta > 0 && current > 0 && delta > math.MaxInt64-current) {
		s.mu.Unlock()
		c.replyError(errOverflow)
		return
	}
	current += delta
	var digits [20]byte
	value := strconv.AppendInt(digits[:0], current, 10)
	if e != nil {
		e.storeString(value)
	} else {
		s.set(key, value, 0)
	}
	c.propagate(args...)
	s.mu.Unlock()
	c.replyInt(current)
}

func cmdAppend(c *client, args [][]byte) {
	key, suffix := args[1], args[2]
	s := c.srv.db.shardOf(key)
	s.mu.Lock()
	e := s.lookup(key)
	if e != nil && !e.isString() {
		s.mu.Unlock()
		c.replyWrongType()
		return
	}
	if e != nil && len(e.value)+len(suffix) > maxBulkLength {
		s.mu.Unlock()
		c.replyError("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
		return
	}
	if e == nil {
		e = s.set(key, suffix, 0)
	} else {
		e.value = append(e.value, suffix...)
	}
	n := len(e.value)
	c.propagate(args...)
	s.mu.Unlock()
	c.replyInt(int64(n))
}
