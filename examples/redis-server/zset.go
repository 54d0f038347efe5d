package main

import (
	"math"
	"math/rand"
	"strconv"
	"strings"
)

// zsetValue is a sorted set: each member's score in a map, for ZSCORE and
// for finding a member's place, and the members ordered by score, then by
// member, in a skiplist, for ranges and pops.
type zsetValue struct {
	scores map[string]float64
	order  skiplist
}

func newZset() *zsetValue {
	z := &zsetValue{scores: make(map[string]float64)}
	z.order.init()
	return z
}

func (z *zsetValue) typeName() string { return "zset" }
func (z *zsetValue) length() int      { return z.order.n }

// set gives member the score, adding it if it is new.
func (z *zsetValue) set(member string, score float64) {
	if old, ok := z.scores[member]; ok {
		if old == score {
			return
		}
		z.order.remove(old, member)
	}
	z.scores[member] = score
	z.order.insert(score, member)
}

// remove removes member and reports whether it was there.
func (z *zsetValue) remove(member []byte) bool {
	score, ok := z.scores[string(member)]
	if !ok {
		return false
	}
	z.removeNode(score, string(member))
	return true
}

func (z *zsetValue) removeNode(score float64, member string) {
	delete(z.scores, member)
	z.order.remove(score, member)
}

// The skiplist: a sorted linked list with express lanes. Each node is on
// level 0 and, with probability 1/4 per level, on the levels above; a link
// records how many nodes it passes over (its span), so that the node at
// a rank is found, like a node by score, in logarithmic time.
const (
	skiplistMaxLevel = 32
	skiplistBranch   = 4 // one node in this many goes up a level
)

// skipNode is one member of a skiplist.
type skipNode struct {
	member string
	score  float64
	prev   *skipNode // the node before on level 0; nil for the first
	next   []skipLink
}

// skipLink is a node's link on one level.
type skipLink struct {
	node *skipNode // the next node on the level, or nil
	// span is how many level-0 steps the link takes: the difference of
	// the ranks of its ends. A link to nil spans to the end of the list.
	span int
}

// skiplist orders a sorted set's members by (score, member).
type skiplist struct {
	head  skipNode // a sentinel before the first node, on every level
	tail  *skipNode
	n     int
	level int // the levels in use, at least 1
}

func (sl *skiplist) init() {
	sl.head.next = make([]skipLink, skiplistMaxLevel)
	sl.level = 1
}

// before reports whether node comes before (score, member).
func (node *skipNode) before(score float64, member string) bool {
	return node.score < score || (node.score == score && node.member < member)
}

func randomLevel() int {
	level := 1
	for level < skiplistMaxLevel && rand.Intn(skiplistBranch) == 0 {
		level++
	}
	return level
}

// insert adds (score, member), which is not in the list.
func (sl *skiplist) insert(score float64, member string) {
	var update [skiplistMaxLevel]*skipNode
	var rank [skiplistMaxLevel]int // rank of update[i]
	x := &sl.head
	for i := sl.level - 1; i >= 0; i-- {
		if i < sl.level-1 {
			rank[i] = rank[i+1]
		}
		for x.next[i].node != nil && x.next[i].node.before(score, member) {
			rank[i] += x.next[i].span
			x = x.next[i].node
		}
		update[i] = x
	}
	level := randomLevel()
	for i := sl.level; i < level; i++ {
		update[i] = &sl.head
		sl.head.next[i].span = sl.n
	}
	if level > sl.level {
		sl.level = level
	}
	node := &skipNode{member: member, score: score, next: make([]skipLink, level)}
	for i := 0; i < level; i++ {
		link := &update[i].next[i]
		node.next[i].node = link.node
		node.next[i].span = link.span - (rank[0] - rank[i])
		link.node = node
		link.span = rank[0] - rank[i] + 1
	}
	for i := level; i < sl.level; i++ {
		update[i].next[i].span++
	}
	if update[0] != &sl.head {
		node.prev = update[0]
	}
	if next := node.next[0].node; next != nil {
		next.prev = node
	} else {
		sl.tail = node
	}
	sl.n++
}

// remove removes (score, member), which is in the list.
func (sl *skiplist) remove(score float64, member string) {
	var update [skiplistMaxLevel]*skipNode
	x := &sl.head
	for i := sl.level - 1; i >= 0; i-- {
		for x.next[i].node != nil && x.next[i].node.before(score, member) {
			x = x.next[i].node
		}
		update[i] = x
	}
	x = x.next[0].node
	if x == nil || x.score != score || x.member != member {
		panic("skiplist: removing a member that is not there")
	}
	for i := 0; i < sl.level; i++ {
		link := &update[i].next[i]
		if link.node == x {
			link.span += x.next[i].span - 1
			link.node = x.next[i].node
		} else {
			link.span--
		}
	}
	if next := x.next[0].node; next != nil {
		next.prev = x.prev
	} else {
		sl.tail = x.prev
	}
	for sl.level > 1 && sl.head.next[sl.level-1].node == nil {
		sl.level--
	}
	sl.n--
}

// first is the lowest node, or nil.
func (sl *skiplist) first() *skipNode { return sl.head.next[0].node }

// at returns the node of 0-based index i, 0 <= i < n.
func (sl *skiplist) at(i int) *skipNode {
	rank := i + 1
	x := &sl.head
	traversed := 0
	for level := sl.level - 1; level >= 0; level-- {
		for x.next[level].node != nil && traversed+x.next[level].span <= rank {
			traversed += x.next[level].span
			x = x.next[level].node
		}
		if traversed == rank {
			return x
		}
	}
	return nil
}

// firstFrom returns the first node not before the bound, or nil.
func (sl *skiplist) firstFrom(min rangeBound) *skipNode {
	x := &sl.head
	for i := sl.level - 1; i >= 0; i-- {
		for x.next[i].node != nil && !min.lowerAdmits(x.next[i].node) {
			x = x.next[i].node
		}
	}
	return x.next[0].node
}

// lastUpTo returns the last node not after the bound, or nil.
func (sl *skiplist) lastUpTo(max rangeBound) *skipNode {
	x := &sl.head
	for i := sl.level - 1; i >= 0; i-- {
		for x.next[i].node != nil && max.upperAdmits(x.next[i].node) {
			x = x.next[i].node
		}
	}
	if x == &sl.head {
		return nil
	}
	return x
}

// rangeBound is one end of a ZRANGE BYSCORE or BYLEX range.
type rangeBound struct {
	lex       bool // a bound on members rather than on scores
	score     float64
	member    string
	exclusive bool
	infinite  int // for lex bounds: -1 for "-", +1 for "+", else 0
}

// lowerAdmits reports whether node is at or above the bound as a lower one.
func (b rangeBound) lowerAdmits(node *skipNode) bool {
	if b.lex {
		switch {
		case b.infinite < 0:
			return true
		case b.infinite > 0:
			return false
		case b.exclusive:
			return node.member > b.member
		}
		return node.member >= b.member
	}
	if b.exclusive {
		return node.score > b.score
	}
	return node.score >= b.score
}

// upperAdmits reports whether node is at or below the bound as an upper one.
func (b rangeBound) upperAdmits(node *skipNode) bool {
	if b.lex {
		switch {
		case b.infinite > 0:
			return true
		case b.infinite < 0:
			return false
		case b.exclusive:
			return node.member < b.member
		}
		return node.member <= b.member
	}
	if b.exclusive {
		return node.score < b.score
	}
	return node.score <= b.score
}

// parseScoreBound parses a ZRANGE BYSCORE bound: a float, "(" before it for
// an exclusive one. Like Redis, this reading is looser than a score's:
// leading spaces, an empty number (0) and out-of-range numbers (infinite)
// pass; only NaN and bytes after the number do not.
func parseScoreBound(b []byte) (rangeBound, bool) {
	var bound rangeBound
	if len(b) > 0 && b[0] == '(' {
		bound.exclusive = true
		b = b[1:]
	}
	if len(b) == 0 {
		return bound, true // strtod reads nothing, which is 0
	}
	i := 0
	for i < len(b) && isCSpace(b[i]) {
		i++
	}
	f, ok := parseFloatLoose(b[i:])
	if !ok {
		return bound, false
	}
	bound.score = f
	return bound, true
}

// parseLexBound parses a ZRANGE BYLEX bound: "-", "+", or "[" or "("
// before a member.
func parseLexBound(b []byte) (rangeBound, bool) {
	bound := rangeBound{lex: true}
	switch {
	case len(b) == 1 && b[0] == '-':
		bound.infinite = -1
	case len(b) == 1 && b[0] == '+':
		bound.infinite = 1
	case len(b) > 0 && (b[0] == '(' || b[0] == '['):
		bound.exclusive = b[0] == '('
		bound.member = string(b[1:])
	default:
		return bound, false
	}
	return bound, true
}

// isCSpace is C's isspace.
func isCSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// parseScore parses a score as Redis does: a whole decimal or hexadecimal
// float, "inf" and "infinity" of either sign included, but nothing before
// or after it, no NaN, and nothing too large or too small to represent.
func parseScore(b []byte) (float64, bool) {
	if len(b) == 0 || isCSpace(b[0]) {
		return 0, false
	}
	f, err := parseFloatDigits(b)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// parseFloatLoose parses a float as a score bound: out-of-range values
// become infinite or zero rather than errors.
func parseFloatLoose(b []byte) (float64, bool) {
	f, err := parseFloatDigits(b)
	if err == errFloatRange {
		return f, true
	}
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

type floatError string

func (e floatError) Error() string { return string(e) }

const (
	errFloatSyntax floatError = "not a float"
	errFloatRange  floatError = "float out of range"
)

// parseFloatDigits parses b with strconv, reading what C's strtod reads
// and no more: no digit separators, and hexadecimal floats with or without
// a binary exponent. A value too large is infinite and one too small is 0,
// each with errFloatRange.
func parseFloatDigits(b []byte) (float64, error) {
	s := string(b)
	if strings.IndexByte(s, '_') >= 0 {
		return 0, errFloatSyntax
	}
	mantissa := s
	if x := strings.IndexAny(s, "xX"); x >= 0 {
		// Only a p after the x is an exponent; strconv refuses the rest.
		p := strings.IndexAny(s[x+1:], "pP")
		if p < 0 {
			p = len(s) - x - 1
			s += "p0"
		}
		mantissa = s[x+1 : x+1+p]
	} else if e := strings.IndexAny(s, "eE"); e >= 0 {
		mantissa = s[:e]
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, errFloatRange
		}
		return 0, errFloatSyntax
	}
	// strconv rounds a value below the smallest float to zero without a
	// word; strtod reports it, and Redis refuses such a score.
	if f == 0 && strings.Trim(mantissa, "+-0.") != "" {
		return 0, errFloatRange
	}
	return f, nil
}

// appendScore formats a score as Redis 7.0 replies with it: printf's
// "%.17g", "inf" or "-inf", and 0 for negative zero.
func appendScore(out []byte, f float64) []byte {
	switch {
	case f == 0:
		return append(out, '0')
	case math.IsInf(f, 1):
		return append(out, "inf"...)
	case math.IsInf(f, -1):
		return append(out, "-inf"...)
	}
	return strconv.AppendFloat(out, f, 'g', 17, 64)
}
