// Package eviosrv holds what the evio benchmark servers share beyond srv:
// kept apart so that the other libraries' servers do not link evio.
package eviosrv

import (
	"log"

	"github.com/evio-go/evio"
	"github.com/evio-go/evio/benchmarks/internal/srv"
)

// RequireEngine is a Serving event that stops the server when -engine asked
// for io_uring and the system refused it: a benchmark row must measure the
// engine it is named after, not the fall-back.
func RequireEngine(c srv.Config) func(evio.Server) evio.Action {
	return func(s evio.Server) evio.Action {
		if c.Engine == "uring" && s.Engine != "io_uring" {
			log.Fatalf("io_uring asked for, running on %s: %v", s.Engine, s.EngineFallback)
		}
		return evio.None
	}
}
