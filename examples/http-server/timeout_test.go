package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

// Timeouts at the session level, with a fake timer: which timeout runs
// after each event, and what expiring does. The raw-socket tests in
// timeout_raw_test.go check the same against a running server and a clock.

// Distinct durations, so that the fake timer shows which timeout was set.
var unitTimeouts = timeouts{header: 1 * time.Second, body: 2 * time.Second, keepAlive: 3 * time.Second}

// fakeTimer records what a session does with its timer.
type fakeTimer struct {
	pending bool
	d       time.Duration // of the last Reset
	resets  int
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	was := t.pending
	t.pending, t.d = true, d
	t.resets++
	return was
}

func (t *fakeTimer) Stop() bool {
	was := t.pending
	t.pending = false
	return was
}

// newTimedSession is a session with timeouts t and a fake timer, set up as
// Opened does: waiting for its first request.
func newTimedSession(t timeouts) (*session, *fakeTimer) {
	settings := testSettings(1 << 20)
	settings.timeouts = t
	s := newSession(settings)
	timer := &fakeTimer{}
	s.timer = timer
	if t.keepAlive > 0 {
		timer.Reset(t.keepAlive)
	}
	return s, timer
}

// TestSessionArmsTimeouts feeds a session event by event and checks the
// timer after each: which timeout runs, and that the header timeout is not
// moved by the rest of a head.
func TestSessionArmsTimeouts(t *testing.T) {
	s, timer := newTimedSession(unitTimeouts)
	step := func(name, in string, want waiting, d time.Duration, reset bool) {
		t.Helper()
		resets := timer.resets
		s.serve([]byte(in))
		if got := s.waiting(); got != want {
			t.Fatalf("%s: waiting %d, want %d", name, got, want)
		}
		if reset != (timer.resets > resets) {
			t.Fatalf("%s: timer reset %v, want %v", name, timer.resets > resets, reset)
		}
		if !timer.pending || timer.d != d {
			t.Fatalf("%s: timer pending %v for %v, want %v", name, timer.pending, timer.d, d)
		}
	}
	keepAlive, header, body := unitTimeouts.keepAlive, unitTimeouts.header, unitTimeouts.body
	step("empty line", "\r\n", waitingRequest, keepAlive, false)
	step("lone CR", "\r", waitingRequest, keepAlive, false)
	step("first head byte", "\nG", waitingHead, header, true)
	step("more of the head", "ET / HTTP/1.1\r\n", waitingHead, header, false)
	step("a field", "Host: a\r\n", waitingHead, header, false)
	step("end of head", "\r\n", waitingRequest, keepAlive, true)
	step("whole request", get("/"), waitingRequest, keepAlive, true)
	step("pipelined, last one started", get("/")+"GET", waitingHead, header, true)
	step("finished, next one started", " / HTTP/1.1\r\nHost: a\r\n\r\nG", waitingHead, header, true)
	step("head with a body to come", "ET /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n", waitingBody, body, true)
	step("some of the body", "ab", waitingBody, body, true)
	step("more of the body", "cd", waitingBody, body, true)
	step("body done", "ef", waitingRequest, keepAlive, true)
	step("chunked head", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", waitingBody, body, true)
	step("chunk", "3\r\nabc\r\n", waitingBody, body, true)
	step("trailer", "0\r\nT: v\r\n", waitingBody, body, true)
	step("end of trailers", "\r\n", waitingRequest, keepAlive, true)

	// Closing: no timeout runs while the close is under way.
	s.serve([]byte("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
	if s.waiting() != waitingNothing || timer.pending {
		t.Fatalf("after Connection: close: waiting %d, timer pending %v", s.waiting(), timer.pending)
	}
}

// TestSessionTimeoutsOff checks that a timeout that is not positive stops
// the timer instead of setting it.
func TestSessionTimeoutsOff(t *testing.T) {
	s, timer := newTimedSession(timeouts{header: time.Second})
	if timer.pending {
		t.Fatal("keep-alive timer set with the timeout off")
	}
	s.serve([]byte("POST /echo HTTP/1.1\r\nHost: a\r\n"))
	if !timer.pending || timer.d != time.Second {
		t.Fatalf("header timer pending %v for %v", timer.pending, timer.d)
	}
	s.serve([]byte("Content-Length: 2\r\n\r\n"))
	if timer.pending {
		t.Fatal("body timer set with the timeout off")
	}
	s.serve([]byte("ok"))
	if timer.pending {
		t.Fatal("keep-alive timer set with the timeout off")
	}
}

// TestSessionExpire checks what each timeout does when it passes: a
// started head or a stalled body gets 408 and a close, an idle connection
// a close alone.
func TestSessionExpire(t *testing.T) {
	cases := []struct {
		name, input string
		method      string // of the request the 408 answers
		reason      string // of the 408; "" for a silent close
	}{
		{"new connection", "", "", ""},
		{"after a response", get("/"), "", ""},
		{"after empty lines", get("/") + "\r\n\r\n\r", "", ""},
		{"partial request line", "GE", "GET", errHeadTimeout.reason},
		{"partial head", "GET / HTTP/1.1\r\nHost: a\r\n", "GET", errHeadTimeout.reason},
		{"partial HEAD head", "HEAD / HTTP/1.1\r\n", "HEAD", ""},
		{"after a response, next started", get("/") + "P", "GET", errHeadTimeout.reason},
		{"stalled body", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab", "POST", errBodyTimeout.reason},
		{"stalled chunked body", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "POST", errBodyTimeout.reason},
	}
	for _, tc := range cases {
		s, _ := newTimedSession(unitTimeouts)
		s.serve([]byte(tc.input))
		out, closeAfter := s.expire(0)
		if !closeAfter || s.waiting() != waitingNothing {
			t.Errorf("%s: close %v, waiting %d", tc.name, closeAfter, s.waiting())
			continue
		}
		if tc.method == "" {
			if len(out) != 0 {
				t.Errorf("%s: wrote %q, want nothing", tc.name, out)
			}
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(out)), &http.Request{Method: tc.method})
		if err != nil {
			t.Errorf("%s: %q: %v", tc.name, out, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		wantBody := tc.reason
		if wantBody != "" {
			wantBody += "\n"
		}
		if resp.StatusCode != 408 || resp.Status != "408 Request Timeout" || !resp.Close || string(body) != wantBody {
			t.Errorf("%s: %q, want 408 Request Timeout, Connection: close and body %q", tc.name, out, wantBody)
		}
		// Input after the 408 is dropped.
		if out, closeAfter := s.serve([]byte(get("/"))); len(out) != 0 || !closeAfter {
			t.Errorf("%s: after the 408: %q, close %v", tc.name, out, closeAfter)
		}
	}
}

// TestSessionKeepAliveWaitsForOutput checks that an idle connection whose
// responses are still queued is not closed, and gets a whole keep-alive
// timeout once they have gone.
func TestSessionKeepAliveWaitsForOutput(t *testing.T) {
	s, timer := newTimedSession(unitTimeouts)
	s.serve([]byte(get("/")))
	for i := 0; i < 3; i++ {
		if out, closeAfter := s.expire(1000); closeAfter || len(out) != 0 {
			t.Fatalf("closed with output queued: %q", out)
		}
		if !timer.pending || timer.d != drainPoll(unitTimeouts.keepAlive) {
			t.Fatalf("polling: timer pending %v for %v", timer.pending, timer.d)
		}
	}
	// The output has gone: a whole keep-alive timeout from now.
	if _, closeAfter := s.expire(0); closeAfter {
		t.Fatal("closed as soon as the output went")
	}
	if !timer.pending || timer.d != unitTimeouts.keepAlive {
		t.Fatalf("after the output went: timer pending %v for %v", timer.pending, timer.d)
	}
	if _, closeAfter := s.expire(0); !closeAfter {
		t.Fatal("not closed a keep-alive timeout after the output went")
	}

	// A request while polling ends the poll.
	s, timer = newTimedSession(unitTimeouts)
	s.serve([]byte(get("/")))
	s.expire(1000)
	s.serve([]byte(get("/")))
	if s.drainPolling || timer.d != unitTimeouts.keepAlive {
		t.Fatalf("after a request: polling %v, timer for %v", s.drainPolling, timer.d)
	}
	if _, closeAfter := s.expire(0); !closeAfter {
		t.Fatal("not closed at the keep-alive timeout")
	}
}

func TestDrainPoll(t *testing.T) {
	for _, tc := range []struct{ keepAlive, want time.Duration }{
		{75 * time.Second, time.Second},
		{400 * time.Millisecond, 100 * time.Millisecond},
		{3, 1},
	} {
		if got := drainPoll(tc.keepAlive); got != tc.want {
			t.Errorf("drainPoll(%v) = %v, want %v", tc.keepAlive, got, tc.want)
		}
	}
}
