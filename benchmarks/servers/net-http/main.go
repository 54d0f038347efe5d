// Command net-http is the HTTP/1.1 plaintext benchmark server on Go's
// net/http, written as its documentation writes a handler.
package main

import (
	"io"
	"log"
	"net/http"

	"github.com/evio-go/evio/benchmarks/internal/plaintext"
	"github.com/evio-go/evio/benchmarks/internal/srv"
)

func main() {
	cfg := srv.Parse()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Server", plaintext.ServerName)
		h.Set("Content-Type", plaintext.ContentType)
		h.Set("Content-Length", "13")
		io.WriteString(w, plaintext.Body)
	})
	if tc := cfg.TLS(); tc != nil {
		// The TLS benchmark's row: the same handler behind crypto/tls, as
		// an http.Server serves HTTPS.
		s := &http.Server{Addr: cfg.Addr(), TLSConfig: tc}
		log.Fatal(s.ListenAndServeTLS("", ""))
	}
	log.Fatal(http.ListenAndServe(cfg.Addr(), nil))
}
