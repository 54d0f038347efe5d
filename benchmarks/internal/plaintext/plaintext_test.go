package plaintext

import (
	"bytes"
	"strings"
	"testing"
)

func TestServePipelined(t *testing.T) {
	req := "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
	data := []byte(strings.Repeat(req, 3) + req[:10])
	out, n, closeConn, err := Serve(nil, data)
	if err != nil || closeConn {
		t.Fatalf("err %v close %v", err, closeConn)
	}
	if n != 3*len(req) {
		t.Fatalf("consumed %d, want %d", n, 3*len(req))
	}
	if got := bytes.Count(out, []byte(Body)); got != 3 {
		t.Fatalf("%d responses, want 3", got)
	}
}

func TestServeBodyAndClose(t *testing.T) {
	data := []byte("POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcdGET / HTTP/1.1\r\nconnection: Close\r\n\r\nGET / HTTP/1.1\r\n\r\n")
	out, n, closeConn, err := Serve(nil, data)
	if err != nil || !closeConn || n != len(data) {
		t.Fatalf("n %d close %v err %v", n, closeConn, err)
	}
	if got := bytes.Count(out, []byte(Body)); got != 2 {
		t.Fatalf("%d responses, want 2", got)
	}
	if !bytes.HasSuffix(out, []byte("Connection: close\r\n\r\n"+Body)) {
		t.Fatalf("last response lacks Connection: close:\n%s", out)
	}
}

func TestServeIncompleteBody(t *testing.T) {
	data := []byte("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
	out, n, _, err := Serve(nil, data)
	if err != nil || n != 0 || len(out) != 0 {
		t.Fatalf("n %d out %q err %v", n, out, err)
	}
}

func TestResponseLength(t *testing.T) {
	// The same length as net/http's and fasthttp's responses (checked live
	// by the harness); a change here must change the C floor too.
	if got := len(AppendResponse(nil, false)); got != 130 {
		t.Fatalf("response is %d bytes, want 130", got)
	}
}

func TestServeAllocs(t *testing.T) {
	data := []byte(strings.Repeat("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 16))
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { Serve(buf[:0], data) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}
