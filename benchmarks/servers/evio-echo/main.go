// Command evio-echo is the TCP echo benchmark server on this library
// (github.com/evio-go/evio).
package main

import (
	"log"

	"github.com/evio-go/evio"
	"github.com/evio-go/evio/benchmarks/internal/eviosrv"
	"github.com/evio-go/evio/benchmarks/internal/srv"
)

func main() {
	cfg := srv.Parse()
	events := evio.Events{NumLoops: cfg.Loops}
	// With -tls-cert-file and -tls-key-file the same callbacks serve TLS:
	// Data sees plaintext, so the TLS benchmark compares plain and TLS on
	// one program.
	events.TLSConfig = cfg.TLS()
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		return nil, evio.Options{ReuseInputBuffer: true}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		// out is copied before Data returns, so the loop's input buffer can
		// be handed straight back.
		return in, evio.None
	}
	events.Serving = eviosrv.RequireEngine(cfg)
	log.Fatal(evio.Serve(events, cfg.EvioAddr()))
}
