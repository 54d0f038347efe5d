// Command evio-http is the HTTP/1.1 plaintext benchmark server on this
// library (github.com/evio-go/evio).
package main

import (
	"log"

	"github.com/evio-go/evio"
	"github.com/evio-go/evio/benchmarks/internal/eviosrv"
	"github.com/evio-go/evio/benchmarks/internal/plaintext"
	"github.com/evio-go/evio/benchmarks/internal/srv"
)

// session is a connection's state: the unparsed tail of its input and a
// scratch buffer for its output, which evio copies when Data returns. The
// buffer starts in the session itself, room for a few answers, so that a
// connection that asks once costs one allocation, not one per growth.
type session struct {
	is      evio.InputStream
	out     []byte
	scratch [512]byte
}

func main() {
	cfg := srv.Parse()
	events := evio.Events{NumLoops: cfg.Loops}
	// With -tls-cert-file and -tls-key-file the same callbacks serve TLS:
	// Data sees plaintext, so the TLS benchmark compares plain and TLS on
	// one program.
	events.TLSConfig = cfg.TLS()
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		return nil, evio.Options{ReuseInputBuffer: true}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		if in == nil {
			return nil, evio.None
		}
		s, _ := c.Context().(*session)
		if s == nil {
			// Created on first data: an idle connection holds no state.
			s = &session{}
			s.out = s.scratch[:0]
			c.SetContext(s)
		}
		data := s.is.Begin(in)
		out, n, closeConn, err := plaintext.Serve(s.out[:0], data)
		s.out = out
		if closeConn || err != nil {
			return out, evio.Close
		}
		s.is.End(data[n:])
		return out, evio.None
	}
	events.Serving = eviosrv.RequireEngine(cfg)
	log.Fatal(evio.Serve(events, cfg.EvioAddr()))
}
