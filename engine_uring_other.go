//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package evio

import "fmt"

// openURing refuses: io_uring is Linux's. A server that asks for it runs
// on kqueue, and Server.EngineFallback says so.
func openURing(l *loop) (transport, error) {
	return nil, fmt.Errorf("%w: io_uring is Linux only", ErrIOUringUnavailable)
}
