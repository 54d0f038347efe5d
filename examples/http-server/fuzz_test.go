package main

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"net/http"
	"net/http/httputil"
	"sort"
	"testing"
	"time"
)

// Fuzz targets, each with a seed corpus in testdata/fuzz/<name>. CI runs
// each briefly:
//
//	go test -run='^$' -fuzz='^FuzzHead$' -fuzztime=10s ./examples/http-server

// FuzzHead checks the head parser: a head cut anywhere parses as it does
// whole, and a head it accepts is read the same way by net/http's parser
// whenever that one accepts it too (it is laxer in places, stricter in
// others, so only agreement is checked).
func FuzzHead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		var whole requestHead
		whole.reset()
		n, err := whole.parse(data)
		if n < 0 || n > len(data) || (err != nil && n != 0) {
			t.Fatalf("n=%d err=%v for %d bytes", n, err, len(data))
		}

		var split requestHead
		split.reset()
		k := int(cut) % (len(data) + 1)
		n2, err2 := split.parse(data[:k])
		if n2 == 0 && err2 == nil {
			n2, err2 = split.parse(data)
		}
		if n2 != n || err2 != err || (err == nil && split != whole) {
			t.Fatalf("cut at %d: n=%d err=%v head %+v; whole: n=%d err=%v head %+v", k, n2, err2, split, n, err, whole)
		}
		if n == 0 || err != nil {
			return
		}
		if whole.connect || whole.route == routeServer {
			return // forms net/http reads differently on purpose
		}
		req, goErr := http.ReadRequest(bufio.NewReader(bytes.NewReader(data[:n])))
		if goErr != nil {
			return
		}
		if (req.Method == "HEAD") != whole.isHEAD {
			t.Fatalf("method %q, isHEAD %v", req.Method, whole.isHEAD)
		}
		if minor := req.ProtoMinor; (minor > 0) != (whole.minor == 1) || req.ProtoMajor != 1 {
			t.Fatalf("version %d.%d, ours 1.%d", req.ProtoMajor, req.ProtoMinor, whole.minor)
		}
		goChunked := len(req.TransferEncoding) == 1 && req.TransferEncoding[0] == "chunked"
		if goChunked != whole.chunked {
			t.Fatalf("chunked: net/http %v, ours %v", req.TransferEncoding, whole.chunked)
		}
		if !whole.chunked && req.ContentLength != whole.contentLength && !(req.ContentLength == 0 && whole.contentLength == -1) {
			t.Fatalf("Content-Length: net/http %d, ours %d", req.ContentLength, whole.contentLength)
		}
		if req.Close == whole.keepAlive {
			t.Fatalf("net/http Close=%v, ours keepAlive=%v", req.Close, whole.keepAlive)
		}
		path := req.URL.EscapedPath()
		if path == "" {
			path = "/"
		}
		if req.URL.Opaque == "" && routeFor([]byte(path)) != whole.route {
			t.Fatalf("path %q: route %d, ours %d", path, routeFor([]byte(path)), whole.route)
		}
	})
}

// FuzzSession feeds a byte stream to a session whole and cut into pieces
// at random points: the output must be the same bytes, but for the 100
// Continue responses, which depend on where a body starts arriving. It also
// checks what a session may hold between events, and which timeout it
// leaves running.
func FuzzSession(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, seed int64) {
		const maxBody = 1 << 16
		settings := testSettings(maxBody)
		settings.timeouts = unitTimeouts
		whole, wholeClosed := serveStripped(t, settings, data, nil)
		rng := rand.New(rand.NewSource(seed))
		cuts := make([]int, rng.Intn(8))
		for i := range cuts {
			cuts[i] = rng.Intn(len(data) + 1)
		}
		sort.Ints(cuts)
		split, splitClosed := serveStripped(t, settings, data, cuts)
		if !bytes.Equal(whole, split) || wholeClosed != splitClosed {
			t.Fatalf("cuts %v: closed %v/%v\nwhole: %q\nsplit: %q", cuts, wholeClosed, splitClosed, whole, split)
		}
	})
}

// serveStripped serves data to a new session in pieces, like
// serveInPieces, dropping each 100 Continue the session sends and checking
// its bounds and its timer after every event.
func serveStripped(t *testing.T, settings *handlerSettings, data []byte, cuts []int) (out []byte, closed bool) {
	s := newSession(settings)
	timer := &fakeTimer{}
	s.timer = timer
	start := 0
	for _, end := range append(cuts, len(data)) {
		if end < start {
			continue
		}
		in := append([]byte(nil), data[start:end]...)
		start = end
		got, closeAfter := s.serve(in)
		if sentContinue(s, got) {
			got = got[:len(got)-len(continueLine)]
		}
		out = append(out, got...)
		if len(s.pending) > 2*pendingTopUp || int64(len(s.body)) > settings.maxBody {
			t.Fatalf("session holds %d pending and %d body bytes", len(s.pending), len(s.body))
		}
		checkTimer(t, s, timer)
		if closeAfter {
			return out, true
		}
	}
	return out, false
}

// checkTimer checks that the timeout running is the one for what the
// session waits for, every timeout being on.
func checkTimer(t *testing.T, s *session, timer *fakeTimer) {
	t.Helper()
	var want time.Duration // 0: none runs
	switch s.waiting() {
	case waitingRequest:
		want = s.settings.timeouts.keepAlive
	case waitingHead:
		want = s.settings.timeouts.header
	case waitingBody:
		want = s.settings.timeouts.body
	}
	if s.waiting() == waitingRequest && timer.resets == 0 {
		return // no request yet: the keep-alive timer Opened set runs
	}
	if (want > 0) != timer.pending || want > 0 && timer.d != want {
		t.Fatalf("waiting %d: timer pending %v for %v, want %v", s.waiting(), timer.pending, timer.d, want)
	}
}

// sentContinue reports whether out, the output of one event, ends with a
// 100 Continue: the session is then waiting for the first byte of a body
// that the client was asked to send. (An echo body can end in the same
// bytes, so the bytes alone do not tell.)
func sentContinue(s *session, out []byte) bool {
	if !bytes.HasSuffix(out, []byte(continueLine)) || !s.head.expectContinue() {
		return false
	}
	switch s.state {
	case readingBody:
		return s.bodyLeft == s.head.contentLength
	case readingChunked:
		return s.chunks.state == chunkSizeLine && s.chunks.total == 0
	}
	return false
}

// FuzzChunkedBody checks the chunked decoder: fed in steps of any size it
// decodes the same as in one piece, never more than its limit, and what it
// accepts net/http's chunked reader decodes the same (when that accepts it
// too).
func FuzzChunkedBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte, step uint8) {
		const limit = 1 << 16
		want, wantDone, wantErr := decodeChunked(string(body), len(body)+1, limit)
		got, done, err := decodeChunked(string(body), int(step)+1, limit)
		if got != want || done != wantDone || err != wantErr {
			t.Fatalf("step %d: %q %v %v; whole: %q %v %v", int(step)+1, got, done, err, want, wantDone, wantErr)
		}
		if len(want) > limit {
			t.Fatalf("decoded %d bytes past the limit", len(want))
		}
		if !wantDone {
			return
		}
		goDecoded, goErr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(body)))
		if goErr == nil && string(goDecoded) != want {
			t.Fatalf("net/http decodes %q, ours %q", goDecoded, want)
		}
	})
}
