// Command gnet-redis is the Redis PING/SET/GET benchmark server on
// github.com/panjf2000/gnet/v2: it peeks at everything buffered, executes
// each complete command, discards what it executed and writes all the
// replies at once.
package main

import (
	"log"

	"github.com/evio-go/evio/benchmarks/internal/resp"
	"github.com/evio-go/evio/benchmarks/internal/srv"
	"github.com/panjf2000/gnet/v2"
)

type redisServer struct {
	gnet.BuiltinEventEngine
	db *resp.DB
}

// session is a connection's parser scratch and output buffer; gnet keeps
// the unparsed input.
type session struct {
	rc  resp.Conn
	out []byte
}

func (*redisServer) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	return nil, gnet.None
}

func (rs *redisServer) OnTraffic(c gnet.Conn) gnet.Action {
	s, _ := c.Context().(*session)
	if s == nil {
		// Created on first data: an idle connection holds no state.
		s = &session{}
		c.SetContext(s)
	}
	data, _ := c.Peek(-1)
	out, n, err := rs.db.Serve(&s.rc, s.out[:0], data)
	s.out = out
	c.Discard(n)
	if len(out) > 0 {
		c.Write(out)
	}
	if err != nil {
		return gnet.Close
	}
	return gnet.None
}

func main() {
	cfg := srv.Parse()
	rs := &redisServer{db: resp.NewDB()}
	log.Fatal(gnet.Run(rs, "tcp://"+cfg.Addr(), gnet.WithNumEventLoop(cfg.Loops), gnet.WithReusePort(cfg.ReusePort)))
}
