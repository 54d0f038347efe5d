package main

import (
	"bufio"
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/evio-go/evio"
)

// The fuzz targets run briefly in CI, for example
//
//	go test -run='^$' -fuzz=FuzzParser -fuzztime=10s ./examples/redis-server
//
// from the seeds in testdata/fuzz and those added below.

// FuzzParser checks that the parser never panics and that how a stream is
// cut into reads changes nothing: requests and errors are the same as when
// it arrives at once.
func FuzzParser(f *testing.F) {
	for _, seed := range []string{
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"PING\r\nSET \"a b\" 'c'\r\n",
		"*1\r\n$-1\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\n",
	} {
		f.Add([]byte(seed), byte(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk byte) {
		whole, wholeErr := parseAll(data, 0)
		pieces, piecesErr := parseAll(data, int(chunk%64)+1)
		if (wholeErr == nil) != (piecesErr == nil) || (wholeErr != nil && wholeErr.Error() != piecesErr.Error()) {
			t.Fatalf("error at once %v, in pieces of %d %v", wholeErr, int(chunk%64)+1, piecesErr)
		}
		if !reflect.DeepEqual(whole, pieces) {
			t.Fatalf("at once %q, in pieces of %d %q", whole, int(chunk%64)+1, pieces)
		}
	})
}

// FuzzGlob checks the KEYS matcher against a plain restatement of Redis's
// rules.
func FuzzGlob(f *testing.F) {
	for _, seed := range [][2]string{
		{"h*llo", "hello"}, {"h[a-z]llo", "hxllo"}, {"a[\\]]b", "a]b"}, {"[^", "x"}, {"*a*a*b", "aaaaab"},
	} {
		f.Add(seed[0], seed[1], false)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, nocase bool) {
		got := globMatch(pattern, s, nocase)
		if len(pattern) > 24 || len(s) > 24 {
			return // the reference is exponential
		}
		if want := referenceGlobMatch(pattern, s, nocase); got != want {
			t.Fatalf("globMatch(%q, %q, %v) = %v, reference says %v", pattern, s, nocase, got, want)
		}
	})
}

// FuzzRequests feeds arbitrary bytes to a connection, executing whatever
// commands they hold against a real keyspace: nothing may panic, and the
// replies must be well-formed RESP.
func FuzzRequests(f *testing.F) {
	for _, seed := range []string{
		"SET k v EX 10\r\nGET k\r\nKEYS *\r\n",
		"*3\r\n$6\r\nEXPIRE\r\n$1\r\nk\r\n$2\r\n-1\r\n",
		"MSET a 1 b 2\r\nMGET a b c\r\nINCRBY a 9223372036854775807\r\n",
		"CONFIG GET *\r\nCOMMAND DOCS\r\nINFO\r\nCLIENT SETNAME x\r\nHELLO 3\r\n",
		"RPUSH l a b c\r\nLPOP l 2\r\nLRANGE l -5 5\r\nGET l\r\nSADD s x y\r\nSPOP s 3\r\nHSET h f v\r\nHGETALL h\r\n",
		"ZADD z INCR 1 a\r\nZADD z GT CH 2 a 3 b\r\nZRANGE z (1 +inf BYSCORE REV LIMIT 0 2\r\nZRANGE z - [b BYLEX\r\nZPOPMAX z 5\r\n",
	} {
		f.Add([]byte(seed), byte(5))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk byte) {
		srv, err := newServer(config{})
		if err != nil {
			t.Fatal(err)
		}
		c := &client{srv: srv}
		step := int(chunk%32) + 1
		var replies []byte
		for start := 0; start < len(data); start += step {
			end := start + step
			if end > len(data) {
				end = len(data)
			}
			out, action := c.handleData(data[start:end])
			replies = append(replies, out...)
			if action != evio.None {
				break
			}
		}
		r := bufio.NewReader(bytes.NewReader(replies))
		for {
			if _, err := r.Peek(1); err != nil {
				break
			}
			var reply bytes.Buffer
			if err := readRESP(r, &reply); err != nil {
				t.Fatalf("malformed reply %q: %v (all replies %q)", reply.String(), err, replies)
			}
			if s := reply.String(); s[0] == '-' && strings.ContainsAny(s[:len(s)-2], "\r\n") {
				t.Fatalf("error reply with a line break: %q", s)
			}
		}
	})
}
