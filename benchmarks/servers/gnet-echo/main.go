// Command gnet-echo is the TCP echo benchmark server on
// github.com/panjf2000/gnet/v2, written as gnet's documentation writes its
// echo server.
package main

import (
	"log"

	"github.com/evio-go/evio/benchmarks/internal/srv"
	"github.com/panjf2000/gnet/v2"
)

type echoServer struct {
	gnet.BuiltinEventEngine
}

func (*echoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func main() {
	cfg := srv.Parse()
	log.Fatal(gnet.Run(&echoServer{}, "tcp://"+cfg.Addr(), gnet.WithNumEventLoop(cfg.Loops), gnet.WithReusePort(cfg.ReusePort)))
}
