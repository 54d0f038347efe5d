// Command gnet-udp is the UDP echo benchmark server on
// github.com/panjf2000/gnet/v2, written as gnet-echo is: OnTraffic takes
// the datagram with Next and writes it back, which gnet sends to the
// sender with sendto.
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
	log.Fatal(gnet.Run(&echoServer{}, "udp://"+cfg.Addr(), gnet.WithNumEventLoop(cfg.Loops)))
}
