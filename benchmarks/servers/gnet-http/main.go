// Command gnet-http is the HTTP/1.1 plaintext benchmark server on
// github.com/panjf2000/gnet/v2: it peeks at everything buffered, answers each
// complete request, discards what it answered and writes all the responses
// at once, as gnet's HTTP examples do.
package main

import (
	"log"

	"github.com/evio-go/evio/benchmarks/internal/plaintext"
	"github.com/evio-go/evio/benchmarks/internal/srv"
	"github.com/panjf2000/gnet/v2"
)

type httpServer struct {
	gnet.BuiltinEventEngine
}

// session is a connection's output scratch; gnet keeps the unparsed input.
type session struct {
	out []byte
}

func (*httpServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	return nil, gnet.None
}

func (*httpServer) OnTraffic(c gnet.Conn) gnet.Action {
	s, _ := c.Context().(*session)
	if s == nil {
		// Created on first data: an idle connection holds no state.
		s = &session{}
		c.SetContext(s)
	}
	data, _ := c.Peek(-1)
	out, n, closeConn, err := plaintext.Serve(s.out[:0], data)
	s.out = out
	c.Discard(n)
	if len(out) > 0 {
		c.Write(out)
	}
	if closeConn || err != nil {
		return gnet.Close
	}
	return gnet.None
}

func main() {
	cfg := srv.Parse()
	log.Fatal(gnet.Run(&httpServer{}, "tcp://"+cfg.Addr(), gnet.WithNumEventLoop(cfg.Loops), gnet.WithReusePort(cfg.ReusePort)))
}
