// Command net-tls-echo is the TLS echo server people write with the
// standard library alone: tls.Listen and a goroutine per connection, each
// reading into a 4 KiB buffer of its own. It is the TLS benchmark's
// reference for evio-echo with -tls-cert-file.
package main

import (
	"crypto/tls"
	"log"
	"net"

	"github.com/evio-go/evio/benchmarks/internal/srv"
)

func main() {
	cfg := srv.Parse()
	tc := cfg.TLS()
	if tc == nil {
		log.Fatal("net-tls-echo needs -tls-cert-file and -tls-key-file")
	}
	ln, err := tls.Listen("tcp", cfg.Addr(), tc)
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go handle(c)
	}
}

// handle echoes until the peer goes. The handshake happens in the first
// Read, on this goroutine, as it does in a server written this way.
func handle(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
