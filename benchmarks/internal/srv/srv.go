// Package srv holds what every Go benchmark server shares: the command-line
// flags (-port, -loops, -stats, and for the TLS benchmark -tls-cert-file,
// -tls-key-file, -heap) and the hooks the harness reads.
package srv

import (
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"syscall"
)

// Config is what the flags say.
type Config struct {
	Port  int // TCP port on 127.0.0.1
	Loops int // event loops; servers without loops accept and ignore it
	// TLSCertFile and TLSKeyFile are PEM files; when both are set, the
	// server speaks TLS (the servers that support it; see TLS).
	TLSCertFile, TLSKeyFile string
	// Engine is "uring" for evio's io_uring engine; empty for each
	// library's default.
	Engine string
	// ReusePort listens with SO_REUSEPORT; with several loops, evio and
	// gnet then give each loop a socket of its own on Linux (the
	// core-scaling measurement in benchmarks/README.md).
	ReusePort bool
}

// EvioAddr is the address an evio server listens on:
// scheme://host:port, with ?reuseport=true when asked.
func (c Config) EvioAddr() string {
	a := c.Scheme() + "://" + c.Addr()
	if c.ReusePort {
		a += "?reuseport=true"
	}
	return a
}

// Scheme is the evio address scheme for Engine: "tcp" or "tcp-uring".
func (c Config) Scheme() string {
	if c.Engine == "uring" {
		return "tcp-uring"
	}
	return "tcp"
}

// TLS returns the server's TLS configuration, or nil when the flags ask
// for plain TCP. It is the crypto/tls default apart from the certificate,
// so that every Go server in the TLS benchmark negotiates the same way and
// the client alone picks the version and the key exchange.
func (c Config) TLS() *tls.Config {
	if c.TLSCertFile == "" && c.TLSKeyFile == "" {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		log.Fatalf("tls: %v", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// Host is where every benchmark server listens: the harness sends traffic
// on loopback only.
const Host = "127.0.0.1"

// Addr is host:port.
func (c Config) Addr() string { return fmt.Sprintf("%s:%d", Host, c.Port) }

// Parse parses the flags, and starts the statistics hook when -stats names
// a file.
func Parse() Config {
	var c Config
	flag.IntVar(&c.Port, "port", 5000, "TCP port to listen on, on "+Host)
	flag.IntVar(&c.Loops, "loops", 1, "event loops (ignored by servers without loops)")
	stats := flag.String("stats", "", "on SIGUSR1, write allocation counters as JSON to this file")
	flag.StringVar(&c.TLSCertFile, "tls-cert-file", "", "PEM certificate: serve TLS (with -tls-key-file)")
	flag.StringVar(&c.TLSKeyFile, "tls-key-file", "", "PEM private key of -tls-cert-file")
	flag.BoolVar(&c.ReusePort, "reuseport", false, "listen with SO_REUSEPORT: with -loops > 1, a socket per loop (evio and gnet, on Linux)")
	flag.StringVar(&c.Engine, "engine", "", `"uring": evio's io_uring engine (evio servers only; they fail rather than fall back)`)
	heap := flag.String("heap", "", "on SIGUSR2, collect garbage and write heap figures as JSON to this file")
	flag.Parse()
	if *stats != "" {
		startStatsHook(*stats)
	}
	if *heap != "" {
		startHeapHook(*heap)
	}
	return c
}

// Heap is what the heap hook writes, after a full collection, so that
// HeapAlloc is the live heap: the memory benchmark divides its growth by
// the connections that caused it. StackInuse is apart from the heap, and
// is where a goroutine-per-connection server's stacks show up.
type Heap struct {
	Seq          int64  `json:"seq"`
	HeapAlloc    uint64 `json:"heap_alloc"`
	HeapInuse    uint64 `json:"heap_inuse"`
	StackInuse   uint64 `json:"stack_inuse"`
	Sys          uint64 `json:"sys"`
	NumGoroutine int    `json:"goroutines"`
}

// startHeapHook answers SIGUSR2 by writing Heap to path. A signal for the
// same reason as the statistics hook; a signal of its own because it
// collects garbage, which the allocation counters must not pay for.
func startHeapHook(path string) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR2)
	go func() {
		var seq int64
		for range sig {
			seq++
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			h := Heap{Seq: seq, HeapAlloc: m.HeapAlloc, HeapInuse: m.HeapInuse,
				StackInuse: m.StackInuse, Sys: m.Sys, NumGoroutine: runtime.NumGoroutine()}
			b, _ := json.Marshal(h)
			writeAtomic(path, append(b, '\n'))
		}
	}()
}

// writeAtomic writes then renames, so a reader never sees half a file.
func writeAtomic(path string, b []byte) {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		log.Printf("stats: %v", err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		log.Printf("stats: %v", err)
	}
}

// Stats is what the hook writes: runtime/metrics counters since the start
// of the process, and Seq, the number of the signal it answers, so that the
// harness knows the file is fresh.
type Stats struct {
	Seq           int64  `json:"seq"`
	AllocsObjects uint64 `json:"allocs_objects"`
	AllocsBytes   uint64 `json:"allocs_bytes"`
	GCCycles      uint64 `json:"gc_cycles"`
}

// startStatsHook answers SIGUSR1 by writing Stats to path. It uses a signal
// rather than a socket so that it adds nothing to the server while it is
// measured: no listener in the Go netpoller, which would change how the
// runtime parks an event loop blocked in epoll_wait.
func startStatsHook(path string) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	samples := []metrics.Sample{
		{Name: "/gc/heap/allocs:objects"},
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	go func() {
		var seq int64
		for range sig {
			seq++
			metrics.Read(samples)
			s := Stats{Seq: seq}
			s.AllocsObjects = samples[0].Value.Uint64()
			s.AllocsBytes = samples[1].Value.Uint64()
			s.GCCycles = samples[2].Value.Uint64()
			b, _ := json.Marshal(s)
			writeAtomic(path, append(b, '\n'))
		}
	}()
}
