// Command net-echo is the TCP echo benchmark server on Go's net package: a
// goroutine per connection running io.Copy(c, c), the net package's own
// Listener example.
package main

import (
	"io"
	"log"
	"net"

	"github.com/evio-go/evio/benchmarks/internal/srv"
)

func main() {
	cfg := srv.Parse()
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go func() {
			io.Copy(c, c)
			c.Close()
		}()
	}
}
