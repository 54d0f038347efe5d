package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The compatibility test sends raw requests, many of them wrong on
// purpose, and compares the server's replies byte for byte with those of a
// real Redis 7.0, recorded in testdata/redis-7.0-replies.json (as Go-quoted
// strings: replies need not be UTF-8). Record them
// again, from a redis-server on PATH, with
//
//	go test ./examples/redis-server -run TestRedisCompat -args -record-redis
var recordRedis = flag.Bool("record-redis", false, "record the replies of a real redis-server into "+compatGolden)

const compatGolden = "testdata/redis-7.0-replies.json"

// compatCase is a request sent on a new connection, in order: a case may
// read keys an earlier case wrote.
type compatCase struct {
	name    string
	request string
	// closes is set when the server must close the connection after its
	// replies (QUIT, protocol errors); otherwise a sentinel ECHO follows
	// the request, and the transcript ends at its reply.
	closes bool
	// unordered sorts the elements of array replies, whose order Redis
	// leaves open (KEYS).
	unordered bool
}

// cmd encodes a multibulk request.
func cmd(args ...string) string {
	as := make([][]byte, len(args))
	for i, a := range args {
		as[i] = []byte(a)
	}
	return string(appendCommand(nil, as...))
}

// cmds concatenates requests into a pipeline.
func cmds(requests ...string) string { return strings.Join(requests, "") }

func compatCases() []compatCase {
	long := strings.Repeat("a", 100)
	pipeline := strings.Repeat(cmd("INCR", "pipe"), 50) + cmd("GET", "pipe")
	return []compatCase{
		// Connection.
		{name: "ping-inline", request: "PING\r\n"},
		{name: "ping-multibulk", request: cmd("PING")},
		{name: "ping-message", request: cmd("PING", "hello")},
		{name: "ping-arity", request: cmd("PING", "a", "b")},
		{name: "echo", request: cmds(cmd("ECHO", "hi there"), cmd("ECHO"))},
		{name: "case-insensitive", request: cmds(cmd("pInG"), cmd("echo", "x"), cmd("GeT", "nokey"))},
		{name: "select", request: cmds(cmd("SELECT", "0"), cmd("SELECT", "1"), cmd("SELECT", "abc"), cmd("SELECT", "-1"), cmd("SELECT", "4294967296"))},
		{name: "quit", request: cmds(cmd("QUIT"), cmd("PING")), closes: true},
		{name: "quit-inline", request: "PING\r\nQUIT\r\nPING\r\n", closes: true},
		{name: "auth", request: cmds(cmd("AUTH", "x"), cmd("AUTH", "default", "x"), cmd("AUTH", "bob", "x"), cmd("AUTH", "a", "b", "c"))},
		{name: "hello-errors", request: cmds(cmd("HELLO", "abc"), cmd("HELLO", "4"), cmd("HELLO", "1"))},
		{name: "unknown-command", request: cmd("FOO", "bar", "baz")},
		{name: "unknown-command-no-args", request: cmd("FOO")},
		{name: "unknown-command-long-args", request: cmd("FOO", long, long, "c")},
		{name: "unknown-command-long-name", request: cmd(strings.Repeat("x", 200), "y")},
		{name: "unknown-command-newlines", request: cmd("FOO\r\nBAR", "x\ny", "z\r")},
		{name: "unknown-command-empty", request: cmd("")},
		{name: "wrong-arity", request: cmds(cmd("GET"), cmd("GET", "a", "b"), cmd("SET", "a"), cmd("MSET", "a"),
			cmd("MSET", "a", "1", "b"), cmd("INCR"), cmd("KEYS"), cmd("DBSIZE", "x"), cmd("EXPIRE", "a"), cmd("TTL"),
			cmd("MGET"), cmd("DEL"), cmd("EXISTS"), cmd("APPEND", "a"), cmd("STRLEN"), cmd("GETSET", "a"), cmd("SETEX", "a", "1"))},

		// Strings.
		{name: "set-get", request: cmds(cmd("SET", "k1", "v1"), cmd("GET", "k1"), cmd("GET", "missing"))},
		{name: "set-binary", request: cmds(cmd("SET", "bin", "a\x00b\r\nc"), cmd("GET", "bin"), cmd("STRLEN", "bin"))},
		{name: "set-empty", request: cmds(cmd("SET", "empty", ""), cmd("GET", "empty"), cmd("STRLEN", "empty"), cmd("SET", "", "emptykey"), cmd("GET", ""))},
		{name: "set-nx-xx", request: cmds(cmd("SET", "nx1", "a", "NX"), cmd("SET", "nx1", "b", "nx"), cmd("GET", "nx1"),
			cmd("SET", "xx1", "a", "XX"), cmd("GET", "xx1"), cmd("SET", "nx1", "c", "XX"), cmd("GET", "nx1"))},
		{name: "set-get-option", request: cmds(cmd("SET", "g1", "a", "GET"), cmd("SET", "g1", "b", "GET"),
			cmd("SET", "g1", "c", "NX", "GET"), cmd("GET", "g1"), cmd("SET", "g2", "x", "XX", "GET"), cmd("EXISTS", "g2"))},
		{name: "set-syntax", request: cmds(cmd("SET", "s", "v", "NX", "XX"), cmd("SET", "s", "v", "EX", "10", "PX", "10"),
			cmd("SET", "s", "v", "KEEPTTL", "EX", "10"), cmd("SET", "s", "v", "EX"), cmd("SET", "s", "v", "FOO"),
			cmd("SET", "s", "v", "EX", "abc", "FOO"), cmd("SET", "s", "v", "EX", "10", "EX", "20"), cmd("TTL", "s"))},
		{name: "set-expire-errors", request: cmds(cmd("SET", "s", "v", "EX", "0"), cmd("SET", "s", "v", "EX", "-5"),
			cmd("SET", "s", "v", "EX", "abc"), cmd("SET", "s", "v", "EX", "9223372036854775807"),
			cmd("SET", "s", "v", "PX", "9223372036854775807"), cmd("SET", "s", "v", "EX", "9223372036854775"),
			cmd("SET", "s", "v", "PXAT", "0"), cmd("SET", "s", "v", "EXAT", "-1"), cmd("SET", "s", "v", "EX", "1.5"))},
		{name: "set-ttl", request: cmds(cmd("SET", "t1", "v", "EX", "100"), cmd("TTL", "t1"), cmd("SET", "t1", "v2"), cmd("TTL", "t1"),
			cmd("SET", "t1", "v3", "PX", "100000"), cmd("SET", "t1", "v4", "KEEPTTL"), cmd("TTL", "t1"), cmd("GET", "t1"),
			cmd("SET", "t2", "v", "EXAT", "4102444800"), cmd("EXISTS", "t2"), cmd("SET", "t3", "v", "PXAT", "1"), cmd("EXISTS", "t3"))},
		{name: "setnx", request: cmds(cmd("SETNX", "sn", "a"), cmd("SETNX", "sn", "b"), cmd("GET", "sn"))},
		{name: "setex", request: cmds(cmd("SETEX", "se", "100", "v"), cmd("TTL", "se"), cmd("GET", "se"), cmd("SETEX", "se", "0", "v"),
			cmd("SETEX", "se", "abc", "v"), cmd("PSETEX", "pse", "100000", "v"), cmd("TTL", "pse"), cmd("PSETEX", "pse", "-1", "v"))},
		{name: "getset", request: cmds(cmd("GETSET", "gs", "a"), cmd("GETSET", "gs", "b"), cmd("GET", "gs"),
			cmd("SET", "gs", "c", "EX", "100"), cmd("GETSET", "gs", "d"), cmd("TTL", "gs"))},
		{name: "getdel", request: cmds(cmd("SET", "gd", "a"), cmd("GETDEL", "gd"), cmd("GETDEL", "gd"), cmd("EXISTS", "gd"))},
		{name: "incr", request: cmds(cmd("INCR", "c1"), cmd("INCR", "c1"), cmd("INCRBY", "c1", "10"), cmd("DECR", "c1"),
			cmd("DECRBY", "c1", "5"), cmd("INCRBY", "c1", "-3"), cmd("GET", "c1"), cmd("DECR", "c0"), cmd("DECRBY", "c0", "-7"))},
		{name: "incr-errors", request: cmds(cmd("SET", "notint", "abc"), cmd("INCR", "notint"), cmd("SET", "sp", " 1"), cmd("INCR", "sp"),
			cmd("SET", "lz", "01"), cmd("INCR", "lz"), cmd("INCRBY", "c2", "abc"), cmd("INCRBY", "c2", "1.5"),
			cmd("DECRBY", "c2", "-9223372036854775808"), cmd("SET", "big", "9223372036854775807"), cmd("INCR", "big"),
			cmd("INCRBY", "big", "-1"), cmd("SET", "small", "-9223372036854775808"), cmd("DECR", "small"),
			cmd("INCRBY", "c3", "99999999999999999999"), cmd("SET", "plus", "+1"), cmd("INCR", "plus"), cmd("SET", "neg0", "-0"), cmd("INCR", "neg0"))},
		{name: "incr-keeps-ttl", request: cmds(cmd("SET", "ct", "1", "EX", "100"), cmd("INCR", "ct"), cmd("TTL", "ct"))},
		{name: "append-strlen", request: cmds(cmd("APPEND", "ap", "hello"), cmd("APPEND", "ap", " world"), cmd("GET", "ap"),
			cmd("STRLEN", "ap"), cmd("STRLEN", "nokey"), cmd("SET", "ap2", "5", "EX", "100"), cmd("APPEND", "ap2", "0"), cmd("TTL", "ap2"), cmd("INCR", "ap2"))},
		{name: "mset-mget", request: cmds(cmd("MSET", "m1", "a", "m2", "b", "m3", "c"), cmd("MGET", "m1", "m2", "nokey", "m3"),
			cmd("MSET", "m1", "x"), cmd("MGET", "m1"), cmd("MSET", "m1", "y", "m1", "z"), cmd("GET", "m1"))},

		// Keys.
		{name: "del-exists", request: cmds(cmd("SET", "d1", "a"), cmd("SET", "d2", "b"), cmd("EXISTS", "d1", "d2", "d3", "d1"),
			cmd("DEL", "d1", "d2", "d3"), cmd("EXISTS", "d1", "d2"), cmd("DEL", "d1"), cmd("SET", "d4", "x"), cmd("UNLINK", "d4", "d4"))},
		{name: "type", request: cmds(cmd("SET", "ty", "a"), cmd("TYPE", "ty"), cmd("TYPE", "nokey"))},
		{name: "expire-ttl", request: cmds(cmd("SET", "e1", "a"), cmd("TTL", "e1"), cmd("PTTL", "e1"), cmd("TTL", "nokey"), cmd("PTTL", "nokey"),
			cmd("EXPIRE", "e1", "100"), cmd("TTL", "e1"), cmd("PERSIST", "e1"), cmd("TTL", "e1"), cmd("PERSIST", "e1"),
			cmd("PERSIST", "nokey"), cmd("EXPIRE", "nokey", "10"), cmd("PEXPIRE", "e1", "100000"), cmd("TTL", "e1"))},
		{name: "expire-options", request: cmds(cmd("SET", "e2", "a"), cmd("EXPIRE", "e2", "100", "XX"), cmd("EXPIRE", "e2", "100", "NX"),
			cmd("EXPIRE", "e2", "200", "NX"), cmd("EXPIRE", "e2", "50", "GT"), cmd("EXPIRE", "e2", "200", "gt"),
			cmd("EXPIRE", "e2", "300", "LT"), cmd("EXPIRE", "e2", "100", "LT"), cmd("TTL", "e2"),
			cmd("EXPIRE", "e2", "100", "NX", "XX"), cmd("EXPIRE", "e2", "100", "GT", "LT"), cmd("EXPIRE", "e2", "100", "FOO"),
			cmd("EXPIRE", "e2", "abc"), cmd("EXPIRE", "e2", "abc", "FOO"), cmd("PERSIST", "e2"), cmd("EXPIRE", "e2", "100", "LT"),
			cmd("PERSIST", "e2"), cmd("EXPIRE", "e2", "100", "GT"), cmd("EXPIRE", "e2", "100", "XX", "GT"), cmd("TTL", "e2"))},
		{name: "expire-past-deletes", request: cmds(cmd("SET", "e3", "a"), cmd("EXPIRE", "e3", "-1"), cmd("EXISTS", "e3"),
			cmd("SET", "e4", "a"), cmd("PEXPIRE", "e4", "0"), cmd("EXISTS", "e4"), cmd("SET", "e5", "a"), cmd("EXPIREAT", "e5", "1"),
			cmd("EXISTS", "e5"), cmd("SET", "e6", "a"), cmd("PEXPIREAT", "e6", "100"), cmd("GET", "e6"))},
		{name: "expire-overflow", request: cmds(cmd("SET", "e7", "a"), cmd("EXPIRE", "e7", "9223372036854775807"),
			cmd("PEXPIRE", "e7", "9223372036854775807"), cmd("EXPIREAT", "e7", "9223372036854775807"),
			cmd("EXPIRE", "e7", "-9223372036854775807"), cmd("PEXPIREAT", "e7", "9223372036854775807"), cmd("EXISTS", "e7"))},
		{name: "keys-glob", unordered: true, request: cmds(cmd("FLUSHDB"),
			cmd("MSET", "hello", "1", "hallo", "1", "hxllo", "1", "hllo", "1", "heeeello", "1", "h*llo", "1", "h?llo", "1",
				"a[b", "1", "a\\b", "1", "a]b", "1", "-x", "1", "X", "1", "x", "1", "\xff", "1", "a", "1", "a-b", "1"),
			cmd("KEYS", "*"), cmd("KEYS", "h?llo"), cmd("KEYS", "h*llo"), cmd("KEYS", "h[ae]llo"), cmd("KEYS", "h[^e]llo"),
			cmd("KEYS", "h[a-b]llo"), cmd("KEYS", "h[b-a]llo"), cmd("KEYS", "h\\*llo"), cmd("KEYS", "h\\?llo"), cmd("KEYS", "**"),
			cmd("KEYS", "a["), cmd("KEYS", "a[\\"), cmd("KEYS", "a[[]b"), cmd("KEYS", "a[]]b"), cmd("KEYS", "a\\[b"),
			cmd("KEYS", "a[\\]]b"), cmd("KEYS", "a[\\\\]b"), cmd("KEYS", "[^a]*"), cmd("KEYS", "[a-]"), cmd("KEYS", "a[-]b"),
			cmd("KEYS", "\\"), cmd("KEYS", "x*"), cmd("KEYS", "[X]"), cmd("KEYS", "[x-X]"), cmd("KEYS", "[\x01-\xff]"),
			cmd("KEYS", "[^"), cmd("KEYS", "?"), cmd("KEYS", "h*l*o"), cmd("KEYS", "*o"), cmd("KEYS", "nomatch*"), cmd("KEYS", "a[b-"))},
		{name: "dbsize-flush", request: cmds(cmd("FLUSHALL"), cmd("DBSIZE"), cmd("SET", "a", "1"), cmd("SET", "b", "2"), cmd("DBSIZE"),
			cmd("FLUSHDB", "ASYNC"), cmd("DBSIZE"), cmd("FLUSHDB", "sync"), cmd("FLUSHALL", "FOO"), cmd("FLUSHALL", "SYNC", "ASYNC"), cmd("FLUSHDB"))},

		// Server.
		{name: "config-get", request: cmds(cmd("CONFIG", "GET", "save"), cmd("CONFIG", "GET", "appendonly"), cmd("CONFIG", "GET", "DATABASES"),
			cmd("CONFIG", "GET", "nonexistent"), cmd("CONFIG", "GET", "appendfsync"), cmd("CONFIG", "GET", "maxmemory"),
			cmd("CONFIG", "GET", "proto-max-bulk-len"), cmd("CONFIG", "GET", "hz"), cmd("CONFIG", "GET", "timeout"),
			cmd("CONFIG", "GET", "tcp-keepalive"), cmd("CONFIG", "GET", "client-query-buffer-limit"), cmd("CONFIG", "GET", "maxmemory-policy"),
			cmd("config", "get", "appendonl?"))},
		{name: "config-errors", request: cmds(cmd("CONFIG", "GET"), cmd("CONFIG"), cmd("CONFIG", "FOO"), cmd("config", "foo", "bar"),
			cmd("CONFIG", "SET", "nosuchparam", "x"), cmd("CONFIG", "SET", "a"), cmd("CONFIG", "SET", "a", "b", "c"))},
		{name: "client", request: cmds(cmd("CLIENT", "SETNAME", "myname"), cmd("CLIENT", "GETNAME"), cmd("CLIENT", "SETNAME", "a b"),
			cmd("CLIENT", "SETNAME", "caf\xc3\xa9"), cmd("CLIENT", "GETNAME"), cmd("CLIENT", "SETNAME", ""), cmd("CLIENT", "GETNAME"),
			cmd("CLIENT", "FOO"), cmd("CLIENT"), cmd("CLIENT", "SETNAME"), cmd("HELLO", "2", "SETNAME", "a b"), cmd("HELLO", "2", "FOO"))},
		{name: "command-errors", request: cmds(cmd("COMMAND", "INFO", "nosuchcommand"), cmd("COMMAND", "FOO"), cmd("COMMAND", "COUNT", "x"))},

		// Protocol.
		{name: "inline-quoting", request: "ECHO \"a b\"\r\nECHO 'a b'\r\nECHO \"\\x41\\x4a\\n\"\r\nECHO \"\\q\"\r\nECHO 'it\\'s'\r\n" +
			"ECHO a\"b c\"\r\nECHO \"\"\r\n  PING  \r\nPING\nECHO a\tb\r\nECHO \"\\xzz\"\r\nECHO \"\\x4\"\r\n" +
			"ECHO a\vb\r\nECHO 'a\\nb'\r\nECHO \"a\\\"b\"\r\nECHO x\r\r\n"},
		{name: "inline-empty-lines", request: "\r\n\r\n\n   \r\nPING\r\n"},
		{name: "multibulk-empty", request: "*0\r\n*-1\r\n*-5\r\nPING\r\n"},
		{name: "multibulk-unchecked-crlf", request: "*1\r\n$4\r\nPINGxx*2\r\n$4\r\nECHO\r\n$2\r\nhi!!"},
		{name: "pipeline", request: pipeline},
		{name: "protocol-multibulk-length", request: "*abc\r\n", closes: true},
		{name: "protocol-multibulk-leading-zero", request: "*01\r\n", closes: true},
		{name: "protocol-multibulk-plus", request: "*+1\r\n", closes: true},
		{name: "protocol-multibulk-too-many", request: "*2147483648\r\n", closes: true},
		{name: "protocol-multibulk-lf-only", request: "*1\n$4\r\nPING\r\n", closes: true},
		{name: "protocol-bulk-length", request: "*1\r\n$abc\r\n", closes: true},
		{name: "protocol-bulk-negative", request: "*1\r\n$-1\r\n", closes: true},
		{name: "protocol-bulk-too-big", request: "*1\r\n$536870913\r\n", closes: true},
		{name: "protocol-expected-dollar", request: "*1\r\n+PING\r\n", closes: true},
		{name: "protocol-expected-dollar-cr", request: "*1\r\n\r\n", closes: true},
		{name: "protocol-after-commands", request: cmd("SET", "pa", "1") + "*1\r\n:1\r\n" + cmd("GET", "pa"), closes: true},
		{name: "protocol-unbalanced-double", request: "SET \"abc\r\n", closes: true},
		{name: "protocol-unbalanced-single", request: "SET 'abc\r\n", closes: true},
		{name: "protocol-quote-then-char", request: "SET \"a\"b c\r\n", closes: true},
		{name: "protocol-too-big-inline", request: strings.Repeat("A", 70000), closes: true},
		{name: "protocol-too-big-multibulk-count", request: "*" + strings.Repeat("1", 70000), closes: true},
		{name: "protocol-too-big-bulk-count", request: "*1\r\n$" + strings.Repeat("1", 70000), closes: true},
	}
}

// sentinel ends a transcript: its reply is the last one read.
const (
	sentinelRequest = "ECHO __end__\r\n"
	sentinelReply   = "$7\r\n__end__\r\n"
	closedMarker    = "<closed>"
)

// transcript runs one case on a new connection and returns the replies
// (with closedMarker when the server closed the connection).
func transcript(t *testing.T, network, addr string, tc compatCase) string {
	t.Helper()
	conn, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	request := tc.request
	if !tc.closes {
		request += sentinelRequest
	}
	go func() {
		// Written from a goroutine: a server that closes early must not
		// leave the test blocked in Write. A write error shows as a
		// short transcript.
		io.WriteString(conn, request)
	}()
	r := bufio.NewReader(conn)
	var out strings.Builder
	for {
		var reply bytes.Buffer
		err := readRESP(r, &reply)
		if err != nil {
			if reply.Len() > 0 {
				out.WriteString("<partial " + reply.String() + ">")
			}
			if errors.Is(err, io.EOF) || isConnReset(err) {
				out.WriteString(closedMarker)
				return out.String()
			}
			t.Fatalf("reading replies: %v (so far %q)", err, out.String())
		}
		if !tc.closes && reply.String() == sentinelReply {
			return out.String()
		}
		out.WriteString(normalizeReply(reply.String(), tc.unordered))
	}
}

// normalizeReply sorts the elements of an array reply when their order is
// open.
func normalizeReply(reply string, unordered bool) string {
	if !unordered || reply == "" || reply[0] != '*' {
		return reply
	}
	r := bufio.NewReader(strings.NewReader(reply))
	header, _ := r.ReadString('\n')
	var elems []string
	for {
		var b bytes.Buffer
		if err := readRESP(r, &b); err != nil {
			break
		}
		elems = append(elems, b.String())
	}
	sort.Strings(elems)
	return header + strings.Join(elems, "")
}

func TestRedisCompat(t *testing.T) {
	cases := compatCases()
	if *recordRedis {
		recordRedisReplies(t, cases)
		return
	}
	data, err := os.ReadFile(compatGolden)
	if err != nil {
		t.Fatal(err)
	}
	var quoted map[string]string
	if err := json.Unmarshal(data, &quoted); err != nil {
		t.Fatal(err)
	}
	want := make(map[string]string, len(quoted))
	for name, q := range quoted {
		if want[name], err = strconv.Unquote(q); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, s := range []setup{setups[0], setups[1], setups[2]} {
		t.Run(s.name, func(t *testing.T) {
			_, network, addr := startSetup(t, s, config{})
			for _, tc := range cases {
				w, ok := want[tc.name]
				if !ok {
					t.Errorf("%s: no recorded reply; record with -record-redis", tc.name)
					continue
				}
				if got := transcript(t, network, addr, tc); got != w {
					t.Errorf("%s:\n got %q\nwant %q", tc.name, got, w)
				}
			}
		})
	}
}

// recordRedisReplies runs the cases on a real redis-server configured like
// this server (one database, no persistence) and writes the golden file.
func recordRedisReplies(t *testing.T, cases []compatCase) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	sock := filepath.Join(t.TempDir(), "redis.sock")
	redisCmd := exec.Command(path, "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
		"--databases", "1", "--daemonize", "no", "--loglevel", "warning")
	if err := redisCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		redisCmd.Process.Kill()
		redisCmd.Wait()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	replies := make(map[string]string, len(cases))
	for _, tc := range cases {
		replies[tc.name] = strconv.Quote(transcript(t, "unix", sock, tc))
	}
	data, err := json.MarshalIndent(replies, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(compatGolden, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d replies of %s into %s", len(replies), path, compatGolden)
}
