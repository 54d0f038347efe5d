//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package evio

// pollEngineAvailable tells serve that this system runs the portable engine
// only.
const pollEngineAvailable = false

func servePoll(events Events, specs []listenSpec, numLoops int, h *Handle) error {
	return serveStd(events, specs, numLoops, h)
}
