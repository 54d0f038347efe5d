//go:build !race

package main

import (
	"strings"
	"testing"
)

// hotPathRequests are the requests the benchmark issue measures, each
// with the reply it must give once the keyspace is warm.
var hotPathRequests = []struct {
	name, request, reply string
}{
	{"PING inline", "PING\r\n", "+PONG\r\n"},
	{"PING", "*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
	{"GET", "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", "$5\r\nvalue\r\n"},
	{"SET existing key", "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n", "+OK\r\n"},
	{"INCR", "*2\r\n$4\r\nINCR\r\n$7\r\ncounter\r\n", ""},
	{"MGET", "*3\r\n$4\r\nMGET\r\n$3\r\nkey\r\n$3\r\nkey\r\n", "*2\r\n$5\r\nvalue\r\n$5\r\nvalue\r\n"},
	{"pipeline of 16 GETs", strings.Repeat("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", 16), strings.Repeat("$5\r\nvalue\r\n", 16)},
	// A multi-element reply: its snapshot and arena are reused.
	{"LRANGE", "*4\r\n$6\r\nLRANGE\r\n$4\r\nlist\r\n$1\r\n0\r\n$2\r\n-1\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
	{"ZRANGE WITHSCORES", "*5\r\n$6\r\nZRANGE\r\n$4\r\nzset\r\n$1\r\n0\r\n$2\r\n-1\r\n$10\r\nWITHSCORES\r\n", "*2\r\n$1\r\nm\r\n$3\r\n1.5\r\n"},
}

// warmKeyspace is the requests that create the keys hotPathRequests read.
const warmKeyspace = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n" +
	"*4\r\n$5\r\nRPUSH\r\n$4\r\nlist\r\n$1\r\na\r\n$1\r\nb\r\n" +
	"*4\r\n$4\r\nZADD\r\n$4\r\nzset\r\n$3\r\n1.5\r\n$1\r\nm\r\n"

// TestHotPathAllocations checks that PING, GET, SET of an existing key,
// INCR, MGET and the multi-element replies of LRANGE and ZRANGE allocate
// nothing per request in steady state (the race detector's
// instrumentation allocates, hence the build tag).
func TestHotPathAllocations(t *testing.T) {
	srv, err := newServer(config{})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{srv: srv}
	c.handleData([]byte(warmKeyspace))
	for _, r := range hotPathRequests {
		in := []byte(r.request)
		out, _ := c.handleData(in)
		if r.reply != "" && string(out) != r.reply {
			t.Fatalf("%s: reply %q, want %q", r.name, out, r.reply)
		}
		if allocs := testing.AllocsPerRun(1000, func() { c.handleData(in) }); allocs != 0 {
			t.Errorf("%s: %.1f allocations per request, want 0", r.name, allocs)
		}
	}
}

func BenchmarkHandleData(b *testing.B) {
	srv, err := newServer(config{})
	if err != nil {
		b.Fatal(err)
	}
	c := &client{srv: srv}
	c.handleData([]byte(warmKeyspace))
	for _, r := range hotPathRequests {
		in := []byte(r.request)
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for i := 0; i < b.N; i++ {
				c.handleData(in)
			}
		})
	}
}
