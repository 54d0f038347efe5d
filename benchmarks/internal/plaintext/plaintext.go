// Package plaintext is the HTTP/1.1 side of the benchmark servers that have
// no HTTP stack of their own (evio, tidwall/evio, gnet): it finds request
// boundaries in a byte stream, so pipelined requests are answered one by
// one, and appends the TechEmpower plaintext response for each.
//
// It parses only what framing needs: the end of the header block, a
// Content-Length body to skip, and whether the client asked to close. The
// response bytes are the same as those of the net/http and fasthttp servers
// (the same four headers, in a different order there) and of the C floor.
package plaintext

import (
	"bytes"
	"errors"
	"sync/atomic"
	"time"
)

// Body is the response body every HTTP server in the harness sends.
const Body = "Hello, World!"

// ServerName is the Server header value every HTTP server sends, so that all
// responses have the same length.
const ServerName = "bench"

// ContentType is the Content-Type header value every HTTP server sends.
const ContentType = "text/plain"

// MaxHeader bounds a request's header block; a client that sends more
// without a blank line is cut off rather than buffered without end.
const MaxHeader = 64 << 10

// ErrTooLarge reports a header block longer than MaxHeader.
var ErrTooLarge = errors.New("plaintext: request header too large")

// ErrBadRequest reports a request that cannot be framed.
var ErrBadRequest = errors.New("plaintext: malformed request")

// date holds the current Date header value, refreshed once a second by the
// clock goroutine, as fasthttp and the TechEmpower rules do: formatting a
// date per request would measure time.Format, not the network layer.
var date atomic.Pointer[[]byte]

func init() {
	refreshDate()
	go func() {
		for range time.Tick(time.Second) {
			refreshDate()
		}
	}()
}

func refreshDate() {
	b := time.Now().UTC().AppendFormat(nil, "Mon, 02 Jan 2006 15:04:05 GMT")
	date.Store(&b)
}

// AppendResponse appends one plaintext response; with closeConn it carries
// "Connection: close", as net/http and fasthttp send when they are about to
// close.
func AppendResponse(dst []byte, closeConn bool) []byte {
	dst = append(dst, "HTTP/1.1 200 OK\r\nServer: "+ServerName+"\r\nDate: "...)
	dst = append(dst, *date.Load()...)
	dst = append(dst, "\r\nContent-Type: "+ContentType+"\r\nContent-Length: 13\r\n"...)
	if closeConn {
		dst = append(dst, "Connection: close\r\n"...)
	}
	return append(dst, "\r\n"+Body...)
}

// Serve answers every complete request at the front of data. It returns
// the output with one response per request appended to dst, how many bytes
// of data those requests took, and whether the connection must be closed
// after the output is written (the client asked for it, or the stream is
// malformed; err then says why, and no response is owed for it). The bytes
// after consumed are an incomplete request to keep for the next read.
func Serve(dst, data []byte) (out []byte, consumed int, closeConn bool, err error) {
	out = dst
	for consumed < len(data) {
		n, reqClose, err := frame(data[consumed:])
		if err != nil {
			return out, consumed, true, err
		}
		if n == 0 {
			break
		}
		consumed += n
		out = AppendResponse(out, reqClose)
		if reqClose {
			// Whatever follows a request that closes the connection is
			// never answered: stop here.
			return out, len(data), true, nil
		}
	}
	return out, consumed, false, nil
}

var crlfcrlf = []byte("\r\n\r\n")

// frame returns the length of the request at the front of data, 0 if it is
// not complete yet, and whether it asks to close the connection.
func frame(data []byte) (n int, closeConn bool, err error) {
	end := bytes.Index(data, crlfcrlf)
	if end < 0 {
		if len(data) > MaxHeader {
			return 0, false, ErrTooLarge
		}
		return 0, false, nil
	}
	head := data[:end+2] // request line and header lines, each ending in CRLF
	line := bytes.IndexByte(head, '\n')
	if line < 0 {
		return 0, false, ErrBadRequest
	}
	// HTTP/1.0 closes unless it asks to keep alive; HTTP/1.1 the reverse.
	closeConn = bytes.HasSuffix(head[:line], []byte("HTTP/1.0\r"))
	bodyLen := 0
	for rest := head[line+1:]; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		h := rest[:i]
		rest = rest[i+1:]
		// Only Connection and Content-Length matter; both start with c.
		if len(h) == 0 || h[0]|0x20 != 'c' {
			continue
		}
		if v, ok := headerValue(h, "connection"); ok {
			switch {
			case asciiEqualFold(v, "close"):
				closeConn = true
			case asciiEqualFold(v, "keep-alive"):
				closeConn = false
			}
		} else if v, ok := headerValue(h, "content-length"); ok {
			bodyLen = 0
			for _, c := range v {
				if c < '0' || c > '9' || bodyLen > MaxHeader {
					return 0, false, ErrBadRequest
				}
				bodyLen = bodyLen*10 + int(c-'0')
			}
		}
	}
	n = end + 4 + bodyLen
	if n > len(data) {
		return 0, false, nil
	}
	return n, closeConn, nil
}

// headerValue returns the trimmed value of header line h (without its
// LF, perhaps with its CR) when its name is name, compared without case.
func headerValue(h []byte, name string) ([]byte, bool) {
	if len(h) <= len(name) || h[len(name)] != ':' || !asciiEqualFold(h[:len(name)], name) {
		return nil, false
	}
	return bytes.TrimSpace(h[len(name)+1:]), true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != s[i]|0x20 {
			return false
		}
	}
	return true
}
