package main

import (
	"strings"
	"testing"
)

// decodeChunked runs a decoder over body, offered in pieces of size step
// (the unconsumed rest of each offer is offered again with the next bytes,
// as the session does), and returns the decoded data.
func decodeChunked(body string, step int, limit int64) (string, bool, *protocolError) {
	var d chunkedDecoder
	d.reset(limit)
	var decoded strings.Builder
	kept := ""
	for offset := 0; offset < len(body); {
		end := offset + step
		if end > len(body) {
			end = len(body)
		}
		data := []byte(kept + body[offset:end])
		offset = end
		pos := 0
		for {
			n, piece, done, err := d.next(data[pos:])
			if err != nil {
				return decoded.String(), false, err
			}
			pos += n
			decoded.Write(piece)
			if done {
				return decoded.String(), true, nil
			}
			if n == 0 {
				break
			}
		}
		kept = string(data[pos:])
	}
	return decoded.String(), false, nil
}

func TestChunkedDecoder(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"empty", "0\r\n\r\n", ""},
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"hex sizes", "a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", "0123456789abcdefghij"},
		{"leading zeros", "0005\r\nhello\r\n0000\r\n\r\n", "hello"},
		{"extensions", "5;a;b=c ; d = \"e;f\\\"g\"\r\nhello\r\n0;last\r\n\r\n", "hello"},
		{"whitespace after size", "5 \r\nhello\r\n0\t\r\n\r\n", "hello"},
		{"trailers", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Other:  two \r\n\r\n", "hello"},
		{"CRLF in data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
	}
	for _, tc := range cases {
		for _, step := range []int{1, 2, 3, 7, len(tc.body)} {
			got, done, err := decodeChunked(tc.body, step, 1<<20)
			if err != nil || !done || got != tc.want {
				t.Errorf("%s (step %d): %q done=%v err=%v, want %q", tc.name, step, got, done, err, tc.want)
			}
		}
	}
}

func TestChunkedDecoderRefusals(t *testing.T) {
	cases := []struct {
		name, body string
		limit      int64
		want       *protocolError
	}{
		{"not hex", "g\r\n", 100, errChunkSize},
		{"no size", ";a\r\n", 100, errChunkSize},
		{"space before size", " 1\r\nx\r\n", 100, errChunkSize},
		{"bare LF", "1\nx\r\n0\r\n\r\n", 100, errBareLF},
		{"data overrun", "1\r\nxy\r\n", 100, errChunkDataEnd},
		{"data without CRLF", "1\r\nx\n", 100, errChunkDataEnd},
		{"extension without name", "1;\r\n", 100, errChunkExtension},
		{"extension junk", "1 x\r\n", 100, errChunkExtension},
		{"extension bad value", "1;a=\r\n", 100, errChunkExtension},
		{"extension open quote", "1;a=\"x\r\n", 100, errChunkExtension},
		{"extension control byte", "1;a=\"\x01\"\r\n", 100, errChunkExtension},
		{"overflow", "100000000000000000\r\n", 1 << 62, errChunkSize},
		{"chunk over limit", "65\r\n", 100, errBodyTooLarge},
		{"sum over limit", "32\r\n" + strings.Repeat("x", 50) + "\r\n33\r\n", 100, errBodyTooLarge},
		{"long size line", "1;" + strings.Repeat("a", maxChunkLineBytes), 100, errChunkLineTooLong},
		{"trailer fold", "0\r\nA: b\r\n\tc\r\n\r\n", 100, errObsFold},
		{"trailer name", "0\r\nA b: c\r\n\r\n", 100, errFieldName},
		{"trailers too large", "0\r\n" + strings.Repeat("A: b\r\n", maxTrailerBytes/6+1) + "\r\n", 100, errTrailerTooLarge},
	}
	for _, tc := range cases {
		for _, step := range []int{1, 5, len(tc.body)} {
			_, _, err := decodeChunked(tc.body, step, tc.limit)
			if err != tc.want {
				t.Errorf("%s (step %d): %v, want %v", tc.name, step, err, tc.want)
			}
		}
	}
}

// TestChunkedDecoderExactLimit accepts a body of exactly the limit.
func TestChunkedDecoderExactLimit(t *testing.T) {
	body := "32\r\n" + strings.Repeat("x", 50) + "\r\n32\r\n" + strings.Repeat("y", 50) + "\r\n0\r\n\r\n"
	got, done, err := decodeChunked(body, 13, 100)
	if err != nil || !done || len(got) != 100 {
		t.Fatalf("%d bytes done=%v err=%v", len(got), done, err)
	}
}
