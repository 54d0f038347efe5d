//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package evio_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/evio-go/evio"
)

// A socket per loop: with reuseport and several loops, on Linux, each loop
// listens on the port with a socket of its own and serves what it
// accepts, so the loops share nothing on the request path. Server.Addrs
// still has one address; elsewhere the port keeps one socket and the
// balancer spreads connections.
func Example_reusePortPerLoop() {
	events := evio.Events{NumLoops: 4}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) { return in, evio.None }
	h, err := evio.Start(events, "tcp://127.0.0.1:0?reuseport=true")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("addresses:", len(h.Addrs()))
	answered := 0
	for i := 0; i < 16; i++ {
		c, err := net.Dial("tcp", h.Addrs()[0].String())
		if err != nil {
			log.Fatal(err)
		}
		c.Write([]byte("ping"))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "ping" {
			answered++
		}
		c.Close()
	}
	fmt.Println("answered:", answered)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fmt.Println(h.Stop(ctx))
	// Output:
	// addresses: 1
	// answered: 16
	// <nil>
}
