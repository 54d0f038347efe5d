// Command net-redis is the Redis PING/SET/GET benchmark server on Go's net
// package: a goroutine per connection that reads into its buffer, executes
// every complete command in it and writes all the replies with one Write.
package main

import (
	"log"
	"net"

	"github.com/evio-go/evio/benchmarks/internal/resp"
	"github.com/evio-go/evio/benchmarks/internal/srv"
)

func main() {
	cfg := srv.Parse()
	db := resp.NewDB()
	ln, err := net.Listen("tcp", cfg.Addr())
	if err != nil {
		log.Fatal(err)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go serve(db, c)
	}
}

func serve(db *resp.DB, c net.Conn) {
	defer c.Close()
	var rc resp.Conn
	var out []byte
	buf := make([]byte, 4096)
	filled := 0
	for {
		if filled == len(buf) {
			// A command larger than the buffer: grow it.
			buf = append(buf, make([]byte, len(buf))...)
		}
		n, err := c.Read(buf[filled:])
		if err != nil {
			return
		}
		filled += n
		var used int
		out, used, err = db.Serve(&rc, out[:0], buf[:filled])
		if len(out) > 0 {
			if _, werr := c.Write(out); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
		filled = copy(buf, buf[used:filled])
	}
}
