package main

import "strconv"

// Reply encoders. Each appends one RESP2 value to out and returns the
// extended slice, so a whole pipeline's replies build up in one buffer
// without allocating per reply.

func appendOK(out []byte) []byte { return append(out, "+OK\r\n"...) }

func appendNullBulk(out []byte) []byte { return append(out, "$-1\r\n"...) }

// appendStatus appends a simple string (+s). s must not contain '\r' or
// '\n'.
func appendStatus(out []byte, s string) []byte {
	out = append(out, '+')
	out = append(out, s...)
	return append(out, '\r', '\n')
}

// appendError appends an error reply. msg starts with the error code (ERR,
// WRONGTYPE, NOPROTO...); like Redis, line breaks inside it become spaces
// so that a client's bytes echoed in an error cannot break the protocol.
func appendError(out []byte, msg string) []byte {
	out = append(out, '-')
	for len(msg) > 0 && (msg[len(msg)-1] == '\r' || msg[len(msg)-1] == '\n') {
		msg = msg[:len(msg)-1]
	}
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		out = append(out, c)
	}
	return append(out, '\r', '\n')
}

func appendInt(out []byte, n int64) []byte {
	switch n {
	case 0:
		return append(out, ":0\r\n"...)
	case 1:
		return append(out, ":1\r\n"...)
	}
	out = append(out, ':')
	out = strconv.AppendInt(out, n, 10)
	return append(out, '\r', '\n')
}

func appendBulk(out []byte, b []byte) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(b)), 10)
	out = append(out, '\r', '\n')
	out = append(out, b...)
	return append(out, '\r', '\n')
}

func appendBulkString(out []byte, s string) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(s)), 10)
	out = append(out, '\r', '\n')
	out = append(out, s...)
	return append(out, '\r', '\n')
}

// appendBulkInt appends n as a bulk string, as Redis answers INCR's
// siblings that return strings and CONFIG GET's numeric values.
func appendBulkInt(out []byte, n int64) []byte {
	var digits [20]byte
	return appendBulk(out, strconv.AppendInt(digits[:0], n, 10))
}

func appendArrayLen(out []byte, n int) []byte {
	out = append(out, '*')
	out = strconv.AppendInt(out, int64(n), 10)
	return append(out, '\r', '\n')
}

// appendCommand appends args as a multibulk request: the form of the
// append-only file.
func appendCommand(out []byte, args ...[]byte) []byte {
	out = appendArrayLen(out, len(args))
	for _, a := range args {
		out = appendBulk(out, a)
	}
	return out
}
