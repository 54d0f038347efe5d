// Command udpload is the UDP echo load generator: C client sockets, each
// one goroutine keeping a window of W datagrams of a fixed size in flight
// to an echo server (send W, then one more for each reply), for a bounded
// time. It reports datagrams echoed per second and p50/p99 round-trip
// latency, as echoload does for TCP.
//
//	udpload -addr 127.0.0.1:5000 -c 50 -window 4 -size 64 -warmup 1s -duration 5s
//
// UDP may drop datagrams, loopback too when a socket buffer is full: a
// socket that gets no reply for -timeout counts what it has in flight as
// lost, ignores those replies should they come later, and sends a fresh
// window. Lost datagrams are reported, not counted as errors; a reply that
// is not the datagram sent (size, sequence number, content) is an error.
//
// It prints "start" when the measured interval begins and "stop" when it
// ends, each on its own line, so that a harness can read the server's CPU
// counters at those instants; then one line of JSON with the results.
// Replies received during the warmup or after "stop" are not counted.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/hist"
	"github.com/evio-go/evio/benchmarks/internal/phase"
)

// header is what each datagram starts with: its sequence number on its
// socket and when it was sent (nanoseconds since the run began).
const header = 16

// Result is the JSON line udpload prints last.
type Result struct {
	Conns    int     `json:"conns"`
	Window   int     `json:"window"`
	Size     int     `json:"size"`
	Requests uint64  `json:"requests"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P99us    float64 `json:"p99_us"`
	Lost     uint64  `json:"lost"`
	Errors   uint64  `json:"errors"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5000", "server address")
	conns := flag.Int("c", 50, "client sockets")
	window := flag.Int("window", 4, "datagrams in flight per socket")
	size := flag.Int("size", 64, "datagram size in bytes (at least 16)")
	timeout := flag.Duration("timeout", 200*time.Millisecond, "a socket with no reply for this long counts its window lost and sends a new one")
	warmup := flag.Duration("warmup", time.Second, "load before the measured interval")
	duration := flag.Duration("duration", 5*time.Second, "measured interval")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("udpload: ")
	if *size < header || *size > 65507 {
		log.Fatalf("-size %d: want 16 to 65507", *size)
	}
	if *window < 1 {
		log.Fatal("-window must be at least 1")
	}

	// Open every socket first, so that setup is not measured.
	cs := make([]*net.UDPConn, *conns)
	for i := range cs {
		raddr, err := net.ResolveUDPAddr("udp", *addr)
		if err != nil {
			log.Fatal(err)
		}
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			log.Fatal(err)
		}
		cs[i] = c
	}

	base := time.Now()
	var run phase.Phase
	var errs, lost atomic.Uint64
	hs := make([]hist.H, *conns)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &sender{c: c, size: *size, window: *window, timeout: *timeout, base: base, phase: &run, h: &hs[i], lost: &lost}
			if err := s.run(); err != nil {
				errs.Add(1)
				log.Printf("socket %d: %v", i, err)
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
		Window:   *window,
		Size:     *size,
		Requests: all.Count(),
		Seconds:  elapsed.Seconds(),
		RPS:      float64(all.Count()) / elapsed.Seconds(),
		P50us:    float64(all.Quantile(0.50)) / 1e3,
		P99us:    float64(all.Quantile(0.99)) / 1e3,
		Lost:     lost.Load(),
		Errors:   errs.Load(),
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	if r.Errors > 0 {
		os.Exit(1)
	}
}

// sender is one client socket's window.
type sender struct {
	c       *net.UDPConn
	size    int
	window  int
	timeout time.Duration
	base    time.Time
	phase   *phase.Phase
	h       *hist.H
	lost    *atomic.Uint64

	next     uint64 // the sequence number of the next datagram sent
	oldest   uint64 // replies to datagrams numbered below were counted lost
	inFlight int
}

// run keeps the window full until the phase is stopped, recording the
// round trips that complete while measuring.
func (s *sender) run() error {
	msg := make([]byte, s.size)
	for i := header; i < len(msg); i++ {
		msg[i] = byte('a' + i%26)
	}
	got := make([]byte, s.size+1) // one byte more tells a longer reply
	var deadline time.Time
	for {
		for s.inFlight < s.window {
			binary.LittleEndian.PutUint64(msg, s.next)
			binary.LittleEndian.PutUint64(msg[8:], uint64(time.Since(s.base)))
			if _, err := s.c.Write(msg); err != nil {
				// ENOBUFS or a refused port: counted as lost below.
				break
			}
			s.next++
			s.inFlight++
		}
		// One deadline for many reads: setting it costs a timer update.
		if now := time.Now(); deadline.Sub(now) < s.timeout/2 {
			deadline = now.Add(s.timeout)
			s.c.SetReadDeadline(deadline)
		}
		n, err := s.c.Read(got)
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				var ne net.Error
				if !errors.As(err, &ne) {
					return err
				}
			}
			// A refused port (ICMP) or the timeout: the window is gone.
			s.lost.Add(uint64(s.inFlight))
			s.oldest, s.inFlight = s.next, 0
			deadline = time.Time{}
			if s.phase.Load() == phase.Stopped {
				return nil
			}
			continue
		}
		now := time.Since(s.base)
		if n != s.size || !bytes.Equal(got[header:n], msg[header:]) {
			return fmt.Errorf("reply of %d bytes is not the datagram of %d sent", n, s.size)
		}
		seq := binary.LittleEndian.Uint64(got)
		if seq >= s.next {
			return fmt.Errorf("reply to datagram %d, which was not sent", seq)
		}
		if seq < s.oldest {
			continue // counted lost already
		}
		s.inFlight--
		switch s.phase.Load() {
		case phase.Measuring:
			s.h.Record(now - time.Duration(binary.LittleEndian.Uint64(got[8:])))
		case phase.Stopped:
			return nil
		}
	}
}
