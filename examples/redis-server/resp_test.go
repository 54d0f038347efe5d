package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// parseAll parses data as one connection would receive it, in pieces of
// at most chunk bytes (0: all at once), keeping incomplete requests the
// way client.handleData does. It returns every request's arguments as
// strings, and the first protocol error.
func parseAll(data []byte, chunk int) ([][]string, error) {
	var p requestParser
	var requests [][]string
	var pending []byte
	if chunk <= 0 {
		chunk = len(data) + 1
	}
	for start := 0; start < len(data); start += chunk {
		end := start + chunk
		if end > len(data) {
			end = len(data)
		}
		pending = append(pending, data[start:end]...)
		consumed := 0
		for consumed < len(pending) {
			args, n, err := p.parse(pending[consumed:])
			if err != nil {
				return requests, err
			}
			if n == 0 {
				break
			}
			consumed += n
			if len(args) > 0 {
				request := make([]string, len(args))
				for i, a := range args {
					request[i] = string(a)
				}
				requests = append(requests, request)
			}
		}
		if consumed > 0 {
			pending = append(pending[:0], pending[consumed:]...)
		}
	}
	return requests, nil
}

func TestParser(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    [][]string
		wantErr error
	}{
		{name: "multibulk", in: "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", want: [][]string{{"GET", "k"}}},
		{name: "pipeline", in: "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\nPING\r\n", want: [][]string{{"PING"}, {"PING"}, {"PING"}}},
		{name: "empty bulk", in: "*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", want: [][]string{{"ECHO", ""}}},
		{name: "binary bulk", in: "*2\r\n$4\r\nECHO\r\n$5\r\na\r\n\x00b\r\n", want: [][]string{{"ECHO", "a\r\n\x00b"}}},
		{name: "empty multibulk skipped", in: "*0\r\n*-1\r\nPING\r\n", want: [][]string{{"PING"}}},
		{name: "crlf after bulk unchecked", in: "*1\r\n$4\r\nPINGxy", want: [][]string{{"PING"}}},
		{name: "inline", in: "SET a b\r\n", want: [][]string{{"SET", "a", "b"}}},
		{name: "inline lf", in: "SET a b\n", want: [][]string{{"SET", "a", "b"}}},
		{name: "inline spaces", in: " \t SET   a\tb \r\n", want: [][]string{{"SET", "a", "b"}}},
		{name: "inline empty lines", in: "\r\n\n  \r\nPING\r\n", want: [][]string{{"PING"}}},
		{name: "inline double quotes", in: "SET \"a b\" \"\\x41\\n\\\"\"\r\n", want: [][]string{{"SET", "a b", "A\n\""}}},
		{name: "inline single quotes", in: "SET 'a b' 'it\\'s \\n'\r\n", want: [][]string{{"SET", "a b", "it's \\n"}}},
		{name: "inline quote mid-argument", in: "SET a\"b c\"d\r\n", wantErr: errUnbalancedQuotes},
		{name: "inline quote opens mid-argument", in: "SET a\"b c\"\r\n", want: [][]string{{"SET", "ab c"}}},
		{name: "inline empty quotes", in: "ECHO \"\"\r\n", want: [][]string{{"ECHO", ""}}},
		{name: "inline unbalanced", in: "SET \"a\r\n", wantErr: errUnbalancedQuotes},
		{name: "inline unbalanced single", in: "SET 'a\r\n", wantErr: errUnbalancedQuotes},
		{name: "inline vertical tab inside", in: "ECHO a\vb\r\n", want: [][]string{{"ECHO", "a\vb"}}},
		{name: "inline bad hex escape", in: "ECHO \"\\xg1\"\r\n", want: [][]string{{"ECHO", "xg1"}}},
		{name: "inline NUL is a byte", in: "ECHO a\x00b\r\n", want: [][]string{{"ECHO", "a\x00b"}}},
		{name: "bad multibulk count", in: "*x\r\n", wantErr: errInvalidMbulkCount},
		{name: "multibulk count leading zero", in: "*01\r\n", wantErr: errInvalidMbulkCount},
		{name: "multibulk count too large", in: "*2147483648\r\n", wantErr: errInvalidMbulkCount},
		{name: "multibulk count at limit", in: "*2147483647\r\n$4\r\nPING\r\n", want: nil},
		{name: "bad bulk length", in: "*1\r\n$x\r\n", wantErr: errInvalidBulkLength},
		{name: "negative bulk length", in: "*1\r\n$-1\r\n", wantErr: errInvalidBulkLength},
		{name: "bulk length past 512MB", in: "*1\r\n$536870913\r\n", wantErr: errInvalidBulkLength},
		{name: "bulk length at 512MB waits", in: "*1\r\n$536870912\r\nabc", want: nil},
		{name: "expected dollar", in: "*1\r\n:1\r\n", wantErr: protocolError("expected '$', got ':'")},
		{name: "expected dollar empty line", in: "*1\r\n\r\n", wantErr: protocolError("expected '$', got '\r'")},
		{name: "too big inline", in: strings.Repeat("a", maxInlineLength+2), wantErr: errTooBigInline},
		{name: "too big inline with newline", in: strings.Repeat("a", maxInlineLength+1) + "\r\n", wantErr: errTooBigInline},
		{name: "inline at limit", in: "ECHO " + strings.Repeat("a", maxInlineLength-5) + "\r\n", want: [][]string{{"ECHO", strings.Repeat("a", maxInlineLength-5)}}},
		{name: "too big multibulk count", in: "*" + strings.Repeat("1", maxInlineLength+1), wantErr: errTooBigMbulkCount},
		{name: "too big bulk count", in: "*1\r\n$" + strings.Repeat("1", maxInlineLength+1), wantErr: errTooBigBulkCount},
	}
	// More arguments than the parser keeps slices for between requests.
	many := []string{"MGET"}
	for i := 0; i < 3*maxKeptArgs; i++ {
		many = append(many, "k")
	}
	cases = append(cases, struct {
		name    string
		in      string
		want    [][]string
		wantErr error
	}{name: "many arguments", in: cmd(many...) + "PING\r\n", want: [][]string{many, {"PING"}}})
	for _, tc := range cases {
		// The same bytes must parse the same whether they arrive at once,
		// a byte at a time, or in odd pieces.
		for _, chunk := range []int{0, 1, 2, 3, 7, 100} {
			got, err := parseAll([]byte(tc.in), chunk)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("%s (pieces of %d): error %v, want %v", tc.name, chunk, err, tc.wantErr)
				continue
			}
			if tc.wantErr == nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s (pieces of %d): got %q, want %q", tc.name, chunk, got, tc.want)
			}
		}
	}
}

func TestParseRedisInt(t *testing.T) {
	good := map[string]int64{
		"0": 0, "1": 1, "-1": -1, "42": 42,
		"9223372036854775807":  9223372036854775807,
		"-9223372036854775808": -9223372036854775808,
	}
	for in, want := range good {
		if got, ok := parseRedisInt([]byte(in)); !ok || got != want {
			t.Errorf("parseRedisInt(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-", "+1", "01", "-0", "00", " 1", "1 ", "1.0", "1e3", "0x10",
		"9223372036854775808", "-9223372036854775809", "99999999999999999999", "123456789012345678901"} {
		if got, ok := parseRedisInt([]byte(in)); ok {
			t.Errorf("parseRedisInt(%q) = %d, want failure", in, got)
		}
	}
}

// TestHandleDataPipelining checks that every complete request of one Data
// event is answered in that event's out, and that a request split over
// events is answered once it is complete.
func TestHandleDataPipelining(t *testing.T) {
	srv, err := newServer(config{})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{srv: srv}
	in := []byte(strings.Repeat("*1\r\n$4\r\nPING\r\n", 100) + "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel")
	out, action := c.handleData(in)
	if want := strings.Repeat("+PONG\r\n", 100); string(out) != want || action != 0 {
		t.Fatalf("first event: %q, %v", out, action)
	}
	// evio reuses in after the event: clobber it, as the next read would.
	for i := range in {
		in[i] = 'X'
	}
	out, _ = c.handleData([]byte("lo\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"))
	if want := "+OK\r\n$5\r\nhello\r\n"; string(out) != want {
		t.Fatalf("second event: %q, want %q", out, want)
	}
	if len(c.pending) != 0 {
		t.Errorf("%d bytes left pending", len(c.pending))
	}
}
