package main

import (
	"strings"
	"testing"
	"time"
)

func TestGlobMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		nocase     bool
		want       bool
	}{
		{"*", "anything", false, true},
		{"*", "", false, false}, // Redis: only KEYS's fast path matches "" with "*"
		{"", "", false, true},
		{"h?llo", "hello", false, true},
		{"h?llo", "hllo", false, false},
		{"h*llo", "hllo", false, true},
		{"h*llo", "heeeello", false, true},
		{"h[ae]llo", "hallo", false, true},
		{"h[ae]llo", "hillo", false, false},
		{"h[^e]llo", "hallo", false, true},
		{"h[^e]llo", "hello", false, false},
		{"h[a-b]llo", "hbllo", false, true},
		{"h[b-a]llo", "hbllo", false, true}, // a reversed range is swapped
		{"h\\*llo", "h*llo", false, true},
		{"h\\*llo", "hello", false, false},
		{"a[\\]]b", "a]b", false, true},
		{"a[]]b", "a]b", false, false}, // "[]" is an empty class
		{"a[", "a[", false, false},     // an open class must match a byte
		{"a[b", "ab", false, true},
		{"[^", "x", false, true},
		{"\\", "\\", false, true},
		{"a*", "a", false, true},
		{"a**b*", "ab", false, true},
		{"*a", "ba", false, true},
		{"*a", "bab", false, false},
		{"HELLO", "hello", true, true},
		{"H[A-Z]LLO", "hello", true, true},
		{"h[\\E]llo", "hello", true, false}, // an escaped byte in a class ignores nocase
		{"[\x01-\xff]", "\xff", false, true},
		{"[\x01-\xff]", "a", false, false}, // signed chars: 0xff sorts below 0x01
	}
	for _, tc := range cases {
		if got := globMatch(tc.pattern, tc.s, tc.nocase); got != tc.want {
			t.Errorf("globMatch(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.nocase, got, tc.want)
		}
		if got := referenceGlobMatch(tc.pattern, tc.s, tc.nocase); got != tc.want {
			t.Errorf("referenceGlobMatch(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.nocase, got, tc.want)
		}
	}
}

// TestGlobMatchIsNotExponential times a pattern that makes naive
// backtracking take forever.
func TestGlobMatchIsNotExponential(t *testing.T) {
	pattern := strings.Repeat("*a", 50) + "b"
	s := strings.Repeat("a", 1000)
	start := time.Now()
	if globMatch(pattern, s, false) {
		t.Fatal("matched")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
	// Deeper than Redis's nesting limit: no match, and no stack overflow.
	if globMatch(strings.Repeat("*a", 2000), strings.Repeat("a", 3000), false) {
		t.Fatal("matched past the nesting limit")
	}
}

// referenceGlobMatch is a plain restatement of Redis's rules, without the
// shortcut that keeps globMatch polynomial, for the fuzzer to compare
// against on short inputs.
func referenceGlobMatch(p, s string, nocase bool) bool {
	eq := func(a, b byte) bool {
		if nocase {
			return toLower(a) == toLower(b)
		}
		return a == b
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
			for i := 0; i < len(s); i++ {
				if referenceGlobMatch(p[1:], s[i:], nocase) {
					return true
				}
			}
			return false
		case '?':
			p = p[1:]
		case '[':
			body := p[1:]
			negate := len(body) > 0 && body[0] == '^'
			if negate {
				body = body[1:]
			}
			in := false
			for {
				if len(body) >= 2 && body[0] == '\\' {
					if body[1] == s[0] {
						in = true
					}
					body = body[2:]
				} else if len(body) > 0 && body[0] == ']' {
					body = body[1:]
					break
				} else if len(body) == 0 {
					break
				} else if len(body) >= 3 && body[1] == '-' {
					lo, hi, c := int8(body[0]), int8(body[2]), int8(s[0])
					if lo > hi {
						lo, hi = hi, lo
					}
					if nocase {
						lo, hi, c = int8(toLower(byte(lo))), int8(toLower(byte(hi))), int8(toLower(byte(c)))
					}
					if lo <= c && c <= hi {
						in = true
					}
					body = body[3:]
				} else {
					if eq(body[0], s[0]) {
						in = true
					}
					body = body[1:]
				}
			}
			if in == negate {
				return false
			}
			p = body
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			if !eq(p[0], s[0]) {
				return false
			}
			p = p[1:]
		default:
			if !eq(p[0], s[0]) {
				return false
			}
			p = p[1:]
		}
		s = s[1:]
		if len(s) == 0 {
			p = strings.TrimLeft(p, "*")
		}
	}
	return len(p) == 0 && len(s) == 0
}
