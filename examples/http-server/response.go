package main

import (
	"strconv"
	"sync/atomic"
	"time"
)

// httpDateLayout is net/http's TimeFormat (RFC 9110 §5.6.7, IMF-fixdate),
// repeated here so that the server does not link net/http for a constant;
// a test checks the two agree.
const httpDateLayout = "Mon, 02 Jan 2006 15:04:05 GMT"

// httpDate is one formatted Date value.
type httpDate [len(httpDateLayout)]byte

// httpClock holds the current Date header value. Tick refreshes it once per
// second on one loop while every loop reads it, so the value is swapped
// atomically as a whole and never written in place.
type httpClock struct {
	current atomic.Pointer[httpDate]
	// shownSecond is the Unix second current shows; only update, which
	// Tick alone calls, uses it.
	shownSecond int64
}

func newHTTPClock(now time.Time) *httpClock {
	c := &httpClock{}
	c.set(now)
	return c
}

// update refreshes the Date value if now is in another second than the one
// shown. Not safe for concurrent use with itself (Tick runs on one loop).
func (c *httpClock) update(now time.Time) {
	if now.Unix() != c.shownSecond {
		c.set(now)
	}
}

func (c *httpClock) set(now time.Time) {
	var d httpDate
	copy(d[:], now.UTC().AppendFormat(make([]byte, 0, len(d)), httpDateLayout))
	c.current.Store(&d)
	c.shownSecond = now.Unix()
}

// date returns the Date value to send; safe from any goroutine.
func (c *httpClock) date() *httpDate { return c.current.Load() }

// Response bodies and content types of the routes.
const (
	helloBody       = "Hello, World!"
	textPlain       = "text/plain; charset=utf-8"
	octetStream     = "application/octet-stream"
	continueLine    = "HTTP/1.1 100 Continue\r\n\r\n"
	notFoundBody    = "404 page not found\n"
	serverFieldLine = "Server: evio\r\n"
)

// statusLine returns the status line of an HTTP/1.1 response; this server
// always answers as HTTP/1.1, whatever 1.x the request used (RFC 9110
// §6.2).
func statusLine(status int) string {
	switch status {
	case 200:
		return "HTTP/1.1 200 OK\r\n"
	case 400:
		return "HTTP/1.1 400 Bad Request\r\n"
	case 404:
		return "HTTP/1.1 404 Not Found\r\n"
	case 408:
		return "HTTP/1.1 408 Request Timeout\r\n"
	case 413:
		return "HTTP/1.1 413 Content Too Large\r\n"
	case 414:
		return "HTTP/1.1 414 URI Too Long\r\n"
	case 417:
		return "HTTP/1.1 417 Expectation Failed\r\n"
	case 431:
		return "HTTP/1.1 431 Request Header Fields Too Large\r\n"
	case 501:
		return "HTTP/1.1 501 Not Implemented\r\n"
	case 505:
		return "HTTP/1.1 505 HTTP Version Not Supported\r\n"
	}
	return "HTTP/1.1 500 Internal Server Error\r\n"
}

// connectionField tells the client what happens to the connection after a
// response: nothing to say for HTTP/1.1 keep-alive (the default), keep-alive
// for an HTTP/1.0 client that asked for it, close otherwise.
type connectionField uint8

const (
	connectionDefault connectionField = iota
	connectionKeepAlive
	connectionClose
)

// appendResponseHead appends a response's status line and header section
// to out and returns it; the caller appends the body (none for HEAD, whose
// Content-Length still gives the length a GET would get, RFC 9110 §9.3.2).
// It allocates only when out has to grow.
func appendResponseHead(out []byte, date *httpDate, status int, contentType string, contentLength int, conn connectionField) []byte {
	out = append(out, statusLine(status)...)
	out = append(out, serverFieldLine...)
	out = append(out, "Date: "...)
	out = append(out, date[:]...)
	out = append(out, "\r\nContent-Type: "...)
	out = append(out, contentType...)
	out = append(out, "\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(contentLength), 10)
	switch conn {
	case connectionKeepAlive:
		out = append(out, "\r\nConnection: keep-alive"...)
	case connectionClose:
		out = append(out, "\r\nConnection: close"...)
	}
	return append(out, "\r\n\r\n"...)
}
