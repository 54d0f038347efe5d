package main

func cmdLPush(c *client, args [][]byte) { pushGeneric(c, args, true) }
func cmdRPush(c *client, args [][]byte) { pushGeneric(c, args, false) }

// pushGeneric is LPUSH and RPUSH: it adds the elements one by one at the
// head or the tail, creating the list if need be, and answers the new
// length.
func pushGeneric(c *client, args [][]byte, front bool) {
	key := args[1]
	s, e := c.srv.db.writeEntry(key)
	l, ok := collectionOf[*listValue](e)
	if !ok {
		s.mu.Unlock()
		c.replyWrongType()
		return
	}
	if l == nil {
		l = &listValue{}
		s.add(key, l)
	}
	for _, elem := range args[2:] {
		if front {
			l.pushFront(elem)
		} else {
			l.pushBack(elem)
		}
	}
	n := l.length()
	c.propagate(args...)
	s.mu.Unlock()
	c.replyInt(int64(n))
}

func cmdLPop(c *client, args [][]byte) { popGeneric(c, args, true) }
func cmdRPop(c *client, args [][]byte) { popGeneric(c, args, false) }

// popGeneric is LPOP and RPOP, with their optional count: without it the
// reply is one element or nil, with it an array (nil for a missing key).
// The command is logged as it came: a replay pops the same elements.
func popGeneric(c *client, args [][]byte, front bool) {
	if len(args) > 3 {
		c.replyError("ERR wrong number of arguments for '" + c.lastCommand + "' command")
		return
	}
	withCount := len(args) == 3
	count := int64(1)
	if withCount {
		var ok bool
		if count, ok = parsePopCount(args[2]); !ok {
			c.replyError(errPopCount)
			return
		}
	}
	key := args[1]
	s, e := c.srv.db.writeEntry(key)
	l, ok := collectionOf[*listValue](e)
	switch {
	case !ok:
		s.mu.Unlock()
		c.replyWrongType()
		return
	case l == nil:
		s.mu.Unlock()
		if withCount {
			c.replyNullArray()
		} else {
			c.replyNull()
		}
		return
	case count == 0:
		s.mu.Unlock()
		c.replyArrayLen(0)
		return
	}
	elems := c.snapshot()
	for ; count > 0 && l.length() > 0; count-- {
		if front {
			elems = append(elems, l.popFront())
		} else {
			elems = append(elems, l.popBack())
		}
	}
	s.removeIfEmpty(e)
	c.propagate(args...)
	s.mu.Unlock()
	if withCount {
		c.replyElements(elems)
		return
	}
	c.replyBulk(elems[0])
	c.releaseSnapshot(elems)
}

func cmdLLen(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	l, ok := collectionOf[*listValue](e)
	n := 0
	if l != nil {
		n = l.length()
	}
	s.readDone(args[1], stale)
	if !ok {
		c.replyWrongType()
		return
	}
	c.replyInt(int64(n))
}

// cmdLRange answers the elements from start to stop, both included,
// counted from the end when negative. Like Redis, it checks the indexes
// before it looks at the key.
func cmdLRange(c *client, args [][]byte) {
	start, ok1 := parseRedisInt(args[2])
	stop, ok2 := parseRedisInt(args[3])
	if !ok1 || !ok2 {
		c.replyNotInteger()
		return
	}
	s, e, stale := c.srv.db.readEntry(args[1])
	l, ok := collectionOf[*listValue](e)
	elems := c.snapshot()
	if l != nil {
		if lo, hi, nonEmpty := indexRange(start, stop, l.length()); nonEmpty {
			for i := lo; i <= hi; i++ {
				elems = append(elems, l.at(i))
			}
		}
	}
	s.readDone(args[1], stale)
	if !ok {
		c.replyWrongType()
		return
	}
	c.replyElements(elems)
}

// cmdLIndex answers the element at an index, counted from the end when
// negative, or nil. Unlike LRANGE, Redis looks at the key first: a
// missing key answers nil whatever the index.
func cmdLIndex(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	l, ok := collectionOf[*listValue](e)
	var elem []byte
	index, isInt := parseRedisInt(args[2])
	if l != nil && isInt {
		if index < 0 {
			index += int64(l.length())
		}
		if index >= 0 && index < int64(l.length()) {
			elem = l.at(int(index))
		}
	}
	s.readDone(args[1], stale)
	switch {
	case !ok:
		c.replyWrongType()
	case l == nil:
		c.replyNull()
	case !isInt:
		c.replyNotInteger()
	case elem == nil:
		c.replyNull()
	default:
		c.replyBulk(elem)
	}
}
