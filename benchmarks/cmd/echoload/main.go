// Command echoload is the echo load generator: C connections, each one
// goroutine doing blocking ping-pong with a fixed-size message (write it,
// read it back whole, compare, repeat). It reports requests/s and p50/p99
// round-trip latency.
//
//	echoload -addr 127.0.0.1:5000 -c 50 -size 64 -warmup 1s -duration 5s
//
// It prints "start" when the measured interval begins and "stop" when it
// ends, each on its own line, so that a harness can read the server's CPU
// counters at those instants; then one line of JSON with the results.
// Round trips completed during the warmup or after "stop" are not counted.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/hist"
	"github.com/evio-go/evio/benchmarks/internal/phase"
)

// Result is the JSON line echoload prints last.
type Result struct {
	Conns    int     `json:"conns"`
	Size     int     `json:"size"`
	Requests uint64  `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	Errors   uint64  `json:"errors"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "server address")
	conns := flag.Int("c", 50, "connections")
	size := flag.Int("size", 64, "message size in bytes")
	warmup := flag.Duration("warmup", time.Second, "ping-pong before the measured interval")
	duration := flag.Duration("duration", 5*time.Second, "measured interval")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("echoload: ")

	// Connect everything first, so that connection setup is not measured.
	cs := make([]net.Conn, *conns)
	for i := range cs {
		c, err := net.Dial("tcp", *addr)
		if err != nil {
			log.Fatal(err)
		}
		cs[i] = c
	}

	var run phase.Phase
	var errs atomic.Uint64
	hs := make([]hist.H, *conns)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pingPong(c, *size, &run, &hs[i]); err != nil {
				errs.Add(1)
				log.Printf("connection %d: %v", i, err)
			}
		}()
	}

	elapsed := run.Run(*warmup, *duration)
	wg.Wait()
	for _, c := range cs {
		c.Close()
	}

	all := phase.Merged(hs)
	r := Result{
		Conns:    *conns,
		Size:     *size,
		Requests: all.Count(),
		Seconds:  elapsed.Seconds(),
		RPS:      float64(all.Count()) / elapsed.Seconds(),
		P50us:    float64(all.Quantile(0.50)) / 1e3,
		P99us:    float64(all.Quantile(0.99)) / 1e3,
		Errors:   errs.Load(),
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	if r.Errors > 0 {
		os.Exit(1)
	}
}

// pingPong runs round trips on c until the phase is stopped, recording the
// latency of those that complete while measuring.
func pingPong(c net.Conn, size int, run *phase.Phase, h *hist.H) error {
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	got := make([]byte, size)
	for {
		t0 := time.Now()
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return err
		}
		d := time.Since(t0)
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("echo mismatch: got %q", got)
		}
		switch run.Load() {
		case phase.Measuring:
			h.Record(d)
		case phase.Stopped:
			return nil
		}
	}
}
