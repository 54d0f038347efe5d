package main

import "bytes"

// Limits on what one request may make the server hold. They bound the bytes
// a connection keeps between Data events, whatever a peer declares.
const (
	// maxHeadBytes bounds the request line plus the header section. A head
	// that has not ended within it is refused with 431 (414 when the
	// request line alone is that long), so a peer that never finishes its
	// head costs at most this much memory.
	maxHeadBytes = 8 << 10
	// maxChunkLineBytes bounds one chunk-size line with its extensions.
	maxChunkLineBytes = 4 << 10
	// maxTrailerBytes bounds the trailer section of a chunked body.
	maxTrailerBytes = 8 << 10
)

// protocolError is a request the server refuses: it answers with status and
// closes the connection. The values are package variables, so refusing a
// request allocates nothing.
type protocolError struct {
	status int
	reason string
}

func (e *protocolError) Error() string { return e.reason }

// The reasons a request is refused, each with the status RFC 9110/9112 gives
// for it.
var (
	errRequestLine        = &protocolError{400, "malformed request line"}
	errMethod             = &protocolError{400, "invalid method"}
	errTarget             = &protocolError{400, "invalid request-target"}
	errVersion            = &protocolError{400, "malformed HTTP version"}
	errVersionUnsupported = &protocolError{505, "only HTTP/1.0 and HTTP/1.1 are supported"}
	errBareLF             = &protocolError{400, "line not terminated by CRLF"}
	errObsFold            = &protocolError{400, "obsolete line folding or whitespace before a field name"}
	errFieldName          = &protocolError{400, "invalid header field name"}
	errFieldValue         = &protocolError{400, "invalid header field value"}
	errURITooLong         = &protocolError{414, "request line too long"}
	errHeadTooLarge       = &protocolError{431, "header section too large"}
	errMissingHost        = &protocolError{400, "HTTP/1.1 request without Host"}
	errDuplicateHost      = &protocolError{400, "more than one Host field"}
	errHost               = &protocolError{400, "invalid Host"}
	errContentLength      = &protocolError{400, "invalid Content-Length"}
	errDuplicateLength    = &protocolError{400, "more than one Content-Length field"}
	errLengthAndChunked   = &protocolError{400, "both Content-Length and Transfer-Encoding"}
	errTransferOnHTTP10   = &protocolError{400, "Transfer-Encoding in an HTTP/1.0 request"}
	errEmptyTransfer      = &protocolError{400, "empty Transfer-Encoding"}
	errChunkedTwice       = &protocolError{400, "chunked applied more than once"}
	errUnsupportedCoding  = &protocolError{501, "unsupported transfer coding"}
	errExpectation        = &protocolError{417, "unsupported expectation"}
	errConnect            = &protocolError{501, "CONNECT is not supported"}
	errBodyTooLarge       = &protocolError{413, "request body too large"}
)

// route is what a request asks for, decided from its request-target.
type route uint8

const (
	routeNotFound route = iota
	routeHello          // "/": Hello, World!
	routeEcho           // "/echo": the request body back
	routeServer         // "OPTIONS *": the server itself
)

// requestHead is the parsed request line and header section of one request,
// reduced to what the server acts on; other fields are validated and
// skipped. Parsing is resumable: a head that arrives in pieces is parsed
// line by line as each line completes, and the lines already parsed are not
// scanned again.
type requestHead struct {
	// scanned is the length of the head prefix whose lines have been
	// parsed, counted from the first byte of the request line.
	scanned    int
	lineParsed bool // the request line is in scanned

	route         route
	isHEAD        bool
	minor         int   // HTTP/1.minor: 0 or 1
	contentLength int64 // -1 when absent
	chunked       bool  // Transfer-Encoding ends in chunked
	transfer      bool  // a Transfer-Encoding field was present
	otherCoding   bool  // a coding other than chunked was listed
	twiceChunked  bool  // chunked was listed more than once
	connClose     bool  // Connection lists close
	connKeepAlive bool  // Connection lists keep-alive
	expectation   bool  // an Expect field was present
	expectOther   bool  // it asked for something besides 100-continue
	hosts         int   // Host fields seen
	connect       bool  // the method is CONNECT, which is refused

	// keepAlive tells whether the connection stays open after the
	// response; set when the head is complete.
	keepAlive bool
}

func (h *requestHead) reset() { *h = requestHead{contentLength: -1} }

// expectContinue reports whether the client waits for 100 Continue before
// sending the body. RFC 9110 §10.1.1: an HTTP/1.0 request's expectation is
// ignored.
func (h *requestHead) expectContinue() bool {
	return h.expectation && !h.expectOther && h.minor >= 1
}

// parse parses the head at the start of data, which begins with the request
// line (empty lines before it are the caller's to skip). It returns the
// length of the head, final empty line included, or 0 when data does not
// hold the whole head yet; then the caller calls again, with data extended,
// once more bytes arrive. A refused head returns 0 and the reason.
func (h *requestHead) parse(data []byte) (int, *protocolError) {
	for {
		rest := data[h.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if !h.lineParsed {
			// Refuse what cannot become a request line (a TLS
			// handshake, say) without waiting for the rest of it. The
			// check sees the same bytes however the line arrives, so
			// where the input is cut never changes the answer.
			if err := checkMethodPrefix(rest); err != nil {
				return 0, err
			}
		}
		if i < 0 {
			if len(data) > maxHeadBytes {
				return 0, h.tooLarge()
			}
			return 0, nil
		}
		end := h.scanned + i + 1
		if end > maxHeadBytes {
			return 0, h.tooLarge()
		}
		if i == 0 || rest[i-1] != '\r' {
			// RFC 9112 §2.2 allows a bare LF; refusing it leaves no
			// room for framing disagreements with a proxy in front.
			return 0, errBareLF
		}
		line := rest[:i-1]
		switch {
		case !h.lineParsed:
			if err := h.parseRequestLine(line); err != nil {
				return 0, err
			}
			h.lineParsed = true
		case len(line) == 0:
			h.scanned = end
			if err := h.finish(); err != nil {
				return 0, err
			}
			return end, nil
		default:
			if err := h.parseField(line); err != nil {
				return 0, err
			}
		}
		h.scanned = end
	}
}

func (h *requestHead) tooLarge() *protocolError {
	if !h.lineParsed {
		return errURITooLong
	}
	return errHeadTooLarge
}

// checkMethodPrefix checks the start of a request line, ended or not:
// everything before its first space, within the head limit, must be method
// (token) bytes.
func checkMethodPrefix(line []byte) *protocolError {
	if len(line) > maxHeadBytes {
		line = line[:maxHeadBytes]
	}
	for _, c := range line {
		if c == ' ' {
			return nil
		}
		if !isTokenByte[c] {
			return errMethod
		}
	}
	return nil
}

// parseRequestLine parses method SP request-target SP HTTP-version (RFC 9112
// §3), with exactly one space between the parts.
func (h *requestHead) parseRequestLine(line []byte) *protocolError {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return errRequestLine
	}
	method := line[:sp]
	if !isToken(method) {
		return errMethod
	}
	rest := line[sp+1:]
	sp = bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		// No version (an HTTP/0.9 request) or an empty target.
		return errRequestLine
	}
	target, version := rest[:sp], rest[sp+1:]
	if err := h.parseVersion(version); err != nil {
		return err
	}
	switch string(method) { // compiles to a comparison, not an allocation
	case "HEAD":
		h.isHEAD = true
	case "CONNECT":
		h.connect = true
	}
	return h.parseTarget(target, string(method) == "OPTIONS")
}

// parseVersion accepts HTTP/1.0 and HTTP/1.1, and reads a later HTTP/1.x as
// 1.1 (RFC 9110 §6.2: a server answers with the highest minor version it
// supports).
func (h *requestHead) parseVersion(v []byte) *protocolError {
	if len(v) != len("HTTP/1.1") || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return errVersion
	}
	if v[5] != '1' {
		return errVersionUnsupported
	}
	if v[7] == '0' {
		h.minor = 0
	} else {
		h.minor = 1
	}
	return nil
}

// parseTarget checks the request-target's bytes and form (RFC 9112 §3.2)
// and picks the route from its path, without decoding it.
func (h *requestHead) parseTarget(target []byte, isOPTIONS bool) *protocolError {
	for _, c := range target {
		if !isTargetByte[c] {
			return errTarget
		}
	}
	switch {
	case target[0] == '/': // origin-form
		h.route = routeFor(target)
	case len(target) == 1 && target[0] == '*': // asterisk-form
		if !isOPTIONS {
			return errTarget
		}
		h.route = routeServer
	case h.connect: // authority-form; CONNECT is refused in finish
	default: // absolute-form: scheme ":" hier-part
		path, ok := absolutePath(target)
		if !ok {
			return errTarget
		}
		h.route = routeFor(path)
	}
	return nil
}

// absolutePath returns the path and query of an absolute-form target
// ("http://host/path?q" gives "/path?q"; an empty path is "/").
func absolutePath(target []byte) ([]byte, bool) {
	colon := bytes.IndexByte(target, ':')
	if colon <= 0 || !isAlpha(target[0]) {
		return nil, false
	}
	for _, c := range target[1:colon] {
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return nil, false
		}
	}
	rest := target[colon+1:]
	if len(rest) < 2 || rest[0] != '/' || rest[1] != '/' {
		return rest, true // no authority: the rest is the path
	}
	rest = rest[2:]
	if i := bytes.IndexAny(rest, "/?"); i >= 0 && rest[i] == '/' {
		return rest[i:], true
	}
	return rootPath, true
}

// rootPath is the path of an absolute-form target without one.
var rootPath = []byte{'/'}

// routeFor maps a path, query included, to its route. The query does not
// take part; an empty path (possible in absolute-form only) is "/", as RFC
// 9112 §3.2.1 has clients send it in origin-form.
func routeFor(pathAndQuery []byte) route {
	path := pathAndQuery
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	switch string(path) {
	case "/", "":
		return routeHello
	case "/echo":
		return routeEcho
	}
	return routeNotFound
}

// parseField parses one field line, name ":" OWS value OWS (RFC 9112 §5),
// and records the fields that frame the message or steer the connection.
func (h *requestHead) parseField(line []byte) *protocolError {
	name, value, err := splitField(line)
	if err != nil {
		return err
	}
	switch {
	case equalFold(name, "content-length"):
		if h.contentLength >= 0 {
			// Identical repeats are legal (RFC 9110 §8.6) but have no
			// use; refusing them leaves nothing to disagree about.
			return errDuplicateLength
		}
		n, ok := parseContentLength(value)
		if !ok {
			return errContentLength
		}
		h.contentLength = n
	case equalFold(name, "transfer-encoding"):
		h.transfer = true
		h.parseTransferCodings(value)
	case equalFold(name, "connection"):
		forEachListElement(value, func(option []byte) {
			switch {
			case equalFold(option, "close"):
				h.connClose = true
			case equalFold(option, "keep-alive"):
				h.connKeepAlive = true
			}
		})
	case equalFold(name, "expect"):
		h.expectation = true
		if !equalFold(value, "100-continue") {
			h.expectOther = true
		}
	case equalFold(name, "host"):
		h.hosts++
		if h.hosts > 1 {
			return errDuplicateHost
		}
		if !isHostValue(value) {
			return errHost
		}
	}
	return nil
}

// splitField splits a field line into its name and its value without the
// surrounding whitespace, checking both.
func splitField(line []byte) (name, value []byte, err *protocolError) {
	if line[0] == ' ' || line[0] == '\t' {
		// obs-fold (RFC 9112 §5.2), or whitespace between the request
		// line and the first field (§2.2): both refused with 400.
		return nil, nil, errObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, errFieldName
	}
	name = line[:colon]
	if !isToken(name) {
		// Also refuses whitespace between name and colon (§5.1).
		return nil, nil, errFieldName
	}
	value = line[colon+1:]
	for _, c := range value {
		if !isFieldValueByte[c] {
			return nil, nil, errFieldValue
		}
	}
	return name, trimWhitespace(value), nil
}

// parseTransferCodings records the codings of one Transfer-Encoding field.
// Only chunked is supported, and only once.
func (h *requestHead) parseTransferCodings(value []byte) {
	forEachListElement(value, func(coding []byte) {
		switch {
		case !equalFold(coding, "chunked"):
			h.otherCoding = true
		case h.chunked:
			h.twiceChunked = true
		default:
			h.chunked = true
		}
	})
}

// finish checks the head as a whole, once its last field is in, and decides
// whether the connection stays open. The order of the checks decides which
// status a request with several faults gets: message framing first, since
// it is what request smuggling plays on.
func (h *requestHead) finish() *protocolError {
	switch {
	case h.transfer && h.contentLength >= 0:
		// RFC 9112 §6.3 lets a server ignore Content-Length here; refusing
		// is the safe choice when a proxy in front might not.
		return errLengthAndChunked
	case h.transfer && h.minor == 0:
		// §6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
		// framing.
		return errTransferOnHTTP10
	case h.otherCoding:
		return errUnsupportedCoding
	case h.twiceChunked:
		return errChunkedTwice
	case h.transfer && !h.chunked:
		return errEmptyTransfer
	case h.minor == 1 && h.hosts == 0:
		return errMissingHost
	case h.connect:
		return errConnect
	case h.expectation && h.expectOther && h.minor >= 1:
		return errExpectation
	}
	if h.minor == 0 {
		h.keepAlive = h.connKeepAlive && !h.connClose
	} else {
		h.keepAlive = !h.connClose
	}
	return nil
}

// parseContentLength parses 1*DIGIT; values past 2^62 are refused rather
// than wrapped.
func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) || n > (1<<62)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// forEachListElement calls fn for each non-empty element of a
// comma-separated field value, without its surrounding whitespace (RFC 9110
// §5.6.1: empty elements are ignored).
func forEachListElement(value []byte, fn func(element []byte)) {
	for len(value) > 0 {
		var element []byte
		if i := bytes.IndexByte(value, ','); i >= 0 {
			element, value = value[:i], value[i+1:]
		} else {
			element, value = value, nil
		}
		if element = trimWhitespace(element); len(element) > 0 {
			fn(element)
		}
	}
}

// isHostValue checks a Host value for the characters of uri-host [":" port]
// (RFC 3986: reg-name, IP-literal, percent-encoding). An empty Host is
// valid (RFC 9112 §3.2).
func isHostValue(v []byte) bool {
	for _, c := range v {
		if !isHostByte[c] {
			return false
		}
	}
	return true
}

func trimWhitespace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with lower, which is lower case, ignoring the case of
// ASCII letters in b.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTokenByte[c] {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// Byte classes, as lookup tables because the parser asks per byte.
var (
	// isTokenByte: tchar (RFC 9110 §5.6.2).
	isTokenByte = byteClass(func(c byte) bool {
		return isAlpha(c) || isDigit(c) || c != 0 && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
	})
	// isFieldValueByte: field-vchar, SP and HTAB (RFC 9110 §5.5). NUL, CR,
	// LF and the other controls are refused, as §5.5 allows.
	isFieldValueByte = byteClass(func(c byte) bool { return c == '\t' || c >= ' ' && c != 0x7f })
	// isTargetByte: the visible ASCII a URI may hold, without '#', which
	// a request-target never carries (RFC 9112 §3.2).
	isTargetByte = byteClass(func(c byte) bool { return c > ' ' && c < 0x7f && c != '#' })
	// isHostByte: unreserved, sub-delims, ':', '[', ']' and '%' (RFC 3986).
	isHostByte = byteClass(func(c byte) bool {
		return isAlpha(c) || isDigit(c) || c != 0 && bytes.IndexByte([]byte("-._~!$&'()*+,;=:[]%"), c) >= 0
	})
)

func byteClass(member func(c byte) bool) (table [256]bool) {
	for i := range table {
		table[i] = member(byte(i))
	}
	return table
}
