// Package resp is the Redis side of the benchmark servers written in Go: a
// RESP parser that answers every complete command at the front of a byte
// stream (so pipelined commands are answered in one batch) and a tiny
// keyspace for PING, SET and GET, the commands redis-benchmark -t
// ping,set,get sends. Inline commands (PING_INLINE) and multibulk ones are
// both understood.
package resp

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
)

// maxBulk bounds one argument and maxArgs one command, so that a bad
// length cannot make a server buffer without end.
const (
	maxBulk = 512 << 20
	maxArgs = 1 << 20
)

// ErrProtocol reports a stream that is not RESP; the server replies with an
// error and closes the connection, as Redis does.
var ErrProtocol = errors.New("resp: protocol error")

// DB is an in-memory keyspace. It is safe for concurrent use: the
// goroutine-per-connection server shares one DB between connections, and the
// event-loop servers may run several loops. One uncontended lock per command
// is far below the cost of a request, and the same in every Go server.
type DB struct {
	mu sync.Mutex
	m  map[string]*entry
}

// entry lets SET overwrite a value in place: an existing key then costs no
// allocation (Go allocates a map key string on every assignment).
type entry struct{ v []byte }

// NewDB returns an empty keyspace.
func NewDB() *DB { return &DB{m: make(map[string]*entry)} }

// Conn is the per-connection parser state: the argument slices of the
// command being executed, reused between commands.
type Conn struct {
	args [][]byte
}

// Serve executes every complete command at the front of data and appends
// the replies to dst. consumed is how many bytes the commands took; the rest
// is an incomplete command to keep for the next read. On ErrProtocol the
// output ends with an error reply and the connection must be closed after
// writing it.
func (db *DB) Serve(c *Conn, dst, data []byte) (out []byte, consumed int, err error) {
	out = dst
	for consumed < len(data) {
		var n int
		var args [][]byte
		n, args, err = c.parse(data[consumed:])
		if err != nil {
			return append(out, "-ERR Protocol error\r\n"...), consumed, err
		}
		if n == 0 {
			break
		}
		consumed += n
		if len(args) > 0 {
			out = db.exec(out, args)
		}
	}
	return out, consumed, nil
}

// parse reads one command from the front of data: n is 0 when it is not
// complete yet. args alias data.
func (c *Conn) parse(data []byte) (n int, args [][]byte, err error) {
	n, args, err = c.parseArgs(data, c.args[:0])
	c.args = args[:0] // keep the grown slice for the next command
	return n, args, err
}

func (c *Conn) parseArgs(data []byte, args [][]byte) (n int, _ [][]byte, err error) {
	if data[0] != '*' {
		// Inline command: words separated by spaces, up to LF.
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			if len(data) > maxBulk {
				return 0, nil, ErrProtocol
			}
			return 0, nil, nil
		}
		line := data[:end]
		for len(line) > 0 {
			i := bytes.IndexAny(line, " \t\r")
			if i < 0 {
				args = append(args, line)
				break
			}
			if i > 0 {
				args = append(args, line[:i])
			}
			line = line[i+1:]
		}
		return end + 1, args, nil
	}
	count, pos, ok, err := parseLen(data, 1)
	if !ok || err != nil {
		return 0, nil, err
	}
	if count > maxArgs {
		return 0, nil, ErrProtocol
	}
	for i := 0; i < count; i++ {
		if pos >= len(data) {
			return 0, nil, nil
		}
		if data[pos] != '$' {
			return 0, nil, ErrProtocol
		}
		size, next, ok, err := parseLen(data, pos+1)
		if !ok || err != nil {
			return 0, nil, err
		}
		if size < 0 || size > maxBulk {
			return 0, nil, ErrProtocol
		}
		if next+size+2 > len(data) {
			return 0, nil, nil
		}
		args = append(args, data[next:next+size])
		pos = next + size + 2
	}
	return pos, args, nil
}

// parseLen reads a decimal number from data[pos:] up to CRLF; next is the
// index after the CRLF, ok is false when the line is not complete.
func parseLen(data []byte, pos int) (v, next int, ok bool, err error) {
	neg := false
	if pos < len(data) && data[pos] == '-' {
		neg = true
		pos++
	}
	for ; pos < len(data); pos++ {
		c := data[pos]
		if c == '\r' {
			if pos+1 >= len(data) {
				return 0, 0, false, nil
			}
			if data[pos+1] != '\n' {
				return 0, 0, false, ErrProtocol
			}
			if neg {
				v = -v
			}
			return v, pos + 2, true, nil
		}
		if c < '0' || c > '9' || v > maxBulk {
			return 0, 0, false, ErrProtocol
		}
		v = v*10 + int(c-'0')
	}
	return 0, 0, false, nil
}

// exec runs one command and appends its reply.
func (db *DB) exec(out []byte, args [][]byte) []byte {
	switch {
	case cmdIs(args[0], "PING"):
		switch len(args) {
		case 1:
			return append(out, "+PONG\r\n"...)
		case 2:
			return appendBulk(out, args[1])
		}
	case cmdIs(args[0], "SET"):
		if len(args) == 3 {
			db.mu.Lock()
			if e := db.m[string(args[1])]; e != nil {
				e.v = append(e.v[:0], args[2]...)
			} else {
				db.m[string(args[1])] = &entry{v: append([]byte(nil), args[2]...)}
			}
			db.mu.Unlock()
			return append(out, "+OK\r\n"...)
		}
	case cmdIs(args[0], "GET"):
		if len(args) == 2 {
			db.mu.Lock()
			e := db.m[string(args[1])]
			if e == nil {
				db.mu.Unlock()
				return append(out, "$-1\r\n"...)
			}
			out = appendBulk(out, e.v)
			db.mu.Unlock()
			return out
		}
	case cmdIs(args[0], "CONFIG"):
		// redis-benchmark asks CONFIG GET save and appendonly before it
		// starts; answer each parameter with an empty value.
		if len(args) == 3 && cmdIs(args[1], "GET") {
			out = append(out, "*2\r\n"...)
			out = appendBulk(out, args[2])
			return append(out, "$0\r\n\r\n"...)
		}
	default:
		out = append(out, "-ERR unknown command '"...)
		out = append(out, args[0]...)
		return append(out, "'\r\n"...)
	}
	out = append(out, "-ERR wrong number of arguments for '"...)
	out = append(out, args[0]...)
	return append(out, "' command\r\n"...)
}

func appendBulk(out, v []byte) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(v)), 10)
	out = append(out, '\r', '\n')
	out = append(out, v...)
	return append(out, '\r', '\n')
}

// cmdIs compares a command name with an upper-case name, without case.
func cmdIs(b []byte, upper string) bool {
	if len(b) != len(upper) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}
