//go:build !race

// The race detector allocates on its own, so this runs without it.

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

// TestTLSServerAllocatesOnlyInCryptoTLS is TestServerAllocatesNothing
// over HTTPS: once a connection is warm, a keep-alive request, in one TLS
// record or split over two, costs the server (the session, evio's loop
// and its TLS transport) nothing, with every timeout on, except what
// crypto/tls itself allocates: a 24-byte reader each time tls.Conn.Read
// has to fetch from its transport (crypto/tls/conn.go, readFromUntil:
// &atLeastReader{...} escapes to the heap, as go build
// -gcflags=crypto/tls=-m shows), which evio's transport, handing over a
// record at a time, makes once per record, and which nothing under a
// stock tls.Conn can avoid. (evio's tls.go says a request costs no
// allocation on this path; it costs that one.) So the test asserts at most
// one allocation per record, and, from a memory profile of the same runs,
// that the allocations in the server's goroutines are that reader, the
// Date the server formats once a second, and fewer than one a request of
// anything else (buffers crypto/tls takes from a sync.Pool, which this
// measurement's GCs empty), AllocsPerRun's rounding.
//
// testing.AllocsPerRun counts the mallocs of the whole process, so the
// TLS client must not be in it: crypto/tls's client side is no part of
// the claim, and whether it allocates is up to it. The client is this
// test binary run again as a process of its own (tlsClientProcess), told
// over a pipe when to send a request and answering with one byte once it
// has read and checked the response. What AllocsPerRun counts is then the
// server and this side of two pipes (a one-byte write and a one-byte read
// on *os.File, which allocate nothing).
func TestTLSServerAllocatesOnlyInCryptoTLS(t *testing.T) {
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	runtime.MemProfileRate = 1 // every allocation in the profile
	for _, v := range []variant{variants[0], variants[4]} {
		t.Run(v.name, func(t *testing.T) {
			ts, files := startTLSServer(t, v, nil)
			client := exec.Command(os.Args[0], "-test.run=^$")
			client.Env = append(os.Environ(), tlsClientEnv+"="+ts.address+" "+files.CA)
			client.Stderr = os.Stderr
			stdin, err := client.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := client.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := client.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				stdin.Close()
				client.Wait()
			})
			cmd, reply := make([]byte, 1), make([]byte, 1)
			failed := false
			roundTrip := func(c byte) {
				if failed {
					return
				}
				cmd[0] = c
				_, err := stdin.Write(cmd)
				if err == nil {
					_, err = io.ReadFull(stdout, reply)
				}
				if err != nil || reply[0] != 'k' {
					rest, _ := io.ReadAll(stdout)
					failed = true // once: the client has exited
					t.Errorf("client: %v %q", err, string(reply)+strings.TrimSpace(string(rest)))
				}
			}
			for i := 0; i < 100; i++ { // warm up
				roundTrip('w')
				roundTrip('s')
			}
			measure := func(what string, runs int, c byte, records int) {
				runtime.GC() // publishes the profile so far
				before := serverAllocations()
				// The server's Tick formats a new Date each second, one
				// allocation; AllocsPerRun rounds that away.
				allocs := testing.AllocsPerRun(runs, func() { roundTrip(c) })
				runtime.GC()
				var tlsReads, others int64
				var sites []string
				for stack, n := range serverAllocations() {
					n -= before[stack]
					switch {
					case n == 0 || strings.Contains(stack, "(*httpClock).update"):
					case strings.HasPrefix(stack, "crypto/tls.(*Conn).readFromUntil\n"):
						tlsReads += n
					default:
						// Rare ones are buffers that crypto/tls takes
						// from a sync.Pool, which the GCs of this
						// measurement empty, and the runtime's type
						// assertion caches, built once.
						others += n
						sites = append(sites, fmt.Sprintf("%d at\n%s", n, stack))
					}
				}
				requests := int64(runs + 1) // AllocsPerRun runs once more first
				t.Logf("%s: %v allocations per request; in %d requests, crypto/tls's reader %d times, others %d times",
					what, allocs, requests, tlsReads, others)
				if failed {
					return
				}
				// Per request, rounded down as AllocsPerRun does.
				if others/requests != 0 || allocs > float64(records) || tlsReads/requests > int64(records) {
					t.Errorf("%s: more allocations per request than crypto/tls's reader for each of its %d TLS records; the others:\n%s",
						what, records, strings.Join(sites, "\n"))
				}
			}
			measure("request", 500, 'w', 1)
			measure("request in two records", 100, 's', 2)
		})
	}
}

// serverAllocations is the memory profile's count of objects allocated so
// far, by stack (function names, innermost first from the allocator's
// caller, one a line), for the
// stacks that run in the server: through the evio package, as every
// goroutine of the server does (its loops, the portable engine's readers,
// handshake goroutines). The test's own allocations, this function's
// included, go through none of its functions.
func serverAllocations() map[string]int64 {
	n, _ := runtime.MemProfile(nil, true)
	records := make([]runtime.MemProfileRecord, n+100)
	n, ok := runtime.MemProfile(records, true)
	if !ok {
		panic("memory profile grew by more than 100 records")
	}
	stacks := make(map[string]int64, n)
	for _, r := range records[:n] {
		var b strings.Builder
		frames := runtime.CallersFrames(r.Stack())
		for caller := false; ; {
			f, more := frames.Next()
			// The allocator's frames first, then the caller's.
			if caller = caller || !strings.HasPrefix(f.Function, "runtime."); caller {
				b.WriteString(f.Function)
				b.WriteByte('\n')
			}
			if !more {
				break
			}
		}
		if stack := b.String(); strings.Contains(stack, "github.com/evio-go/evio.") {
			stacks[stack] += r.AllocObjects
		}
	}
	return stacks
}
