package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// testSettings are settings with a fixed clock, so that outputs compare
// equal byte for byte.
func testSettings(maxBody int64) *handlerSettings {
	return &handlerSettings{maxBody: maxBody, clock: newHTTPClock(time.Unix(1700000000, 0))}
}

// serveInPieces feeds input to a new session cut at cuts (sorted offsets),
// each piece in a fresh buffer that is overwritten after the call, as
// ReuseInputBuffer does. It returns the concatenated output and whether
// the session asked to close.
func serveInPieces(settings *handlerSettings, input []byte, cuts []int) (out []byte, closed bool) {
	s := newSession(settings)
	start := 0
	scratch := make([]byte, len(input))
	for _, end := range append(cuts, len(input)) {
		if end < start || end > len(input) {
			continue
		}
		in := scratch[:end-start]
		copy(in, input[start:end])
		start = end
		got, closeAfter := s.serve(in)
		out = append(out, got...)
		for i := range in {
			in[i] = 0xEE // the loop's buffer is reused for the next read
		}
		if closeAfter {
			return out, true
		}
	}
	return out, false
}

// finalResponses parses out as a sequence of responses and renders each
// final (non-1xx) one as text, so that outputs that differ only in where
// a 100 Continue was sent compare equal. methods are the methods of the
// requests answered, in order (GET when absent), since a response to HEAD
// has no body. The last element reports bytes that are not a whole response.
func finalResponses(out []byte, methods ...string) []string {
	var rendered []string
	r := bufio.NewReader(bytes.NewReader(out))
	for {
		if _, err := r.Peek(1); err == io.EOF {
			return rendered
		}
		method := "GET"
		if len(rendered) < len(methods) {
			method = methods[len(rendered)]
		}
		resp, err := http.ReadResponse(r, &http.Request{Method: method})
		if err != nil {
			rest, _ := io.ReadAll(r)
			return append(rendered, fmt.Sprintf("unparsable: %v: %q", err, rest))
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return append(rendered, fmt.Sprintf("unparsable body: %v", err))
		}
		if resp.StatusCode >= 200 {
			keys := make([]string, 0, len(resp.Header))
			for k := range resp.Header {
				keys = append(keys, k+"="+strings.Join(resp.Header[k], ","))
			}
			sort.Strings(keys)
			rendered = append(rendered, fmt.Sprintf("%d %v %q", resp.StatusCode, keys, body))
		}
	}
}

// sessionCorpus is a stream of requests of every kind, the last one
// refused; sessionCorpusMethods are their methods.
var sessionCorpus = get("/") +
	"\r\n" + post("/echo", "a body") +
	"HEAD /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc" +
	"PUT /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n" +
	"3;x=\"y\"\r\nabc\r\n1\r\nd\r\n0\r\nT: v\r\n\r\n" +
	"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nwxyz" +
	get("/missing") +
	"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n" +
	get("/never-answered")

var sessionCorpusMethods = []string{"GET", "POST", "HEAD", "PUT", "POST", "GET", "GET"}

// TestSessionSplitAnywhere checks that where the input is cut into Data
// events changes nothing but where 100 Continue is sent.
func TestSessionSplitAnywhere(t *testing.T) {
	settings := testSettings(1 << 20)
	input := []byte(sessionCorpus)
	whole, closed := serveInPieces(settings, input, nil)
	want := finalResponses(whole, sessionCorpusMethods...)
	if !closed || len(want) != 7 || !strings.HasPrefix(want[6], "400 ") {
		t.Fatalf("whole input: closed=%v responses:\n%s", closed, strings.Join(want, "\n"))
	}
	for cut := 1; cut < len(input); cut++ {
		out, closed := serveInPieces(settings, input, []int{cut})
		if got := finalResponses(out, sessionCorpusMethods...); !closed || strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("cut at %d: closed=%v\n%s\nwant\n%s", cut, closed, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	every := make([]int, len(input))
	for i := range every {
		every[i] = i
	}
	out, closed := serveInPieces(settings, input, every)
	if got := finalResponses(out, sessionCorpusMethods...); !closed || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("byte by byte: closed=%v\n%s", closed, strings.Join(got, "\n"))
	}
}

// TestSessionPipelinedOutput checks that one Data event with many requests
// gets all their responses in one out slice, in order.
func TestSessionPipelinedOutput(t *testing.T) {
	s := newSession(testSettings(1 << 20))
	out, closeAfter := s.serve([]byte(strings.Repeat(get("/"), 16) + post("/echo", "last")))
	if closeAfter {
		t.Fatal("asked to close")
	}
	responses := finalResponses(out)
	if len(responses) != 17 || !strings.HasSuffix(responses[16], `"last"`) {
		t.Fatalf("%d responses:\n%s", len(responses), strings.Join(responses, "\n"))
	}
}

func TestSessionExpectContinue(t *testing.T) {
	head := "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
	cases := []struct {
		name, input string
		continued   bool
	}{
		{"body not sent", head, true},
		{"body sent", head + "o", false},
		{"chunked body not sent", "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n", true},
		{"no body", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", false},
		{"HTTP/1.0", "POST /echo HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n", false},
		{"too large", "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n", false},
	}
	for _, tc := range cases {
		s := newSession(testSettings(1 << 20))
		out, _ := s.serve([]byte(tc.input))
		if got := strings.HasPrefix(string(out), continueLine); got != tc.continued {
			t.Errorf("%s: 100 Continue sent: %v, want %v (%q)", tc.name, got, tc.continued, out)
		}
	}
}

// TestSessionMemoryBounds checks what a session keeps: never more than a
// head's worth of pending input, nothing allocated from a declared length,
// and no large buffer kept after a large request.
func TestSessionMemoryBounds(t *testing.T) {
	settings := testSettings(8 << 20)
	s := newSession(settings)

	// A head trickling in is kept, and no more.
	head := "GET / HTTP/1.1\r\nHost: a\r\nX: " + strings.Repeat("v", 8000) + "\r\n\r\n"
	for i := 0; i < len(head)-1; i++ {
		s.serve([]byte{head[i]})
		if len(s.pending) > maxHeadBytes {
			t.Fatalf("pending %d bytes", len(s.pending))
		}
	}
	if out, _ := s.serve([]byte{'\n'}); !bytes.Contains(out, []byte(helloBody)) {
		t.Fatalf("trickled head not answered: %q", out)
	}

	// A declared 8 MB body allocates nothing before its bytes come.
	s.serve([]byte("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 8000000\r\n\r\n0123456789"))
	if cap(s.body) > 4096 || len(s.pending) != 0 {
		t.Fatalf("after 10 body bytes: body cap %d, pending %d", cap(s.body), len(s.pending))
	}
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for sent := 10; sent < 8000000; sent += len(chunk) {
		if rest := 8000000 - sent; rest < len(chunk) {
			chunk = chunk[:rest]
		}
		s.serve(chunk)
		if len(s.pending) != 0 {
			t.Fatalf("body bytes kept as pending: %d", len(s.pending))
		}
	}
	if s.state != awaitingHead {
		t.Fatalf("state %d after the body", s.state)
	}
	// The next request drops the large buffers.
	s.serve([]byte(get("/")))
	if cap(s.body) > maxKeptBuffer || cap(s.out) > maxKeptBuffer {
		t.Fatalf("kept body cap %d, out cap %d", cap(s.body), cap(s.out))
	}

	// A large read joined to a kept partial head is parsed in place.
	s.serve([]byte("GET / HT"))
	batch := []byte("TP/1.1\r\nHost: a\r\n\r\n" + strings.Repeat(get("/"), 2000))
	out, _ := s.serve(batch)
	if n := bytes.Count(out, []byte(helloBody)); n != 2001 {
		t.Fatalf("%d responses, want 2001", n)
	}
	if cap(s.pending) > 2*pendingTopUp {
		t.Fatalf("pending grew to %d", cap(s.pending))
	}
}

// TestSessionAfterClose checks that input after a closing response is
// dropped.
func TestSessionAfterClose(t *testing.T) {
	s := newSession(testSettings(1 << 20))
	out, closeAfter := s.serve([]byte("GET / HTTP/1.0\r\n\r\n" + get("/")))
	if !closeAfter || bytes.Count(out, []byte(helloBody)) != 1 {
		t.Fatalf("close=%v out=%q", closeAfter, out)
	}
	if out, closeAfter = s.serve([]byte(get("/"))); !closeAfter || len(out) != 0 {
		t.Fatalf("after close: close=%v out=%q", closeAfter, out)
	}
}
