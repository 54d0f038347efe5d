package evio

import (
	"errors"
	"math/rand"
	"runtime"
	"sync/atomic"
	"time"
)

// drainTimeout bounds how long Shutdown keeps writing queued output before
// it closes the connections anyway.
const drainTimeout = 5 * time.Second

// readBufferSize is the size of each loop's read buffer, and so the most one
// Data event delivers.
const readBufferSize = 64 << 10

// Output bounds; see Options.MaxOutput and Events.MaxTotalOutput.
const (
	defaultMaxOutput      = 64 << 20
	defaultMaxTotalOutput = 1 << 30
	// sharedOutputFloor is the queue size up to which a connection is never
	// held back by the server-wide total.
	sharedOutputFloor = 64 << 10
)

// lingerTimeout bounds how long a closed connection is kept half-open, its
// input discarded, while it is unsettled (see closeGracefully): closing it
// then could reset it and destroy output the peer has not received yet.
// lingerRecheck is how often a lingering connection is checked for having
// settled.
const (
	lingerTimeout = 2 * time.Second
	lingerRecheck = 2 * time.Millisecond
)

// outputBudget is the server-wide bound on queued output. Each loop
// publishes its own total once per iteration; any goroutine may read.
type outputBudget struct {
	limit  int64
	queued []atomic.Int64 // by loop
}

func newOutputBudget(limit, loops int) *outputBudget {
	if limit <= 0 {
		limit = defaultMaxTotalOutput
	}
	return &outputBudget{limit: int64(limit), queued: make([]atomic.Int64, loops)}
}

// exhausted reports whether the server holds its limit of queued output.
func (b *outputBudget) exhausted() bool {
	var total int64
	for i := range b.queued {
		total += b.queued[i].Load()
	}
	return total >= b.limit
}

// overLimit applies Options.MaxOutput and Events.MaxTotalOutput to a queue
// of n bytes whose own bound is max.
func (b *outputBudget) overLimit(n, max int) bool {
	return n >= max || (n > sharedOutputFloor && b.exhausted())
}

func maxOutputOf(opts Options) int {
	if opts.MaxOutput <= 0 {
		return defaultMaxOutput
	}
	return opts.MaxOutput
}

// serve parses the addresses and runs the server on one engine: the
// portable one when any address asks for it (or the system has no
// epoll/kqueue), the poll engine otherwise.
func serve(events Events, addrs []string) error {
	if len(addrs) == 0 {
		return errors.New("evio: Serve needs at least one address")
	}
	specs := make([]listenSpec, len(addrs))
	portable := !pollEngineAvailable
	for i, raw := range addrs {
		spec, err := parseAddr(raw)
		if err != nil {
			return err
		}
		specs[i] = spec
		portable = portable || spec.portable
	}
	numLoops := events.NumLoops
	switch {
	case numLoops < 0:
		numLoops = runtime.NumCPU()
	case numLoops == 0:
		numLoops = 1
	}
	if portable {
		return serveStd(events, specs, numLoops)
	}
	return servePoll(events, specs, numLoops)
}

// balancer assigns new connections to loops by Events.LoadBalance. It is
// shared by the goroutines that accept; every method is safe for concurrent
// use.
type balancer struct {
	method LoadBalance
	next   atomic.Uint64  // RoundRobin's turn
	load   []atomic.Int64 // connections assigned to each loop and not yet closed
}

func newBalancer(method LoadBalance, loops int) *balancer {
	return &balancer{method: method, load: make([]atomic.Int64, loops)}
}

// pick chooses the loop for a new connection and counts it there.
func (b *balancer) pick() int {
	n := len(b.load)
	i := 0
	if n > 1 {
		switch b.method {
		case RoundRobin:
			i = int((b.next.Add(1) - 1) % uint64(n))
		case LeastConnections:
			least := b.load[0].Load()
			for j := 1; j < n; j++ {
				if l := b.load[j].Load(); l < least {
					i, least = j, l
				}
			}
		default: // Random, and any value evio would not know either
			i = rand.Intn(n)
		}
	}
	b.load[i].Add(1)
	return i
}

// release uncounts a connection of loop i that has closed or detached.
func (b *balancer) release(i int) { b.load[i].Add(-1) }
