package evio

import (
	"errors"
	"syscall"
	"time"
)

// acceptBatch bounds the connections taken per readiness event, so that a
// connection storm cannot starve the loop's other connections.
const acceptBatch = 128

// Running out of descriptors or memory pauses accepting, for
// minAcceptBackoff, doubling to maxAcceptBackoff while it repeats.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

func nextAcceptBackoff(d time.Duration) time.Duration {
	d *= 2
	if d < minAcceptBackoff {
		d = minAcceptBackoff
	}
	if d > maxAcceptBackoff {
		d = maxAcceptBackoff
	}
	return d
}

// acceptFailure is what an accept error means for its listener; both
// engines decide by it.
type acceptFailure uint8

const (
	acceptFatal acceptFailure = iota // the listener is broken: the server stops and Serve returns it
	acceptSkip                       // one connection failed, not the listener: take the next
	acceptPause                      // out of descriptors or memory: the connection waits in the backlog
)

func classifyAcceptError(err error) acceptFailure {
	for _, errno := range [...]syscall.Errno{syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EPROTO, syscall.EPERM, syscall.EINTR} {
		if errors.Is(err, errno) {
			return acceptSkip
		}
	}
	for _, errno := range [...]syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, errno) {
			return acceptPause
		}
	}
	// Package net's accept errors of other systems (Windows') say whether
	// they may pass.
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && t.Temporary() {
		return acceptPause
	}
	return acceptFatal
}
