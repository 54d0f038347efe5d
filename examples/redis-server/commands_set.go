package main

// wordSREM is the command SPOP is logged as: the removal of the members
// it chose at random, which a replay could not choose again.
var wordSREM = []byte("SREM")

func cmdSAdd(c *client, args [][]byte) {
	key := args[1]
	s, e := c.srv.db.writeEntry(key)
	set, ok := collectionOf[*setValue](e)
	if !ok {
		s.mu.Unlock()
		c.replyWrongType()
		return
	}
	if set == nil {
		set = newSet()
		s.add(key, set)
	}
	added := 0
	for _, member := range args[2:] {
		if set.add(member) {
			added++
		}
	}
	if added > 0 {
		c.propagate(args...)
	}
	s.mu.Unlock()
	c.replyInt(int64(added))
}

func cmdSRem(c *client, args [][]byte) { removeMembers[*setValue](c, args) }

// cmdSPop removes members chosen at random: one, answered as a bulk
// string (nil for a missing key), or up to a count, answered as an array.
// It is logged as SREM of the members it took.
func cmdSPop(c *client, args [][]byte) {
	if len(args) > 3 {
		c.replySyntaxError()
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
	set, ok := collectionOf[*setValue](e)
	switch {
	case !ok:
		s.mu.Unlock()
		c.replyWrongType()
		return
	case set == nil && !withCount:
		s.mu.Unlock()
		c.replyNull()
		return
	case set == nil || count == 0:
		s.mu.Unlock()
		c.replyArrayLen(0)
		return
	}
	elems := c.snapshot()
	for ; count > 0 && set.length() > 0; count-- {
		elems = append(elems, stringBytes(set.popRandom()))
	}
	s.removeIfEmpty(e)
	c.propagateElems(wordSREM, key, elems, 1)
	s.mu.Unlock()
	if withCount {
		c.replyElements(elems)
		return
	}
	c.replyBulk(elems[0])
	c.releaseSnapshot(elems)
}

func cmdSCard(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	set, ok := collectionOf[*setValue](e)
	n := 0
	if set != nil {
		n = set.length()
	}
	s.readDone(args[1], stale)
	if !ok {
		c.replyWrongType()
		return
	}
	c.replyInt(int64(n))
}

func cmdSIsMember(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	set, ok := collectionOf[*setValue](e)
	found := set != nil && set.has(args[2])
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

func cmdSMembers(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	set, ok := collectionOf[*setValue](e)
	elems := c.snapshot()
	if set != nil {
		for _, member := range set.members {
			elems = append(elems, stringBytes(member))
		}
	}
	s.readDone(args[1], stale)
	if !ok {
		c.replyWrongType()
		return
	}
	c.replyElements(elems)
}
