// Command tidwall-echo is the TCP echo benchmark server on
// github.com/tidwall/evio v1.0.8, the library evio replaces. It is the same
// code as the evio server: the API is the same.
package main

import (
	"log"

	"github.com/evio-go/evio/benchmarks/internal/srv"
	"github.com/tidwall/evio"
)

func main() {
	cfg := srv.Parse()
	events := evio.Events{NumLoops: cfg.Loops}
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		return nil, evio.Options{ReuseInputBuffer: true}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		// out is copied before Data returns, so the loop's input buffer can
		// be handed straight back.
		return in, evio.None
	}
	log.Fatal(evio.Serve(events, "tcp://"+cfg.Addr()))
}
