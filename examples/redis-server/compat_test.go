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

// numbers returns the decimal numbers from..to-1, as arguments.
func numbers(from, to int) []string {
	var ns []string
	for i := from; i < to; i++ {
		ns = append(ns, strconv.Itoa(i))
	}
	return ns
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

		// Lists, sets, hashes and sorted sets.
		{name: "types-flush", request: cmd("FLUSHALL")},
		{name: "types-wrong-arity", request: cmds(cmd("LPUSH", "k"), cmd("RPUSH", "k"), cmd("LPOP"), cmd("LPOP", "k", "1", "2"),
			cmd("RPOP", "k", "1", "2"), cmd("LRANGE", "k", "0"), cmd("LLEN"), cmd("LINDEX", "k"), cmd("SADD", "k"), cmd("SREM", "k"),
			cmd("SPOP"), cmd("SPOP", "k", "1", "2"), cmd("SCARD"), cmd("SMEMBERS", "k", "x"), cmd("SISMEMBER", "k"), cmd("HSET", "k", "f"),
			cmd("HSET", "k", "f", "v", "f2"), cmd("HMSET", "k", "f", "v", "f2"), cmd("HGET", "k"), cmd("HMGET", "k"), cmd("HGETALL"),
			cmd("HEXISTS", "k"), cmd("HDEL", "k"), cmd("HLEN"), cmd("ZADD", "k", "1"), cmd("ZADD", "k"), cmd("ZREM", "k"), cmd("ZPOPMIN"),
			cmd("ZPOPMIN", "k", "1", "2"), cmd("ZPOPMAX", "k", "1", "2"), cmd("ZRANGE", "k", "0"), cmd("ZCARD"), cmd("ZSCORE", "k"), cmd("EXISTS", "k"))},
		{name: "list-push-pop", request: cmds(cmd("RPUSH", "l", "a", "b", "c"), cmd("LPUSH", "l", "x", "y"), cmd("LRANGE", "l", "0", "-1"),
			cmd("LLEN", "l"), cmd("LPOP", "l"), cmd("RPOP", "l"), cmd("LPOP", "l", "2"), cmd("RPOP", "l", "5"), cmd("EXISTS", "l"),
			cmd("LPOP", "l"), cmd("LPOP", "l", "2"), cmd("RPOP", "l"), cmd("LLEN", "l"), cmd("TYPE", "l"), cmd("rpush", "l", "z"), cmd("TYPE", "l"))},
		{name: "list-pop-count", request: cmds(cmd("RPUSH", "l2", "a", "b"), cmd("LPOP", "l2", "0"), cmd("LPOP", "l2", "-1"),
			cmd("LPOP", "l2", "abc"), cmd("LPOP", "l2", "1.5"), cmd("RPOP", "l2", "0"), cmd("LPOP", "nolist", "0"), cmd("RPOP", "nolist", "3"),
			cmd("RPOP", "nolist", "-3"), cmd("LPOP", "l2", "1"), cmd("LRANGE", "l2", "0", "-1"), cmd("LPOP", "l2", "9223372036854775807"), cmd("EXISTS", "l2"))},
		{name: "list-range-index", request: cmds(cmd("RPUSH", "r", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"),
			cmd("LRANGE", "r", "0", "0"), cmd("LRANGE", "r", "0", "-1"), cmd("LRANGE", "r", "-3", "-1"), cmd("LRANGE", "r", "5", "2"),
			cmd("LRANGE", "r", "-100", "100"), cmd("LRANGE", "r", "8", "100"), cmd("LRANGE", "r", "10", "20"), cmd("LRANGE", "r", "-1", "-5"),
			cmd("LRANGE", "r", "a", "1"), cmd("LRANGE", "r", "0", "b"), cmd("LRANGE", "nolist", "0", "-1"), cmd("LRANGE", "nolist", "a", "b"),
			cmd("LRANGE", "r", "-9223372036854775808", "9223372036854775807"), cmd("LINDEX", "r", "0"), cmd("LINDEX", "r", "-1"),
			cmd("LINDEX", "r", "10"), cmd("LINDEX", "r", "-11"), cmd("LINDEX", "r", "abc"), cmd("LINDEX", "nolist", "abc"), cmd("LINDEX", "nolist", "0"))},
		{name: "list-binary", request: cmds(cmd("RPUSH", "lb", "", "a\x00b", "\r\n"), cmd("LRANGE", "lb", "0", "-1"), cmd("LPOP", "lb"),
			cmd("LINDEX", "lb", "0"), cmd("LPUSH", "lb", strings.Repeat("x", 1000)), cmd("LLEN", "lb"), cmd("LPOP", "lb", "3"))},
		{name: "list-long", request: cmds(cmd(append([]string{"RPUSH", "ll"}, numbers(0, 700)...)...), cmd("LRANGE", "ll", "0", "599"),
			cmd("LPOP", "ll", "300"), cmd("RPOP", "ll", "300"), cmd("LRANGE", "ll", "0", "-1"), cmd("LPUSH", "ll", "a", "b"), cmd("LRANGE", "ll", "0", "-1"))},
		{name: "set-basic", unordered: true, request: cmds(cmd("SADD", "s", "a", "b", "c", "a"), cmd("SADD", "s", "b", "d"), cmd("SCARD", "s"),
			cmd("SISMEMBER", "s", "a"), cmd("SISMEMBER", "s", "z"), cmd("SISMEMBER", "noset", "a"), cmd("SMEMBERS", "s"), cmd("SREM", "s", "a", "z"),
			cmd("SREM", "s", "a"), cmd("SCARD", "s"), cmd("SREM", "s", "b", "c", "d"), cmd("EXISTS", "s"), cmd("SCARD", "s"), cmd("SMEMBERS", "s"),
			cmd("SREM", "s", "a"), cmd("SMEMBERS", "noset"), cmd("SADD", "s", "", "x\r\ny"), cmd("SMEMBERS", "s"), cmd("SISMEMBER", "s", ""))},
		{name: "set-pop", unordered: true, request: cmds(cmd("SADD", "sp", "one"), cmd("SPOP", "sp"), cmd("EXISTS", "sp"), cmd("SPOP", "sp"),
			cmd("SADD", "sp", "a", "b", "c"), cmd("SPOP", "sp", "0"), cmd("SPOP", "sp", "10"), cmd("EXISTS", "sp"), cmd("SPOP", "sp", "3"),
			cmd("SPOP", "sp", "-1"), cmd("SPOP", "sp", "x"), cmd("SPOP", "sp", "1", "2"), cmd("SADD", "sp", "x"), cmd("SPOP", "sp", "1"),
			cmd("SCARD", "sp"), cmd("SADD", "sp", "1", "2", "3"), cmd("SPOP", "sp", "3"), cmd("SADD", "sp", "m"), cmd("SPOP", "sp", "9223372036854775807"))},
		{name: "hash-basic", request: cmds(cmd("HSET", "h", "f1", "v1", "f2", "v2"), cmd("HSET", "h", "f1", "x", "f3", "v3"), cmd("HGET", "h", "f1"),
			cmd("HGET", "h", "nof"), cmd("HGET", "noh", "f"), cmd("HLEN", "h"), cmd("HGETALL", "h"), cmd("HEXISTS", "h", "f2"), cmd("HEXISTS", "h", "z"),
			cmd("HEXISTS", "noh", "z"), cmd("HMGET", "h", "f1", "nof", "f3"), cmd("HMGET", "noh", "a", "b"), cmd("HMSET", "h", "f4", "v4"),
			cmd("HDEL", "h", "f2", "nof"), cmd("HGETALL", "h"), cmd("HDEL", "h", "f1", "f3", "f4"), cmd("EXISTS", "h"), cmd("HLEN", "h"),
			cmd("HGETALL", "h"), cmd("HDEL", "h", "f1"), cmd("HLEN", "noh"), cmd("HSET", "h", "a", "1", "a", "2"), cmd("HGETALL", "h"))},
		{name: "hash-binary", request: cmds(cmd("HSET", "hb", "", "", "k", "a\r\nb", "z\x00", "\x00"), cmd("HGETALL", "hb"), cmd("HGET", "hb", ""),
			cmd("HGET", "hb", "z\x00"), cmd("HSET", "hb", "k", "new"), cmd("HDEL", "hb", ""), cmd("HGETALL", "hb"))},
		{name: "zset-basic", request: cmds(cmd("ZADD", "z", "1", "a", "2", "b", "3", "c"), cmd("ZADD", "z", "2.5", "a"), cmd("ZRANGE", "z", "0", "-1"),
			cmd("ZRANGE", "z", "0", "-1", "WITHSCORES"), cmd("ZCARD", "z"), cmd("ZSCORE", "z", "a"), cmd("ZSCORE", "z", "nom"), cmd("ZSCORE", "noz", "a"),
			cmd("ZRANGE", "z", "1", "1"), cmd("ZRANGE", "z", "-2", "-1", "withscores"), cmd("ZRANGE", "z", "5", "10"), cmd("ZRANGE", "z", "0", "-1", "REV"),
			cmd("ZRANGE", "z", "0", "0", "rev", "withscores"), cmd("ZREM", "z", "a", "nom"), cmd("ZRANGE", "z", "0", "-1"), cmd("ZCARD", "noz"),
			cmd("ZREM", "z", "b", "c"), cmd("EXISTS", "z"), cmd("ZREM", "z", "b"), cmd("ZADD", "z", "1", "b", "1", "a", "1", "c", "0", "d"),
			cmd("ZRANGE", "z", "0", "-1", "WITHSCORES"), cmd("ZADD", "z", "5", "x", "6", "x"), cmd("ZSCORE", "z", "x"))},
		{name: "zset-scores", request: cmds(cmd("ZADD", "zs", "0.1", "a", "1e3", "b", "-inf", "c", "+inf", "d", "1.5e-7", "e", "-0", "f", "3.0", "g",
			"123456789012345678", "h", "-1.25", "i", "INF", "j", "0x10", "k"), cmd("ZRANGE", "zs", "0", "-1", "WITHSCORES"), cmd("ZADD", "zs", "abc", "x"),
			cmd("ZADD", "zs", "nan", "x"), cmd("ZADD", "zs", "", "x"), cmd("ZADD", "zs", " 1", "x"), cmd("ZADD", "zs", "1 ", "x"), cmd("ZADD", "zs", "1e400", "x"),
			cmd("ZADD", "zs", "1e-400", "x"), cmd("ZADD", "zs", "1_0", "x"), cmd("ZADD", "zs", "infinity", "y"), cmd("ZSCORE", "zs", "y"),
			cmd("ZADD", "zs", "4.9e-324", "z"), cmd("ZSCORE", "zs", "z"), cmd("ZSCORE", "zs", "x"), cmd("ZADD", "zs", "1", "ok", "bad", "notadded"), cmd("ZSCORE", "zs", "ok"))},
		{name: "zset-add-options", request: cmds(cmd("ZADD", "zo", "1", "a"), cmd("ZADD", "zo", "NX", "2", "a", "2", "b"), cmd("ZRANGE", "zo", "0", "-1", "WITHSCORES"),
			cmd("ZADD", "zo", "XX", "3", "a", "3", "c"), cmd("ZRANGE", "zo", "0", "-1", "WITHSCORES"), cmd("ZADD", "zo", "CH", "4", "a", "2", "b", "5", "d"),
			cmd("ZADD", "zo", "GT", "1", "a"), cmd("ZADD", "zo", "GT", "CH", "10", "a"), cmd("ZADD", "zo", "LT", "CH", "20", "a", "1", "b"),
			cmd("ZRANGE", "zo", "0", "-1", "WITHSCORES"), cmd("ZADD", "zo", "INCR", "5", "a"), cmd("ZADD", "zo", "INCR", "NX", "5", "a"),
			cmd("ZADD", "zo", "INCR", "XX", "5", "nomember"), cmd("ZADD", "zo", "INCR", "GT", "-1", "a"), cmd("ZADD", "zo", "INCR", "LT", "-1", "a"),
			cmd("ZADD", "zo", "incr", "1.5", "newm"), cmd("ZADD", "zo", "XX", "1", "nomember"), cmd("ZADD", "nozo", "XX", "1", "a"),
			cmd("ZADD", "nozo", "XX", "INCR", "1", "a"), cmd("EXISTS", "nozo"), cmd("ZADD", "zo", "NX", "XX", "1", "a"), cmd("ZADD", "zo", "GT", "LT", "1", "a"),
			cmd("ZADD", "zo", "NX", "GT", "1", "a"), cmd("ZADD", "zo", "NX", "LT", "1", "a"), cmd("ZADD", "zo", "INCR", "1", "a", "2", "b"), cmd("ZADD", "zo", "1", "a", "2"),
			cmd("ZADD", "zo", "1", "a", "nx"), cmd("ZADD", "zo", "nx", "xx", "ch"), cmd("ZADD", "zo", "NX", "XX", "abc", "a"), cmd("ZADD", "zo", "incr", "inf", "a"),
			cmd("ZADD", "zo", "incr", "-inf", "a"), cmd("ZSCORE", "zo", "a"), cmd("ZADD", "zo", "ch", "gt", "xx", "100", "a", "100", "b"),
			cmd("ZADD", "zo", "CH", "3", "newer", "3", "newer"), cmd("ZADD", "zo", "ch", "ch", "nx", "nx", "7", "q"), cmd("ZADD", "zo", "INCR", "0", "q"),
			cmd("ZRANGE", "zo", "0", "-1", "WITHSCORES"))},
		{name: "zset-pop", request: cmds(cmd("ZADD", "zp", "1", "a", "2", "b", "3", "c", "4", "d"), cmd("ZPOPMIN", "zp"), cmd("ZPOPMAX", "zp"),
			cmd("ZPOPMIN", "zp", "0"), cmd("ZPOPMIN", "zp", "5"), cmd("EXISTS", "zp"), cmd("ZPOPMIN", "zp"), cmd("ZPOPMIN", "zp", "2"), cmd("ZPOPMAX", "zp", "-1"),
			cmd("ZPOPMAX", "zp", "x"), cmd("ZPOPMIN", "zp", "1", "2"), cmd("ZADD", "zp", "1", "a", "1", "b"), cmd("ZPOPMAX", "zp", "1"), cmd("ZPOPMIN", "zp", "1"),
			cmd("ZCARD", "zp"))},
		{name: "zset-range-byscore", request: cmds(cmd("ZADD", "zr", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"), cmd("ZRANGE", "zr", "2", "4", "BYSCORE"),
			cmd("ZRANGE", "zr", "-inf", "+inf", "BYSCORE"), cmd("ZRANGE", "zr", "(1", "(5", "byscore", "withscores"), cmd("ZRANGE", "zr", "4", "2", "byscore"),
			cmd("ZRANGE", "zr", "4", "2", "byscore", "rev"), cmd("ZRANGE", "zr", "(4", "2", "rev", "byscore", "withscores"),
			cmd("ZRANGE", "zr", "+inf", "-inf", "byscore", "rev", "limit", "1", "2"), cmd("ZRANGE", "zr", "-inf", "+inf", "byscore", "limit", "2", "-1"),
			cmd("ZRANGE", "zr", "-inf", "+inf", "byscore", "limit", "10", "2"), cmd("ZRANGE", "zr", "-inf", "+inf", "byscore", "limit", "-1", "2"),
			cmd("ZRANGE", "zr", "-inf", "+inf", "byscore", "limit", "0", "0"), cmd("ZRANGE", "zr", "a", "b", "byscore"), cmd("ZRANGE", "zr", "(", "(", "byscore"),
			cmd("ZRANGE", "zr", "", "", "byscore"), cmd("ZRANGE", "zr", " 2", "3", "byscore"), cmd("ZRANGE", "zr", "2 ", "3", "byscore"),
			cmd("ZRANGE", "zr", "  ", "3", "byscore"), cmd("ZRANGE", "zr", "-1e400", "1e400", "byscore"), cmd("ZRANGE", "zr", "nan", "1", "byscore"),
			cmd("ZRANGE", "zr", "(3", "(3", "byscore"), cmd("ZRANGE", "zr", "3", "3", "byscore", "withscores"), cmd("ZRANGE", "zr", "((3", "4", "byscore"),
			cmd("ZRANGE", "nozr", "0", "1", "byscore", "withscores"))},
		{name: "zset-range-bylex", request: cmds(cmd("ZADD", "zl", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e"), cmd("ZRANGE", "zl", "-", "+", "BYLEX"),
			cmd("ZRANGE", "zl", "[b", "(d", "bylex"), cmd("ZRANGE", "zl", "(b", "[d", "bylex"), cmd("ZRANGE", "zl", "+", "-", "bylex", "rev"),
			cmd("ZRANGE", "zl", "[d", "[b", "bylex", "rev", "limit", "1", "1"), cmd("ZRANGE", "zl", "-", "+", "bylex", "limit", "1", "-5"),
			cmd("ZRANGE", "zl", "a", "b", "bylex"), cmd("ZRANGE", "zl", "[a", "+", "bylex", "withscores"), cmd("ZRANGE", "zl", "-", "(", "bylex"),
			cmd("ZRANGE", "zl", "[", "+", "bylex"), cmd("ZRANGE", "zl", "-", "+", "bylex", "limit", "-1", "2"), cmd("ZRANGE", "zl", "+", "-", "bylex"),
			cmd("ZRANGE", "zl", "[c", "[c", "bylex"), cmd("ZRANGE", "zl", "(c", "[c", "bylex"), cmd("ZRANGE", "zl", "[bb", "+", "bylex"),
			cmd("ZRANGE", "zl", "--", "+", "bylex"))},
		{name: "zset-range-syntax", request: cmds(cmd("ZADD", "zy", "1", "a", "2", "b"), cmd("ZRANGE", "zy", "0", "-1", "withscores", "limit", "0", "1"),
			cmd("ZRANGE", "zy", "0", "-1", "limit", "5", "-1"), cmd("ZRANGE", "zy", "0", "1", "rev", "rev"), cmd("ZRANGE", "zy", "0", "1", "byscore", "bylex"),
			cmd("ZRANGE", "zy", "0", "1", "limit", "0"), cmd("ZRANGE", "zy", "0", "1", "limit", "a", "b"), cmd("ZRANGE", "zy", "0", "1", "foo"),
			cmd("ZRANGE", "zy", "a", "b"), cmd("ZRANGE", "zy", "0", "b"), cmd("ZRANGE", "nozy", "0", "-1"), cmd("ZRANGE", "nozy", "a", "b"),
			cmd("ZRANGE", "zy", "0", "1", "WITHSCORES", "withscores"), cmd("ZRANGE", "zy", "-9223372036854775808", "9223372036854775807"),
			cmd("ZRANGE", "zy", "0", "1", "bylex", "limit", "0", "1", "withscores"), cmd("ZRANGE", "zy", "0", "1", "limit", "0", "1", "foo"))},
		{name: "types-wrongtype", request: cmds(cmd("RPUSH", "wl", "a"), cmd("SADD", "ws", "a"), cmd("HSET", "wh", "f", "v"), cmd("ZADD", "wz", "1", "a"),
			cmd("SET", "wstr", "v"), cmd("GET", "wl"), cmd("STRLEN", "ws"), cmd("INCR", "wh"), cmd("INCRBY", "wz", "1"), cmd("DECR", "wl"),
			cmd("APPEND", "wl", "x"), cmd("GETSET", "wl", "x"), cmd("GETDEL", "ws"), cmd("SET", "wl", "v", "GET"), cmd("SET", "wl", "v", "NX", "GET"),
			cmd("SET", "wl", "v", "XX", "GET"), cmd("MGET", "wl", "wstr", "ws", "wh", "wz"), cmd("SETNX", "wl", "v"), cmd("SET", "wl", "v", "NX"),
			cmd("LPUSH", "ws", "x"), cmd("RPUSH", "wstr", "x"), cmd("LPOP", "wh"), cmd("RPOP", "wz", "2"), cmd("LRANGE", "ws", "0", "-1"),
			cmd("LLEN", "wstr"), cmd("LINDEX", "wh", "0"), cmd("SADD", "wl", "x"), cmd("SREM", "wl", "x"), cmd("SPOP", "wh"), cmd("SPOP", "wh", "2"),
			cmd("SCARD", "wz"), cmd("SMEMBERS", "wstr"), cmd("SISMEMBER", "wl", "a"), cmd("HSET", "wl", "f", "v"), cmd("HMSET", "ws", "f", "v"),
			cmd("HGET", "wz", "f"), cmd("HMGET", "wl", "f"), cmd("HGETALL", "ws"), cmd("HEXISTS", "wstr", "f"), cmd("HDEL", "wl", "f"), cmd("HLEN", "ws"),
			cmd("ZADD", "wl", "1", "a"), cmd("ZADD", "wstr", "incr", "1", "a"), cmd("ZREM", "ws", "a"), cmd("ZPOPMIN", "wh"), cmd("ZPOPMAX", "wl", "2"),
			cmd("ZRANGE", "wh", "0", "-1"), cmd("ZRANGE", "wh", "0", "-1", "byscore"), cmd("ZCARD", "wl"), cmd("ZSCORE", "ws", "a"),
			cmd("LRANGE", "ws", "a", "b"), cmd("LPOP", "wh", "-1"), cmd("ZADD", "wl", "abc", "a"), cmd("SPOP", "wl", "-1"), cmd("ZRANGE", "wh", "a", "b"),
			cmd("LINDEX", "wh", "abc"), cmd("HSET", "wl", "f"), cmd("ZADD", "wl", "nx", "xx", "1", "a"), cmd("INCRBY", "wl", "x"),
			cmd("TYPE", "wl"), cmd("TYPE", "ws"), cmd("TYPE", "wh"), cmd("TYPE", "wz"), cmd("TYPE", "wstr"), cmd("LRANGE", "wl", "0", "-1"),
			cmd("HGETALL", "wh"), cmd("ZRANGE", "wz", "0", "-1", "withscores"), cmd("GET", "wstr"))},
		{name: "types-keyspace", unordered: true, request: cmds(cmd("FLUSHALL"), cmd("RPUSH", "gl", "a"), cmd("SADD", "gs", "a"), cmd("HSET", "gh", "f", "v"),
			cmd("ZADD", "gz", "1", "a"), cmd("TYPE", "gl"), cmd("TYPE", "gs"), cmd("TYPE", "gh"), cmd("TYPE", "gz"), cmd("EXISTS", "gl", "gs", "gh", "gz", "nokey"),
			cmd("DBSIZE"), cmd("KEYS", "g*"), cmd("EXPIRE", "gl", "100"), cmd("TTL", "gl"), cmd("PEXPIRE", "gs", "100000"), cmd("TTL", "gs"),
			cmd("PERSIST", "gl"), cmd("TTL", "gl"), cmd("DEL", "gl", "gs"), cmd("EXISTS", "gl", "gs"), cmd("SET", "gh", "x"), cmd("TYPE", "gh"),
			cmd("GET", "gh"), cmd("MSET", "gz", "1"), cmd("TYPE", "gz"), cmd("INCR", "gz"), cmd("RPUSH", "gt", "a"), cmd("EXPIRE", "gt", "100"),
			cmd("RPUSH", "gt", "b"), cmd("TTL", "gt"), cmd("LPOP", "gt", "2"), cmd("TTL", "gt"), cmd("RPUSH", "gt", "c"), cmd("TTL", "gt"),
			cmd("EXPIRE", "gt", "-1"), cmd("EXISTS", "gt"), cmd("SADD", "gx", "a"), cmd("SET", "gx", "v", "EX", "100"), cmd("TYPE", "gx"), cmd("TTL", "gx"),
			cmd("ZADD", "gy", "1", "a"), cmd("PEXPIREAT", "gy", "1"), cmd("ZCARD", "gy"), cmd("HSET", "gw", "f", "v"), cmd("GETSET", "gw", "x"),
			cmd("SETEX", "gw", "100", "v"), cmd("TYPE", "gw"), cmd("DBSIZE"), cmd("FLUSHDB"), cmd("DBSIZE"), cmd("TYPE", "gw"))},

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

		// Publish/subscribe, on one connection (see pubsub_test.go for
		// publishers and subscribers on different connections).
		{name: "pubsub-subscribe", request: cmds(cmd("SUBSCRIBE", "ps:a", "ps:b", "ps:a"), cmd("PING"), cmd("PING", "hi"),
			cmd("PING", "a", "b"), cmd("GET", "k"), cmd("GET"), cmd("CONFIG", "GET", "port"), cmd("PUBLISH", "ps:a", "x"),
			cmd("PUBSUB", "NUMSUB", "ps:a"), cmd("FOO"), cmd("UNSUBSCRIBE", "ps:a", "ps:nope"), cmd("UNSUBSCRIBE"),
			cmd("UNSUBSCRIBE"), cmd("PING"))},
		{name: "pubsub-psubscribe", request: cmds(cmd("PSUBSCRIBE", "ps:*", "h?llo"), cmd("SUBSCRIBE", "ps:c"),
			cmd("PUNSUBSCRIBE", "nomatch"), cmd("PUNSUBSCRIBE", "h?llo"), cmd("PUNSUBSCRIBE"), cmd("PUNSUBSCRIBE"),
			cmd("ECHO", "still"), cmd("UNSUBSCRIBE", "ps:c"), cmd("PING"))},
		{name: "pubsub-unsubscribe-none", request: cmds(cmd("UNSUBSCRIBE"), cmd("PUNSUBSCRIBE"), cmd("UNSUBSCRIBE", "x", "y"),
			cmd("PUNSUBSCRIBE", "p*"), cmd("SUBSCRIBE"), cmd("PSUBSCRIBE"))},
		{name: "pubsub-introspection", request: cmds(cmd("PUBLISH", "ps:none", "msg"), cmd("PUBLISH", "ps:none"),
			cmd("PUBSUB", "CHANNELS"), cmd("PUBSUB", "CHANNELS", "ps:*"), cmd("PUBSUB", "CHANNELS", "a", "b"),
			cmd("PUBSUB", "NUMSUB"), cmd("PUBSUB", "NUMSUB", "a", "b"), cmd("PUBSUB", "NUMPAT"), cmd("PUBSUB", "NUMPAT", "x"),
			cmd("PUBSUB"), cmd("PUBSUB", "FOO"))},
		{name: "pubsub-quit", request: cmds(cmd("SUBSCRIBE", "ps:q"), cmd("QUIT"), cmd("PING")), closes: true},
		{name: "pubsub-reset", request: cmds(cmd("SUBSCRIBE", "ps:r"), cmd("PSUBSCRIBE", "ps:*"), cmd("RESET"), cmd("GET", "nokey"),
			cmd("UNSUBSCRIBE"), cmd("RESET", "x"))},

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
