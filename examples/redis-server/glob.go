package main

// globMatch reports whether s matches pattern under the rules of Redis's
// KEYS (and, with nocase, CONFIG GET):
//
//   - any run of bytes
//     ?      any one byte
//     [abc]  one of the bytes listed; [^abc] one byte not listed; a-z is a
//     range (z-a too); \x inside brackets stands for x; a bracket left
//     open runs to the end of the pattern
//     \x     x itself
//
// It keeps Redis's quirks, which clients may rely on: an empty string
// matches only the empty pattern (so "*" alone matches it only through
// KEYS's fast path for "*"), and a pattern nesting more than 1000 stars
// gives up rather than recurse further.
//
// Matching is linear-ish, not exponential: once a star has tried every
// remaining position and failed, no star before it can succeed by
// giving it less, so the whole match fails at once.
func globMatch(pattern, s string, nocase bool) bool {
	m := globMatcher{nocase: nocase}
	return m.match(pattern, s, 0)
}

// maxGlobNesting bounds the recursion of nested stars.
const maxGlobNesting = 1000

type globMatcher struct {
	nocase bool
	// starExhausted is set when a star has failed at every remaining
	// position: every enclosing star then fails too.
	starExhausted bool
}

func (m *globMatcher) match(p, s string, nesting int) bool {
	if nesting > maxGlobNesting {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for ; len(s) > 0; s = s[1:] {
				if m.match(p[1:], s, nesting+1) {
					return true
				}
				if m.starExhausted {
					return false
				}
			}
			m.starExhausted = true
			return false
		case '?':
			p = p[1:]
		case '[':
			var in bool
			p, in = m.matchClass(p[1:], s[0])
			if !in {
				return false
			}
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			fallthrough
		default:
			if !m.sameByte(p[0], s[0]) {
				return false
			}
			p = p[1:]
		}
		s = s[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
		}
	}
	return len(p) == 0 && len(s) == 0
}

// matchClass matches c against the bracket class whose body starts at p
// (just after '['). It returns the pattern after the class, which is empty
// when the class is left open, and whether c is in the class.
func (m *globMatcher) matchClass(p string, c byte) (rest string, in bool) {
	negate := len(p) > 0 && p[0] == '^'
	if negate {
		p = p[1:]
	}
	for {
		switch {
		case len(p) >= 2 && p[0] == '\\':
			// An escaped byte is compared exactly, even with nocase.
			p = p[1:]
			if p[0] == c {
				in = true
			}
		case len(p) > 0 && p[0] == ']':
			return p[1:], in != negate
		case len(p) == 0:
			return p, in != negate
		case len(p) >= 3 && p[1] == '-':
			// Redis compares C chars, signed on the platforms it is
			// mostly built for: bytes from 0x80 up sort below 0x00.
			lo, hi, x := int8(p[0]), int8(p[2]), int8(c)
			if lo > hi {
				lo, hi = hi, lo
			}
			if m.nocase {
				lo, hi, x = int8(toLower(byte(lo))), int8(toLower(byte(hi))), int8(toLower(byte(x)))
			}
			if lo <= x && x <= hi {
				in = true
			}
			p = p[2:]
		default:
			if m.sameByte(p[0], c) {
				in = true
			}
		}
		p = p[1:]
	}
}

func (m *globMatcher) sameByte(a, b byte) bool {
	if m.nocase {
		return toLower(a) == toLower(b)
	}
	return a == b
}

func toLower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
