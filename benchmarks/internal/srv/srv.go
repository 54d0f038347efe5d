// Package srv holds what every Go benchmark server shares: the command-line
// flags (-port, -loops, -stats) and the allocation hook the harness reads.
package srv

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/metrics"
	"syscall"
)

// Config is what the flags say.
type Config struct {
	Port  int // TCP port on 127.0.0.1
	Loops int // event loops; servers without loops accept and ignore it
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
	flag.Parse()
	if *stats != "" {
		startStatsHook(*stats)
	}
	return c
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
			// Write then rename, so a reader never sees half a file.
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
				log.Printf("stats: %v", err)
				continue
			}
			if err := os.Rename(tmp, path); err != nil {
				log.Printf("stats: %v", err)
			}
		}
	}()
}
