package main

import "bytes"

// Why a chunked body is refused.
var (
	errChunkSize        = &protocolError{400, "malformed chunk size"}
	errChunkExtension   = &protocolError{400, "malformed chunk extension"}
	errChunkLineTooLong = &protocolError{400, "chunk-size line too long"}
	errChunkDataEnd     = &protocolError{400, "chunk data not followed by CRLF"}
	errTrailerTooLarge  = &protocolError{431, "trailer section too large"}
)

// chunkState is where a chunkedDecoder is in the body (RFC 9112 §7.1):
//
//	chunked-body = *chunk last-chunk trailer-section CRLF
//	chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
type chunkState uint8

const (
	chunkSizeLine chunkState = iota // expecting chunk-size [chunk-ext] CRLF
	chunkData                       // inside chunk-data
	chunkDataEnd                    // expecting the CRLF after chunk-data
	chunkTrailer                    // expecting a trailer field or the final CRLF
	chunkDone                       // the body is complete
)

// chunkedDecoder decodes a chunked body as it arrives, in pieces of any
// size. It consumes whole lines only and never buffers: the caller keeps the
// bytes of an unfinished line and offers them again with what follows. The
// size a chunk declares is checked against limit before any of its data is
// taken, and nothing is allocated from it.
type chunkedDecoder struct {
	state        chunkState
	remaining    int64 // bytes of the current chunk's data still to come
	total        int64 // decoded bytes so far
	limit        int64 // most decoded bytes accepted
	trailerBytes int   // bytes of trailer section so far
}

func (d *chunkedDecoder) reset(limit int64) { *d = chunkedDecoder{limit: limit} }

// next decodes one step from the start of data: a line, or a piece of chunk
// data, which it returns as a slice of data. consumed == 0 (and no error)
// means data holds no whole step: call again with more. done reports that
// the body, trailers included, is complete.
func (d *chunkedDecoder) next(data []byte) (consumed int, piece []byte, done bool, err *protocolError) {
	switch d.state {
	case chunkData:
		n := int64(len(data))
		if n > d.remaining {
			n = d.remaining
		}
		d.remaining -= n
		d.total += n
		if d.remaining == 0 {
			d.state = chunkDataEnd
		}
		return int(n), data[:n], false, nil
	case chunkDataEnd:
		if len(data) < 2 {
			if len(data) == 1 && data[0] != '\r' {
				return 0, nil, false, errChunkDataEnd
			}
			return 0, nil, false, nil
		}
		if data[0] != '\r' || data[1] != '\n' {
			return 0, nil, false, errChunkDataEnd
		}
		d.state = chunkSizeLine
		return 2, nil, false, nil
	case chunkSizeLine:
		line, n, err := nextLine(data, maxChunkLineBytes, errChunkLineTooLong)
		if n == 0 || err != nil {
			return 0, nil, false, err
		}
		size, err := parseChunkSizeLine(line)
		if err != nil {
			return 0, nil, false, err
		}
		if size == 0 {
			d.state = chunkTrailer
		} else if size > d.limit-d.total {
			// Refused on the declaration, before any data is read.
			return 0, nil, false, errBodyTooLarge
		} else {
			d.state, d.remaining = chunkData, size
		}
		return n, nil, false, nil
	case chunkTrailer:
		line, n, err := nextLine(data, maxTrailerBytes-d.trailerBytes, errTrailerTooLarge)
		if n == 0 || err != nil {
			return 0, nil, false, err
		}
		d.trailerBytes += n
		if len(line) == 0 {
			d.state = chunkDone
			return n, nil, true, nil
		}
		// Trailer fields follow the header field rules (RFC 9112 §7.1.2);
		// this server has no use for them, so they are checked and
		// dropped.
		if _, _, err := splitField(line); err != nil {
			return 0, nil, false, err
		}
		return n, nil, false, nil
	}
	return 0, nil, true, nil
}

// nextLine returns the line at the start of data without its CRLF, and the
// length consumed with the CRLF; n == 0 when the line has not ended yet. A
// line longer than limit, ended or not, is refused with tooLong.
func nextLine(data []byte, limit int, tooLong *protocolError) (line []byte, n int, err *protocolError) {
	i := bytes.IndexByte(data, '\n')
	if i < 0 {
		if len(data) > limit {
			return nil, 0, tooLong
		}
		return nil, 0, nil
	}
	if i+1 > limit {
		return nil, 0, tooLong
	}
	if i == 0 || data[i-1] != '\r' {
		return nil, 0, errBareLF
	}
	return data[:i-1], i + 1, nil
}

// parseChunkSizeLine parses chunk-size [ chunk-ext ]:
//
//	chunk-size     = 1*HEXDIG
//	chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-name = token
//	chunk-ext-val  = token / quoted-string
//
// Extensions are checked and ignored. Sizes past 2^60 are refused rather
// than wrapped.
func parseChunkSizeLine(line []byte) (int64, *protocolError) {
	var size int64
	i := 0
	for ; i < len(line); i++ {
		digit, ok := hexValue(line[i])
		if !ok {
			break
		}
		if size >= 1<<56 {
			return 0, errChunkSize
		}
		size = size<<4 | int64(digit)
	}
	if i == 0 {
		return 0, errChunkSize
	}
	if !isChunkExtensions(line[i:]) {
		return 0, errChunkExtension
	}
	return size, nil
}

// isChunkExtensions reports whether ext is a well-formed chunk-ext.
func isChunkExtensions(ext []byte) bool {
	for {
		ext = skipWhitespace(ext)
		if len(ext) == 0 {
			// Trailing whitespace without a ";" is not in the grammar;
			// it is accepted as BWS since it cannot change where the
			// line ends.
			return true
		}
		if ext[0] != ';' {
			return false
		}
		ext = skipWhitespace(ext[1:])
		name := tokenPrefix(ext)
		if name == 0 {
			return false
		}
		ext = skipWhitespace(ext[name:])
		if len(ext) == 0 || ext[0] != '=' {
			continue
		}
		ext = skipWhitespace(ext[1:])
		if len(ext) > 0 && ext[0] == '"' {
			n := quotedStringLength(ext)
			if n == 0 {
				return false
			}
			ext = ext[n:]
			continue
		}
		value := tokenPrefix(ext)
		if value == 0 {
			return false
		}
		ext = ext[value:]
	}
}

// tokenPrefix is the length of the token at the start of b.
func tokenPrefix(b []byte) int {
	n := 0
	for n < len(b) && isTokenByte[b[n]] {
		n++
	}
	return n
}

// quotedStringLength is the length of the quoted-string (RFC 9110 §5.6.4)
// at the start of b, quotes included, or 0 if b does not start with one.
func quotedStringLength(b []byte) int {
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			// quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
			i++
			if i == len(b) || !isFieldValueByte[b[i]] {
				return 0
			}
		case !isFieldValueByte[c]:
			// qdtext is field-vchar, SP and HTAB except '"' and '\'.
			return 0
		}
	}
	return 0
}

func skipWhitespace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
