// Package phase is the measured interval of the harness's own load tools
// (echoload, udpload): a warm-up, then an interval the driver sees between
// the lines "start" and "stop" on the tool's standard output. Workers read
// the phase after each round trip to know whether to record it, or to end.
package phase

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/hist"
)

// The phases of a run, in order.
const (
	Warming int32 = iota
	Measuring
	Stopped
)

// Phase is where a run is; the zero value is Warming. Safe for concurrent
// use.
type Phase struct{ v atomic.Int32 }

// Load is the current phase.
func (p *Phase) Load() int32 { return p.v.Load() }

// Run warms up for warmup, then measures for duration, printing "start"
// and "stop" around it, and returns how long the interval really was.
func (p *Phase) Run(warmup, duration time.Duration) time.Duration {
	time.Sleep(warmup)
	p.v.Store(Measuring)
	start := time.Now()
	fmt.Println("start")
	time.Sleep(duration)
	p.v.Store(Stopped)
	elapsed := time.Since(start)
	fmt.Println("stop")
	return elapsed
}

// Merged is the histograms of every worker as one.
func Merged(hs []hist.H) hist.H {
	var all hist.H
	for i := range hs {
		all.Merge(&hs[i])
	}
	return all
}
