// Command evio-udp is the UDP echo benchmark server on this library
// (github.com/evio-go/evio): every datagram comes back to its sender as it
// came. Built as it is, it moves datagrams in batches on Linux (recvmmsg,
// sendmmsg); run.sh also builds it with -tags evio_nommsg, one recvfrom and
// one sendto per datagram, as the row evio-unbatched, so that the harness
// measures what the batches save.
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
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		return in, evio.None // out is copied before the next datagram is read
	}
	events.Serving = eviosrv.RequireEngine(cfg)
	scheme := "udp"
	if cfg.Engine == "uring" {
		scheme = "udp-uring"
	}
	log.Fatal(evio.Serve(events, scheme+"://"+cfg.Addr()))
}
