package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Tests with net/http's client: the server as real clients see it.

// do sends req and returns the response with its body read.
func (ts *testServer) do(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return resp, body
}

func newRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestClientKeepAlive(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		var reused atomic.Int32
		trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
			if info.Reused {
				reused.Add(1)
			}
		}}
		const requests = 20
		for i := 0; i < requests; i++ {
			req := newRequest(t, "GET", ts.url("/"), nil)
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
			resp, body := ts.do(t, req)
			checkResponse(t, resp, string(body), 200, helloBody)
			if resp.ContentLength != int64(len(helloBody)) || resp.Header.Get("Date") == "" {
				t.Fatalf("headers %v", resp.Header)
			}
		}
		if got := reused.Load(); got != requests-1 {
			t.Fatalf("%d of %d requests reused the connection, want %d", got, requests, requests-1)
		}
	})
}

func TestClientConcurrent(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		const workers, perWorker = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			w := w
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- clientWorker(ts, w, perWorker)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

// clientWorker mixes GET / and POST /echo of various sizes on the shared
// client; it returns the first mismatch.
func clientWorker(ts *testServer, worker, requests int) error {
	rng := rand.New(rand.NewSource(int64(worker)))
	for i := 0; i < requests; i++ {
		var req *http.Request
		var want []byte
		if i%2 == 0 {
			req, _ = http.NewRequest("GET", ts.url("/"), nil)
			want = []byte(helloBody)
		} else {
			want = make([]byte, rng.Intn(100<<10))
			rng.Read(want)
			req, _ = http.NewRequest("POST", ts.url("/echo"), bytes.NewReader(want))
		}
		resp, err := ts.client.Do(req)
		if err != nil {
			return fmt.Errorf("worker %d request %d: %v", worker, i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("worker %d request %d: %v", worker, i, err)
		}
		if resp.StatusCode != 200 || !bytes.Equal(got, want) {
			return fmt.Errorf("worker %d request %d: status %d, %d bytes, want 200 and %d bytes", worker, i, resp.StatusCode, len(got), len(want))
		}
	}
	return nil
}

func TestClientBodies(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		for _, size := range []int{0, 1, 4095, 64 << 10, 1<<20 + 3, defaultMaxBody} {
			want := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
			resp, got := ts.do(t, newRequest(t, "POST", ts.url("/echo"), bytes.NewReader(want)))
			if resp.StatusCode != 200 || !bytes.Equal(got, want) {
				t.Fatalf("size %d: status %d, %d bytes back", size, resp.StatusCode, len(got))
			}
			if ct := resp.Header.Get("Content-Type"); ct != octetStream {
				t.Fatalf("Content-Type %q", ct)
			}
		}
	})
}

// TestClientChunkedUpload streams a body of unknown length through a pipe,
// so net/http sends it chunked, in pieces written over time.
func TestClientChunkedUpload(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		sent := &recordedWrites{}
		transport := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, ts.network, ts.address)
			return &recordingConn{Conn: c, record: sent}, err
		}}
		defer transport.CloseIdleConnections()
		client := &http.Client{Transport: transport, Timeout: testTimeout}

		pr, pw := io.Pipe()
		var want bytes.Buffer
		written := make(chan struct{})
		go func() {
			defer close(written)
			rng := rand.New(rand.NewSource(1))
			for i := 0; i < 200; i++ {
				piece := make([]byte, rng.Intn(3000)+1)
				rng.Read(piece)
				want.Write(piece)
				if _, err := pw.Write(piece); err != nil {
					pw.CloseWithError(err)
					return
				}
			}
			pw.Close()
		}()
		resp, err := client.Do(newRequest(t, "PUT", ts.url("/echo"), pr))
		pr.Close() // ends the writer if the request failed early
		<-written
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !sent.contains("\r\nTransfer-Encoding: chunked\r\n") {
			t.Fatalf("client did not send chunked; request began %q", clip(sent.String()))
		}
		if resp.StatusCode != 200 || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("status %d, %d bytes back, want %d", resp.StatusCode, len(got), want.Len())
		}
	})
}

// recordedWrites keeps the first bytes written to connections.
type recordedWrites struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (r *recordedWrites) add(p []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if room := 4096 - r.buf.Len(); room > 0 {
		if len(p) > room {
			p = p[:room]
		}
		r.buf.Write(p)
	}
}

func (r *recordedWrites) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func (r *recordedWrites) contains(s string) bool { return strings.Contains(r.String(), s) }

// recordingConn records what is written to it.
type recordingConn struct {
	net.Conn
	record *recordedWrites
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.record.add(p)
	return c.Conn.Write(p)
}

func TestClientExpectContinue(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		var continued atomic.Int32
		trace := &httptrace.ClientTrace{Got100Continue: func() { continued.Add(1) }}

		want := strings.Repeat("continue me ", 1000)
		req := newRequest(t, "POST", ts.url("/echo"), strings.NewReader(want))
		req.Header.Set("Expect", "100-continue")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, got := ts.do(t, req)
		checkResponse(t, resp, string(got), 200, want)
		if continued.Load() != 1 {
			t.Fatal("no 100 Continue before the body")
		}

		// Too large: refused before the client sends the body.
		body := &countingReader{r: strings.NewReader(strings.Repeat("x", defaultMaxBody+1))}
		req = newRequest(t, "POST", ts.url("/echo"), body)
		req.ContentLength = defaultMaxBody + 1
		req.Header.Set("Expect", "100-continue")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, _ = ts.do(t, req)
		if resp.StatusCode != 413 || continued.Load() != 1 {
			t.Fatalf("status %d, %d 100 Continue, want 413 and none", resp.StatusCode, continued.Load()-1)
		}
		if n := body.n.Load(); n != 0 {
			t.Fatalf("client sent %d body bytes of a refused request", n)
		}
	})
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestClientHeadAndNotFound(t *testing.T) {
	forEachVariant(t, func(t *testing.T, v variant) {
		ts := startServer(t, v, nil)
		resp, body := ts.do(t, newRequest(t, "HEAD", ts.url("/"), nil))
		if resp.StatusCode != 200 || len(body) != 0 || resp.ContentLength != int64(len(helloBody)) {
			t.Fatalf("HEAD: status %d, body %q, Content-Length %d", resp.StatusCode, body, resp.ContentLength)
		}
		resp, body = ts.do(t, newRequest(t, "GET", ts.url("/nowhere"), nil))
		checkResponse(t, resp, string(body), 404, notFoundBody)
		resp, body = ts.do(t, newRequest(t, "DELETE", ts.url("/?x=1"), nil))
		checkResponse(t, resp, string(body), 200, helloBody)
	})
}
