// Command fasthttp is the HTTP/1.1 plaintext benchmark server on
// github.com/valyala/fasthttp, written as its documentation writes a handler.
package main

import (
	"log"

	"github.com/evio-go/evio/benchmarks/internal/plaintext"
	"github.com/evio-go/evio/benchmarks/internal/srv"
	"github.com/valyala/fasthttp"
)

func main() {
	cfg := srv.Parse()
	s := &fasthttp.Server{
		Name: plaintext.ServerName,
		Handler: func(ctx *fasthttp.RequestCtx) {
			ctx.SetContentType(plaintext.ContentType)
			ctx.SetBodyString(plaintext.Body)
		},
	}
	log.Fatal(s.ListenAndServe(cfg.Addr()))
}
