package main

import (
	"bytes"
	"math"
)

// Limits on what a client may send, with Redis's values and error texts.
const (
	// maxInlineLength bounds an inline request line, and the header line
	// of a multibulk request or of one of its bulks (PROTO_INLINE_MAX_SIZE).
	maxInlineLength = 64 << 10
	// maxBulkLength bounds one argument of a multibulk request
	// (proto-max-bulk-len).
	maxBulkLength = 512 << 20
	// maxQueryBuffer bounds the bytes a connection may have pending in one
	// incomplete request (client-query-buffer-limit). A client past it is
	// disconnected without a reply, as Redis does.
	maxQueryBuffer = 1 << 30
)

// protocolError is a request Redis would refuse with "-ERR Protocol error:
// ..." before closing the connection. Its text is Redis's, after the
// "Protocol error: " prefix.
type protocolError string

func (e protocolError) Error() string { return "Protocol error: " + string(e) }

const (
	errTooBigInline      protocolError = "too big inline request"
	errTooBigMbulkCount  protocolError = "too big mbulk count string"
	errTooBigBulkCount   protocolError = "too big bulk count string"
	errInvalidMbulkCount protocolError = "invalid multibulk length"
	errInvalidBulkLength protocolError = "invalid bulk length"
	errUnbalancedQuotes  protocolError = "unbalanced quotes in request"
)

// span locates one argument inside the bytes of the request being parsed.
type span struct{ start, end int }

// requestParser splits a connection's byte stream into requests, both
// multibulk (*2\r\n$3\r\nGET\r\n$1\r\nk\r\n) and inline (GET k\r\n).
//
// A request may arrive in many pieces. The caller keeps the unconsumed
// bytes of an incomplete request and passes them again, with whatever has
// arrived since, to the next parse; the parser remembers how far it got, so
// a large request is scanned once rather than once per piece. Offsets in
// the parser are relative to the first byte of the request being parsed.
//
// Nothing is allocated from a length the client declares: argument spans
// grow one per argument that has arrived, and the caller's buffer grows
// with the bytes that have arrived.
type requestParser struct {
	inMultibulk bool
	argsLeft    int  // bulks of the multibulk request not yet read
	haveBulk    bool // the $ line of the bulk being read has been read
	bulkLength  int  // and gave this length
	pos         int  // where the next header line or bulk starts
	scanned     int  // bytes already searched for the end of the current line

	spans  []span
	args   [][]byte
	inline []byte // unquoted inline arguments, which args then points into
}

// parse reads one request from data, which starts at the first byte of the
// request. It returns the request's arguments and the number of bytes it
// took. consumed is 0 when the request is incomplete (the caller passes the
// same bytes and more next time); args is empty for a request without
// arguments (an empty line, *0 or *-1), which Redis skips. The arguments
// alias data, or the parser's own buffer for an inline request, and are
// valid until the next parse.
func (p *requestParser) parse(data []byte) (args [][]byte, consumed int, err error) {
	if len(data) == 0 {
		return nil, 0, nil
	}
	if !p.inMultibulk {
		if data[0] != '*' {
			return p.parseInline(data)
		}
		line, next, complete, err := p.readLine(data, 0, errTooBigMbulkCount)
		if !complete || err != nil {
			return nil, 0, err
		}
		count, ok := parseRedisInt(line[1:])
		if !ok || count > math.MaxInt32 {
			return nil, 0, errInvalidMbulkCount
		}
		if count <= 0 {
			p.reset()
			return nil, next, nil
		}
		p.inMultibulk = true
		p.argsLeft = int(count)
		p.haveBulk = false
		p.pos = next
		p.spans = p.spans[:0]
	}
	for p.argsLeft > 0 {
		if !p.haveBulk {
			line, next, complete, err := p.readLine(data, p.pos, errTooBigBulkCount)
			if !complete || err != nil {
				return nil, 0, err
			}
			// The line may be empty: the byte at p.pos is then its '\r'.
			if data[p.pos] != '$' {
				return nil, 0, protocolError("expected '$', got '" + string(data[p.pos:p.pos+1]) + "'")
			}
			n, ok := parseRedisInt(line[1:])
			if !ok || n < 0 || n > maxBulkLength {
				return nil, 0, errInvalidBulkLength
			}
			p.bulkLength = int(n)
			p.haveBulk = true
			p.pos = next
		}
		// Redis skips the two bytes after a bulk without looking at them.
		if len(data)-p.pos < p.bulkLength+2 {
			return nil, 0, nil
		}
		p.spans = append(p.spans, span{p.pos, p.pos + p.bulkLength})
		p.pos += p.bulkLength + 2
		p.haveBulk = false
		p.argsLeft--
	}
	consumed = p.pos
	args = p.args[:0]
	for _, s := range p.spans {
		args = append(args, data[s.start:s.end:s.end])
	}
	p.args = args
	p.reset()
	return args, consumed, nil
}

// readLine finds the header line that starts at data[start:], ended by
// '\r' and one more byte (Redis wants the '\n' to be there but does not
// check it). It returns the line without its ending and the offset after
// the ending, or complete == false when the line has not fully arrived. A
// line longer than maxInlineLength fails with tooLong.
func (p *requestParser) readLine(data []byte, start int, tooLong protocolError) (line []byte, next int, complete bool, err error) {
	from := start
	if p.scanned > from {
		from = p.scanned
	}
	cr := bytes.IndexByte(data[from:], '\r')
	if cr < 0 {
		p.scanned = len(data)
		if len(data)-start > maxInlineLength {
			return nil, 0, false, tooLong
		}
		return nil, 0, false, nil
	}
	cr += from
	if cr-start > maxInlineLength {
		return nil, 0, false, tooLong
	}
	if cr+1 >= len(data) {
		p.scanned = cr
		return nil, 0, false, nil
	}
	p.scanned = 0
	return data[start:cr], cr + 2, true, nil
}

// parseInline reads an inline request: one line, ended by "\n" or "\r\n",
// split into arguments the way redis-cli and Redis split them (see
// splitInlineArgs).
func (p *requestParser) parseInline(data []byte) ([][]byte, int, error) {
	nl := bytes.IndexByte(data[p.scanned:], '\n')
	if nl < 0 {
		p.scanned = len(data)
		// Allow for the '\r' of a line of the longest length whose '\n' is
		// yet to come, so that such a line is accepted however it is cut.
		if len(data) > maxInlineLength+1 {
			return nil, 0, errTooBigInline
		}
		return nil, 0, nil
	}
	nl += p.scanned
	p.scanned = 0
	end := nl
	if end > 0 && data[end-1] == '\r' {
		end--
	}
	if end > maxInlineLength {
		return nil, 0, errTooBigInline
	}
	args, ok := p.splitInlineArgs(data[:end])
	if !ok {
		return nil, 0, errUnbalancedQuotes
	}
	return args, nl + 1, nil
}

// splitInlineArgs splits an inline line into arguments with Redis's rules:
// arguments are separated by white space; "double quotes" understand the
// escapes \n \r \t \b \a \xHH and \<any>; 'single quotes' understand \';
// a closing quote must be followed by white space or the end of the line;
// and a quote may open in the middle of an argument (a"b c" is one
// argument). It reports false for unbalanced quotes. (Redis never sees a
// NUL byte here: it stops looking for the end of an inline line at one. A
// NUL is an ordinary byte to this parser.)
func (p *requestParser) splitInlineArgs(line []byte) ([][]byte, bool) {
	p.inline = p.inline[:0]
	p.spans = p.spans[:0]
	i := 0
	for {
		for i < len(line) && isRedisSpace(line[i]) {
			i++
		}
		if i == len(line) {
			break
		}
		start := len(p.inline)
		var ok bool
		i, ok = p.splitOneArg(line, i)
		if !ok {
			p.spans = p.spans[:0]
			return nil, false
		}
		p.spans = append(p.spans, span{start, len(p.inline)})
	}
	args := p.args[:0]
	for _, s := range p.spans {
		args = append(args, p.inline[s.start:s.end:s.end])
	}
	p.args = args
	p.spans = p.spans[:0]
	return args, true
}

// splitOneArg appends the argument that starts at line[i] to p.inline and
// returns the index after it.
func (p *requestParser) splitOneArg(line []byte, i int) (int, bool) {
	const (
		unquoted = iota
		inDouble
		inSingle
	)
	state := unquoted
	for {
		if i == len(line) {
			return i, state == unquoted
		}
		ch := line[i]
		switch state {
		case unquoted:
			switch ch {
			case ' ', '\n', '\r', '\t':
				return i, true
			case '"':
				state = inDouble
			case '\'':
				state = inSingle
			default:
				p.inline = append(p.inline, ch)
			}
		case inDouble:
			switch {
			case ch == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHexDigit(line[i+2]) && isHexDigit(line[i+3]):
				p.inline = append(p.inline, hexValue(line[i+2])<<4|hexValue(line[i+3]))
				i += 3
			case ch == '\\' && i+1 < len(line):
				i++
				p.inline = append(p.inline, unescapeInline(line[i]))
			case ch == '"':
				// The closing quote must end the argument.
				if i+1 < len(line) && !isRedisSpace(line[i+1]) {
					return i, false
				}
				return i + 1, true
			default:
				p.inline = append(p.inline, ch)
			}
		case inSingle:
			switch {
			case ch == '\\' && i+1 < len(line) && line[i+1] == '\'':
				i++
				p.inline = append(p.inline, '\'')
			case ch == '\'':
				if i+1 < len(line) && !isRedisSpace(line[i+1]) {
					return i, false
				}
				return i + 1, true
			default:
				p.inline = append(p.inline, ch)
			}
		}
		i++
	}
}

// reset forgets the request just parsed. Buffers grown by an unusually
// large request are released rather than kept for the connection's life.
func (p *requestParser) reset() {
	p.inMultibulk = false
	p.argsLeft = 0
	p.haveBulk = false
	p.pos = 0
	p.scanned = 0
	if cap(p.spans) > maxKeptArgs {
		p.spans, p.args = nil, nil
	} else {
		p.spans = p.spans[:0]
	}
	if cap(p.inline) > maxInlineLength {
		p.inline = nil
	}
}

// maxKeptArgs bounds the argument slices a connection keeps between
// requests.
const maxKeptArgs = 1024

// isRedisSpace is C's isspace, which Redis uses between inline arguments.
func isRedisSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func hexValue(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

func unescapeInline(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

// parseRedisInt parses a decimal int64 as strictly as Redis's string2ll:
// an optional '-', then digits without a leading zero (except "0" itself),
// nothing else, and no overflow.
func parseRedisInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	negative := b[0] == '-'
	if negative {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (math.MaxUint64-9)/10 {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	if negative {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > math.MaxInt64 {
		return 0, false
	}
	return int64(v), true
}
