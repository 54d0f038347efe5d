package main

import "math"

// wordZREM is the command the pops of a sorted set are logged as: the
// removal of the members they took.
var wordZREM = []byte("ZREM")

// zaddOptions are ZADD's options, which come before the score-member
// pairs.
type zaddOptions struct{ nx, xx, gt, lt, ch, incr bool }

// parseZAddOptions reads options from args[2:] until the first word that
// is none, as Redis does (so "ZADD key 1 nx" adds the member "nx"), and
// returns them with the index of the first pair.
func parseZAddOptions(args [][]byte) (opts zaddOptions, first int) {
	for first = 2; first < len(args); first++ {
		switch opt := args[first]; {
		case equalFold(opt, "nx"):
			opts.nx = true
		case equalFold(opt, "xx"):
			opts.xx = true
		case equalFold(opt, "gt"):
			opts.gt = true
		case equalFold(opt, "lt"):
			opts.lt = true
		case equalFold(opt, "ch"):
			opts.ch = true
		case equalFold(opt, "incr"):
			opts.incr = true
		default:
			return opts, first
		}
	}
	return opts, first
}

// cmdZAdd is ZADD with all its options: NX and XX (only add, only
// update), GT and LT (only raise, only lower a score), CH (count changed
// members too) and INCR (add to the score of one member, and answer it).
// Every argument is checked before the key is touched. The command is
// logged as it came when it changed anything: a replay meets the same
// scores and does the same.
func cmdZAdd(c *client, args [][]byte) {
	opts, first := parseZAddOptions(args)
	pairs := args[first:]
	switch {
	case len(pairs) == 0 || len(pairs)%2 != 0:
		c.replySyntaxError()
		return
	case opts.nx && opts.xx:
		c.replyError("ERR XX and NX options at the same time are not compatible")
		return
	case (opts.gt || opts.lt) && opts.nx || opts.gt && opts.lt:
		c.replyError("ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	case opts.incr && len(pairs) > 2:
		c.replyError("ERR INCR option supports a single increment-element pair")
		return
	}
	for i := 0; i < len(pairs); i += 2 {
		if _, ok := parseScore(pairs[i]); !ok {
			c.replyError("ERR value is not a valid float")
			return
		}
	}
	key := args[1]
	s, e := c.srv.db.writeEntry(key)
	z, ok := collectionOf[*zsetValue](e)
	if !ok {
		s.mu.Unlock()
		c.replyWrongType()
		return
	}
	if z == nil && opts.xx {
		s.mu.Unlock()
		if opts.incr {
			c.replyNull()
		} else {
			c.replyInt(0)
		}
		return
	}
	if z == nil {
		z = newZset()
		s.add(key, z)
	}
	added, updated, processed := 0, 0, 0
	var result float64
	for i := 0; i < len(pairs); i += 2 {
		score, _ := parseScore(pairs[i])
		member := pairs[i+1]
		current, exists := z.scores[string(member)]
		if !exists {
			if opts.xx {
				continue
			}
			z.set(string(member), score)
			added++
			processed++
			result = score
			continue
		}
		if opts.nx {
			continue
		}
		if opts.incr {
			score += current
			if math.IsNaN(score) {
				// Only an existing member gets here, so the key was not
				// created for nothing.
				s.mu.Unlock()
				c.replyError("ERR resulting score is not a number (NaN)")
				return
			}
		}
		if (opts.gt && score <= current) || (opts.lt && score >= current) {
			continue
		}
		processed++
		result = score
		if score != current {
			z.set(string(member), score)
			updated++
		}
	}
	if added+updated > 0 {
		c.propagate(args...)
	}
	s.mu.Unlock()
	switch {
	case opts.incr && processed == 0:
		c.replyNull()
	case opts.incr:
		c.replyScore(result)
	case opts.ch:
		c.replyInt(int64(added + updated))
	default:
		c.replyInt(int64(added))
	}
}

// replyScore answers a score as a bulk string, as Redis 7.0 formats it.
func (c *client) replyScore(score float64) {
	var buf [32]byte
	c.replyBulk(appendScore(buf[:0], score))
}

func cmdZScore(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	z, ok := collectionOf[*zsetValue](e)
	var score float64
	found := false
	if z != nil {
		score, found = z.scores[string(args[2])]
	}
	s.readDone(args[1], stale)
	switch {
	case !ok:
		c.replyWrongType()
	case !found:
		c.replyNull()
	default:
		c.replyScore(score)
	}
}

func cmdZCard(c *client, args [][]byte) {
	s, e, stale := c.srv.db.readEntry(args[1])
	z, ok := collectionOf[*zsetValue](e)
	n := 0
	if z != nil {
		n = z.length()
	}
	s.readDone(args[1], stale)
	if !ok {
		c.replyWrongType()
		return
	}
	c.replyInt(int64(n))
}

func cmdZRem(c *client, args [][]byte) { removeMembers[*zsetValue](c, args) }

func cmdZPopMin(c *client, args [][]byte) { zpopGeneric(c, args, false) }
func cmdZPopMax(c *client, args [][]byte) { zpopGeneric(c, args, true) }

// zpopGeneric is ZPOPMIN and ZPOPMAX: it removes up to count members (1
// without a count) from the low or the high end and answers them with
// their scores, in one flat array. It is logged as ZREM of those members.
func zpopGeneric(c *client, args [][]byte, max bool) {
	if len(args) > 3 {
		c.replySyntaxError()
		return
	}
	count := int64(1)
	if len(args) == 3 {
		var ok bool
		if count, ok = parsePopCount(args[2]); !ok {
			c.replyError(errPopCount)
			return
		}
	}
	key := args[1]
	s, e := c.srv.db.writeEntry(key)
	z, ok := collectionOf[*zsetValue](e)
	if !ok {
		s.mu.Unlock()
		c.replyWrongType()
		return
	}
	elems := c.snapshot()
	if z != nil {
		for ; count > 0 && z.length() > 0; count-- {
			node := z.order.first()
			if max {
				node = z.order.tail
			}
			elems = append(elems, stringBytes(node.member))
			elems = c.snapshotScore(elems, node.score)
			z.removeNode(node.score, node.member)
		}
		s.removeIfEmpty(e)
		if len(elems) > 0 {
			c.propagateElems(wordZREM, key, elems, 2)
		}
	}
	s.mu.Unlock()
	c.replyElements(elems)
}

// zrangeKind is how ZRANGE reads its range: by index, by score or by
// member.
type zrangeKind int

const (
	zrangeAuto zrangeKind = iota
	zrangeByRank
	zrangeByScore
	zrangeByLex
)

// zrangeOptions are ZRANGE's options after the range.
type zrangeOptions struct {
	kind          zrangeKind
	rev           bool
	withScores    bool
	offset, limit int64 // LIMIT's; limit -1 for none
}

// parseZRangeOptions parses the options after ZRANGE's range with Redis's
// checks, in Redis's order. It returns an error reply, or "".
func parseZRangeOptions(args [][]byte) (zrangeOptions, string) {
	opts := zrangeOptions{limit: -1}
	for i := 0; i < len(args); i++ {
		left := len(args) - i - 1
		switch opt := args[i]; {
		case equalFold(opt, "withscores"):
			opts.withScores = true
		case equalFold(opt, "limit") && left >= 2:
			offset, ok1 := parseRedisInt(args[i+1])
			limit, ok2 := parseRedisInt(args[i+2])
			if !ok1 || !ok2 {
				return opts, errNotInteger
			}
			opts.offset, opts.limit = offset, limit
			i += 2
		case !opts.rev && equalFold(opt, "rev"):
			opts.rev = true
		case opts.kind == zrangeAuto && equalFold(opt, "bylex"):
			opts.kind = zrangeByLex
		case opts.kind == zrangeAuto && equalFold(opt, "byscore"):
			opts.kind = zrangeByScore
		default:
			return opts, errSyntax
		}
	}
	if opts.kind == zrangeAuto {
		opts.kind = zrangeByRank
	}
	// Redis tells a LIMIT given from none by its count: LIMIT o -1
	// passes with an index range, and means no limit.
	if opts.limit != -1 && opts.kind == zrangeByRank {
		return opts, "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
	}
	if opts.withScores && opts.kind == zrangeByLex {
		return opts, "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
	}
	return opts, ""
}

// cmdZRange is ZRANGE in all its forms: by index (the default), BYSCORE
// or BYLEX, each with REV, WITHSCORES (not BYLEX) and LIMIT (not by
// index). With REV, a score or member range is given high end first.
func cmdZRange(c *client, args [][]byte) {
	opts, errMsg := parseZRangeOptions(args[4:])
	if errMsg != "" {
		c.replyError(errMsg)
		return
	}
	lowArg, highArg := args[2], args[3]
	if opts.rev && opts.kind != zrangeByRank {
		lowArg, highArg = highArg, lowArg
	}
	var start, stop int64
	var low, high rangeBound
	switch opts.kind {
	case zrangeByRank:
		var ok1, ok2 bool
		start, ok1 = parseRedisInt(lowArg)
		stop, ok2 = parseRedisInt(highArg)
		if !ok1 || !ok2 {
			c.replyNotInteger()
			return
		}
	case zrangeByScore:
		var ok1, ok2 bool
		low, ok1 = parseScoreBound(lowArg)
		high, ok2 = parseScoreBound(highArg)
		if !ok1 || !ok2 {
			c.replyError("ERR min or max is not a float")
			return
		}
	case zrangeByLex:
		var ok1, ok2 bool
		low, ok1 = parseLexBound(lowArg)
		high, ok2 = parseLexBound(highArg)
		if !ok1 || !ok2 {
			c.replyError("ERR min or max not valid string range item")
			return
		}
	}
	s, e, stale := c.srv.db.readEntry(args[1])
	z, ok := collectionOf[*zsetValue](e)
	elems := c.snapshot()
	if z != nil {
		if opts.kind == zrangeByRank {
			elems = c.zrangeByRank(elems, z, start, stop, opts)
		} else {
			elems = c.zrangeByBounds(elems, z, low, high, opts)
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

// zrangeByRank gathers the members of indexes start to stop, counted from
// the high end with REV.
func (c *client) zrangeByRank(elems [][]byte, z *zsetValue, start, stop int64, opts zrangeOptions) [][]byte {
	n := z.length()
	lo, hi, ok := indexRange(start, stop, n)
	if !ok {
		return elems
	}
	var node *skipNode
	if opts.rev {
		node = z.order.at(n - 1 - lo)
	} else {
		node = z.order.at(lo)
	}
	for i := lo; i <= hi; i++ {
		elems = c.zrangeElement(elems, node, opts.withScores)
		if opts.rev {
			node = node.prev
		} else {
			node = node.next[0].node
		}
	}
	return elems
}

// zrangeByBounds gathers the members from low to high (high to low with
// REV), after skipping LIMIT's offset, up to its count.
func (c *client) zrangeByBounds(elems [][]byte, z *zsetValue, low, high rangeBound, opts zrangeOptions) [][]byte {
	if opts.offset < 0 {
		return elems // as in Redis: a negative offset skips everything
	}
	var node *skipNode
	if opts.rev {
		node = z.order.lastUpTo(high)
	} else {
		node = z.order.firstFrom(low)
	}
	step := func(n *skipNode) *skipNode {
		if opts.rev {
			return n.prev
		}
		return n.next[0].node
	}
	for offset := opts.offset; node != nil && offset > 0; offset-- {
		node = step(node)
	}
	for limit := opts.limit; node != nil && limit != 0; limit-- {
		if (opts.rev && !low.lowerAdmits(node)) || (!opts.rev && !high.upperAdmits(node)) {
			break
		}
		elems = c.zrangeElement(elems, node, opts.withScores)
		node = step(node)
	}
	return elems
}

// zrangeElement appends a member, and its score if asked for.
func (c *client) zrangeElement(elems [][]byte, node *skipNode, withScore bool) [][]byte {
	elems = append(elems, stringBytes(node.member))
	if withScore {
		elems = c.snapshotScore(elems, node.score)
	}
	return elems
}
