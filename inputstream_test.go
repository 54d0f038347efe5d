package evio

import (
	"bytes"
	"math/rand"
	"testing"
)

func TestInputStreamReturnsPacketWhenEmpty(t *testing.T) {
	var is InputStream
	packet := []byte("hello")
	data := is.Begin(packet)
	if &data[0] != &packet[0] {
		t.Fatal("Begin on an empty stream copied the packet")
	}
	is.End(nil)
	if len(is.buffered) != 0 {
		t.Fatal("End(nil) kept bytes")
	}
}

func TestInputStreamKeepsUnconsumedBytes(t *testing.T) {
	var is InputStream
	shared := []byte("abc")
	data := is.Begin(shared)
	is.End(data[1:])    // keep "bc"
	copy(shared, "XYZ") // the caller's buffer is reused, as with ReuseInputBuffer
	data = is.Begin([]byte("de"))
	if string(data) != "bcde" {
		t.Fatalf("Begin = %q, want %q", data, "bcde")
	}
	is.End(data[3:]) // keep "e", a tail of the stream's own buffer
	data = is.Begin([]byte("f"))
	if string(data) != "ef" {
		t.Fatalf("Begin = %q, want %q", data, "ef")
	}
	is.End(data[:0])
	if got := is.Begin([]byte("g")); string(got) != "g" {
		t.Fatalf("after consuming everything Begin = %q, want %q", got, "g")
	}
}

// TestInputStreamLineFraming feeds a line protocol in random fragments and
// checks every line comes out once, in order.
func TestInputStreamLineFraming(t *testing.T) {
	var stream bytes.Buffer
	for i := 0; i < 1000; i++ {
		stream.WriteString("line ")
		stream.WriteString(string(rune('a' + i%26)))
		stream.WriteString("\n")
	}
	want := bytes.Split(bytes.TrimSuffix(stream.Bytes(), []byte("\n")), []byte("\n"))
	rng := rand.New(rand.NewSource(7))
	var is InputStream
	var got [][]byte
	rest := stream.Bytes()
	reused := make([]byte, 64) // reused for every packet, like the loop's buffer
	for len(rest) > 0 {
		n := 1 + rng.Intn(20)
		if n > len(rest) {
			n = len(rest)
		}
		packet := reused[:n]
		copy(packet, rest[:n])
		rest = rest[n:]
		data := is.Begin(packet)
		for {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				break
			}
			got = append(got, append([]byte(nil), data[:i]...))
			data = data[i+1:]
		}
		is.End(data)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestInputStreamReleasesLargeBuffers(t *testing.T) {
	var is InputStream
	is.End(make([]byte, 2*maxKeptInputStream))
	is.End(nil)
	if is.buffered != nil {
		t.Fatalf("an emptied stream kept %d bytes of capacity", cap(is.buffered))
	}
	is.End([]byte("x"))
	is.End(nil)
	if cap(is.buffered) == 0 {
		t.Fatal("an emptied stream dropped a small buffer it could reuse")
	}
}

func FuzzInputStream(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), uint8(3))
	f.Add([]byte("no newline"), uint8(1))
	f.Add([]byte("\n\n\n"), uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		n := int(step%16) + 1
		var is InputStream
		var out []byte
		reused := make([]byte, 16)
		for rest := stream; len(rest) > 0; {
			k := n
			if k > len(rest) {
				k = len(rest)
			}
			packet := reused[:k]
			copy(packet, rest[:k])
			rest = rest[k:]
			data := is.Begin(packet)
			// Consume whole lines; keep the rest.
			if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
				out = append(out, data[:i+1]...)
				data = data[i+1:]
			}
			is.End(data)
		}
		out = append(out, is.Begin(nil)...)
		if !bytes.Equal(out, stream) {
			t.Fatalf("stream came out as %q, want %q", out, stream)
		}
	})
}
