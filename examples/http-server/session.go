package main

// handlerSettings are what every connection of a server shares. maxBody and
// timeouts are immutable; clock is safe for concurrent use.
type handlerSettings struct {
	maxBody  int64
	timeouts timeouts
	clock    *httpClock
}

// sessionState is what a session expects next from its peer.
type sessionState uint8

const (
	awaitingHead   sessionState = iota // a request line, or empty lines before it
	readingBody                        // the rest of a Content-Length body
	readingChunked                     // the rest of a chunked body
	closing                            // a response ended the connection: input is dropped
)

// Buffer sizes.
const (
	// maxKeptBuffer bounds the capacity an idle session keeps for its body
	// and output buffers; a larger one (from a big /echo) is dropped after
	// use, so an idle connection does not pin megabytes.
	maxKeptBuffer = 64 << 10
	// pendingTopUp is how many bytes of a new read are joined to a kept
	// partial element before parsing. It exceeds every element limit, so a
	// kept element either completes or is refused within it, and the rest
	// of the read is parsed in place, without copying.
	pendingTopUp = maxHeadBytes + 1
)

// session is the HTTP/1.x state of one connection. It lives in the
// connection's Context and is used by that connection's events only, so it
// needs no locking.
//
// Input is parsed where it lies whenever possible: the Data event's in
// (valid only during the event, with ReuseInputBuffer) is parsed in place,
// and only an unfinished element (a partial head, chunk-size line or
// trailer line, at most a few KiB by the limits in parser.go) is copied to
// pending for the next event. Body bytes are consumed as they arrive and
// copied only when /echo needs them.
type session struct {
	settings *handlerSettings
	state    sessionState
	head     requestHead
	chunks   chunkedDecoder
	bodyLeft int64  // bytes of a Content-Length body still to come
	body     []byte // the body received so far; kept for /echo only
	pending  []byte // the unfinished element kept from the last event
	out      []byte // responses of the current event; reused across events
	// moreInput is set while pending is parsed with only part of the
	// event's input joined to it: the end of pending is not the end of
	// what has arrived.
	moreInput bool

	// timer is the connection's one timer, for whichever timeout runs
	// (timeout.go); nil when every timeout is off. It is reset as the
	// session moves between waiting for a request, a head and a body,
	// never replaced, so a request costs no allocation for it.
	timer connTimer
	// answered counts the responses the session has produced, so that arm
	// can tell a request was answered during an event.
	answered uint32
	// drainPolling is set while the keep-alive timer waits for the
	// responses to be written before it starts counting (expire).
	drainPolling bool
}

func newSession(settings *handlerSettings) *session {
	s := &session{settings: settings}
	s.head.reset()
	return s
}

// serve handles the bytes of one Data event: it answers every request they
// complete, in order, and returns the responses as one slice, valid until
// the next call (the server copies it). closeAfter asks the server to close
// the connection once the responses are written. It then sets the
// connection's timer for what the session waits for next.
func (s *session) serve(in []byte) (out []byte, closeAfter bool) {
	before, answered := s.waiting(), s.answered
	out, closeAfter = s.serveInput(in)
	s.arm(before, s.answered != answered)
	return out, closeAfter
}

// serveInput is serve without the timer.
func (s *session) serveInput(in []byte) (out []byte, closeAfter bool) {
	if cap(s.out) > maxKeptBuffer {
		s.out = nil
	}
	s.out = s.out[:0]
	if s.state == closing {
		return nil, true
	}
	if kept := len(s.pending); kept > 0 {
		n := len(in)
		if n > pendingTopUp {
			n = pendingTopUp
		}
		s.pending = append(s.pending, in[:n]...)
		s.moreInput = n < len(in)
		consumed := s.process(s.pending)
		s.moreInput = false
		if consumed < kept && n < len(in) {
			// The limits make this unreachable; joining all of in
			// keeps it correct regardless.
			s.pending = append(s.pending, in[n:]...)
			consumed = s.process(s.pending)
			s.keep(s.pending[consumed:])
			return s.out, s.state == closing
		}
		if consumed < kept {
			s.keep(s.pending[consumed:])
			return s.out, s.state == closing
		}
		in = in[consumed-kept:]
		s.pending = s.pending[:0]
	}
	consumed := s.process(in)
	s.keep(in[consumed:])
	return s.out, s.state == closing
}

// keep saves rest, the unfinished element at the end of the input, for the
// next event. rest may lie in s.pending itself: append copies with memmove
// semantics, so the overlap is safe.
func (s *session) keep(rest []byte) {
	s.pending = append(s.pending[:0], rest...)
}

// process consumes as much of data as it can and returns how much: all of
// it, unless an element at the end is unfinished. It appends a response to
// s.out for each request it completes and stops at the first refusal.
func (s *session) process(data []byte) int {
	pos := 0
	for {
		switch s.state {
		case awaitingHead:
			if s.head.scanned == 0 {
				// RFC 9112 §2.2: empty lines before a request line
				// are ignored (some clients send CRLF after a body).
				for len(data)-pos >= 2 && data[pos] == '\r' && data[pos+1] == '\n' {
					pos += 2
				}
				if len(data)-pos == 1 && data[pos] == '\r' {
					return pos
				}
			}
			if pos == len(data) {
				return pos
			}
			n, err := s.head.parse(data[pos:])
			if err != nil {
				s.fail(err)
				return len(data)
			}
			if n == 0 {
				return pos
			}
			pos += n
			s.startBody(pos == len(data) && !s.moreInput)
		case readingBody:
			available := int64(len(data) - pos)
			if available == 0 {
				return pos
			}
			take := s.bodyLeft
			if take > available {
				take = available
			}
			piece := data[pos : pos+int(take)]
			pos += int(take)
			s.bodyLeft -= take
			switch {
			case s.bodyLeft > 0:
				s.keepBody(piece)
			case take == s.head.contentLength:
				// The whole body came with this event: answer from
				// the input, without a copy into s.body.
				s.respond(piece)
			default:
				s.keepBody(piece)
				s.respond(s.body)
			}
		case readingChunked:
			n, piece, done, err := s.chunks.next(data[pos:])
			if err != nil {
				s.fail(err)
				return len(data)
			}
			pos += n
			s.keepBody(piece)
			if done {
				s.respond(s.body)
			} else if n == 0 {
				return pos
			}
		default: // closing
			return len(data)
		}
	}
}

// startBody sets up reading the body of the request whose head was just
// parsed, or answers it at once when it has none. bodyNotArrived tells
// whether the input ended with the head.
func (s *session) startBody(bodyNotArrived bool) {
	h := &s.head
	switch {
	case h.chunked:
		s.chunks.reset(s.settings.maxBody)
		s.state = readingChunked
	case h.contentLength > s.settings.maxBody:
		// Refused on the declaration: nothing is read or allocated.
		s.fail(errBodyTooLarge)
		return
	case h.contentLength > 0:
		s.bodyLeft = h.contentLength
		s.state = readingBody
	default:
		s.respond(nil)
		return
	}
	// RFC 9110 §10.1.1: a client that sent 100-continue waits for it (or
	// for a timeout) before sending the body. Once some of the body is
	// here, the client has stopped waiting.
	if h.expectContinue() && bodyNotArrived {
		s.out = append(s.out, continueLine...)
	}
}

// keepBody adds a piece of the body to s.body when the route answers with
// it; other routes drop bodies unread.
func (s *session) keepBody(piece []byte) {
	if s.head.route == routeEcho && len(piece) > 0 {
		s.body = append(s.body, piece...)
	}
}

// respond appends the response to the request that just completed, body
// being its body for /echo, then readies the session for the next request.
func (s *session) respond(body []byte) {
	h := &s.head
	conn := connectionDefault
	switch {
	case !h.keepAlive:
		conn = connectionClose
	case h.minor == 0:
		conn = connectionKeepAlive
	}
	s.answered++
	date := s.settings.clock.date()
	switch h.route {
	case routeHello:
		s.out = appendResponseHead(s.out, date, 200, textPlain, len(helloBody), conn)
		if !h.isHEAD {
			s.out = append(s.out, helloBody...)
		}
	case routeEcho:
		s.out = appendResponseHead(s.out, date, 200, octetStream, len(body), conn)
		if !h.isHEAD {
			s.out = append(s.out, body...)
		}
	case routeServer:
		s.out = appendResponseHead(s.out, date, 200, textPlain, 0, conn)
	default:
		s.out = appendResponseHead(s.out, date, 404, textPlain, len(notFoundBody), conn)
		if !h.isHEAD {
			s.out = append(s.out, notFoundBody...)
		}
	}
	if !h.keepAlive {
		s.state = closing
		return
	}
	s.state = awaitingHead
	s.head.reset()
	if cap(s.body) > maxKeptBuffer {
		s.body = nil
	}
	s.body = s.body[:0]
}

// fail appends the response that refuses a request and makes the session
// drop everything after it: the connection is closed once the responses are
// written. Requests answered earlier in the same input keep their
// responses, ahead of this one.
func (s *session) fail(err *protocolError) {
	s.answered++
	s.out = appendResponseHead(s.out, s.settings.clock.date(), err.status, textPlain, len(err.reason)+1, connectionClose)
	if !s.head.isHEAD {
		s.out = append(s.out, err.reason...)
		s.out = append(s.out, '\n')
	}
	s.state = closing
	s.body = nil
}
