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
}

// TestHotPathAllocations checks that PING, GET, SET of an existing key,
// INCR and MGET allocate nothing per request in steady state (the race
// detector's instrumentation allocates, hence the build tag).
func TestHotPathAllocations(t *testing.T) {
	srv, err := newServer(config{})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{srv: srv}
	c.handleData([]byte("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"))
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
	c.handleData([]byte("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"))
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
