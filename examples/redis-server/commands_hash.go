package main

// cmdHSet sets fields of a hash, creating it if need be, and answers how
// many fields are new. HMSET is the same but answers OK.
func cmdHSet(c *client, args [][]byte) {
	if added, ok := hashSet(c, args); ok {
		c.replyInt(int64(added))
	}
}

func cmdHMSet(c *client, args [][]byte) {
	if _, ok := hashSet(c, args); ok {
		c.replyOK()
	}
}

// hashSet is HSET and HMSET up to their reply; it replies itself only
// with an error, and then reports false.
func hashSet(c *client, args [][]byte) (added int, ok bool) {
	if len(args)%2 != 0 {
		c.replyError("ERR wrong number of arguments for '" + c.lastCommand + "' command")
		return 0, false
	}
	key := args[1]
	s, e := c.srv.db.writeEntry(key)
	h, ok := collectionOf[*hashValue](e)
	if !ok {
		s.mu.Unlock()
		c.replyWrongType()
		return 0, false
	}
	if h == nil {
		h = newHash()
		s.add(key, h)
	}
	for i := 2; i < len(args); i += 2 {
		if h.set(args[i], args[i+1]) {
			added++
		}
	}
	c.propagate(args...)
	s.mu.Unlock()
	return added, true
}

// cmdHGet answers a field's value or nil. The value is written under the
// lock; it is one element, not a snapshot to stream.
func cmdHGet(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	h, ok := collectionOf[*hashValue](e)
	switch {
	case !ok:
		c.replyWrongType()
	case h == nil:
		c.replyNull()
	default:
		if value, found := h.get(args[2]); found {
			c.replyBulk(value)
		} else {
			c.replyNull()
		}
	}
	s.readDone(args[1], stale)
}

func cmdHExists(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	h, ok := collectionOf[*hashValue](e)
	found := false
	if h != nil {
		_, found = h.get(args[2])
	}
	s.readDone(args[1], stale)
	switch {
	case !ok:
		c.replyWrongType()
	case found:
		c.replyInt(1)
	default:
		c.replyInt(0)
	}
}

// cmdHMGet answers the values of the fields asked for, nil for those
// missing (all of them for a missing key).
func cmdHMGet(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	h, ok := collectionOf[*hashValue](e)
	elems := c.snapshot()
	if ok {
		for _, field := range args[2:] {
			var value []byte
			if h != nil {
				value, _ = h.get(field)
			}
			elems = append(elems, value)
		}
	}
	s.readDone(args[1], stale)
	if !ok {
		c.replyWrongType()
		c.releaseSnapshot(elems)
		return
	}
	c.replyElements(elems)
}

// cmdHGetAll answers fields and values, alternating, in the hash's order.
func cmdHGetAll(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	h, ok := collectionOf[*hashValue](e)
	elems := c.snapshot()
	if h != nil {
		for _, f := range h.fields {
			elems = append(elems, stringBytes(f.name), f.value)
		}
	}
	s.readDone(args[1], stale)
	if !ok {
		c.replyWrongType()
		return
	}
	c.replyElements(elems)
}

func cmdHDel(c *client, args [][]byte) { removeMembers[*hashValue](c, args) }

func cmdHLen(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	h, ok := collectionOf[*hashValue](e)
	n := 0
	if h != nil {
		n = h.length()
	}
	s.readDone(args[1], stale)
	if !ok {
		c.replyWrongType()
		return
	}
	c.replyInt(int64(n))
}
