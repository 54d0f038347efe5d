package main

import "time"

// Default timeouts, as nginx names them. Each flag takes a duration; zero
// or a negative value turns that timeout off.
const (
	// defaultHeaderTimeout (-header-timeout, nginx's client_header_timeout)
	// bounds the time from the first byte of a request head to its end. A
	// head is one or two TCP segments, so a real client sends it within a
	// round trip; 10 s still leaves room for three lost segments in a row
	// (retransmitted after 1, 2 and 4 s), and holds a slowloris client,
	// which keeps connections open by dribbling a head, to 10 s a
	// connection instead of nginx's 60.
	defaultHeaderTimeout = 10 * time.Second
	// defaultBodyTimeout (-body-timeout, nginx's client_body_timeout) is
	// the longest pause between two reads of a request body, not a bound
	// on the whole body: a large upload over a slow link is fine as long
	// as it keeps moving. nginx's 60 s.
	defaultBodyTimeout = 60 * time.Second
	// defaultKeepAliveTimeout (-keepalive-timeout, nginx's
	// keepalive_timeout) is how long a connection may sit between requests
	// before the server closes it: long enough for a browser's next click
	// to reuse it, short enough that idle clients do not pin descriptors.
	// nginx's 75 s.
	defaultKeepAliveTimeout = 75 * time.Second
)

// timeouts are the three timeouts of a connection; a value that is not
// positive turns that one off.
type timeouts struct {
	header    time.Duration // first byte of a request head to its end
	body      time.Duration // between two reads of a request body
	keepAlive time.Duration // between requests, nothing being written
}

// enabled reports whether any timeout is on: otherwise a connection needs
// no timer at all.
func (t timeouts) enabled() bool { return t.header > 0 || t.body > 0 || t.keepAlive > 0 }

// maxDrainPoll bounds how often the keep-alive timer looks again at a
// connection whose responses are still being written (see expire).
const maxDrainPoll = time.Second

// A request that did not arrive in time is answered with 408 and the
// connection closed (RFC 9110 §15.5.9). Two reasons, so that a client can
// tell which part stalled.
var (
	errHeadTimeout = &protocolError{408, "request head not received in time"}
	errBodyTimeout = &protocolError{408, "request body stalled"}
)

// connTimer is the one timer of a connection, an *evio.Timer from
// Conn.AfterFunc (an interface so that tests can watch the session set
// it). Reset and Stop run on the connection's loop, from its events.
type connTimer interface {
	Reset(d time.Duration) bool
	Stop() bool
}

// waiting is what a session is waiting for from its peer, which decides
// which timeout runs.
type waiting uint8

const (
	waitingNothing waiting = iota // closing: no timeout
	waitingRequest                // between requests: the keep-alive timeout
	waitingHead                   // the rest of a started head: the header timeout
	waitingBody                   // more of a body: the body timeout
)

// waiting tells what the session waits for now.
func (s *session) waiting() waiting {
	switch s.state {
	case readingBody, readingChunked:
		return waitingBody
	case closing:
		return waitingNothing
	}
	// awaitingHead. Empty lines before a request line are ignored (RFC
	// 9112 §2.2), so a kept lone CR, the start of one, has not begun a
	// request; any other kept byte is the start of a head.
	if n := len(s.pending); n == 0 || n == 1 && s.pending[0] == '\r' {
		return waitingRequest
	}
	return waitingHead
}

// arm sets the connection's timer for what the session waits for after an
// event, given what it waited for before it and whether it answered a
// request (or refused one) during it. The header timeout runs from the
// first byte of a head and is not moved by the rest of it, so dribbling a
// head does not extend it; the body timeout restarts with every read of
// the body (each Data event in waitingBody brought body bytes); the
// keep-alive timeout starts when the connection becomes idle, and empty
// lines do not restart it. It neither allocates nor makes a system call:
// a Reset moves the connection's entry in its loop's timer heap.
func (s *session) arm(before waiting, answered bool) {
	if s.timer == nil {
		return
	}
	now := s.waiting()
	t := &s.settings.timeouts
	switch {
	case now == waitingNothing:
		s.timer.Stop()
	case now == waitingBody:
		s.setTimer(t.body)
	case now != before || answered:
		if now == waitingHead {
			s.setTimer(t.header)
		} else {
			s.setTimer(t.keepAlive)
		}
	}
}

// setTimer makes the timer fire after d, or stops it when d turns this
// timeout off.
func (s *session) setTimer(d time.Duration) {
	s.drainPolling = false
	if d <= 0 {
		s.timer.Stop()
		return
	}
	s.timer.Reset(d)
}

// expire is the timer firing: the timeout of what the session waits for
// has passed. queued is how much of the responses the connection's socket
// has not taken yet. It returns what to write and whether to close after
// it, as serve does.
//
// A started head or a stalled body is answered with 408 and the
// connection closed. An idle connection is closed without a word, unless
// its last responses are still being written: the keep-alive timeout
// counts from when nothing is being written, as nginx starts it once the
// response has gone. Polling for that moment costs a slow reader one timer
// event per drainPoll, and nothing on the path of a request.
func (s *session) expire(queued int) (out []byte, closeAfter bool) {
	switch s.waiting() {
	case waitingRequest:
		if queued > 0 {
			s.timer.Reset(drainPoll(s.settings.timeouts.keepAlive))
			s.drainPolling = true
			return nil, false
		}
		if s.drainPolling {
			// The output went within the last poll interval: the
			// connection has been idle since then, not for a whole
			// keep-alive timeout.
			s.drainPolling = false
			s.timer.Reset(s.settings.timeouts.keepAlive)
			return nil, false
		}
		s.state = closing
		return nil, true
	case waitingHead:
		return s.refuse(errHeadTimeout), true
	case waitingBody:
		return s.refuse(errBodyTimeout), true
	}
	return nil, true // closing already: the close is under way
}

// drainPoll is how often an idle connection whose output is still queued
// is looked at again: a fraction of the keep-alive timeout, so that the
// connection is closed between one and one and a quarter keep-alive
// timeouts after its output went, and at most maxDrainPoll.
func drainPoll(keepAlive time.Duration) time.Duration {
	d := keepAlive / 4
	if d > maxDrainPoll {
		d = maxDrainPoll
	}
	if d <= 0 {
		d = 1
	}
	return d
}

// refuse answers with err outside of serve, from a timer: it returns the
// response, the session closing after it.
func (s *session) refuse(err *protocolError) []byte {
	s.out = s.out[:0]
	s.fail(err)
	return s.out
}
