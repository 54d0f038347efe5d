// Command certfiles writes the examples' throwaway test certificates
// (package testcert: a CA, a server certificate for localhost and
// 127.0.0.1, a client certificate) as PEM files into a directory, so that
// scripts/redis-clients.sh can start the server with TLS and run redis-cli
// and redis-benchmark --tls against it without openssl, which is not sure
// to be installed where go is.
//
//	go run ./examples/redis-server/internal/certfiles DIR
//
// It writes ca.crt, server.crt, server.key, client.crt and client.key.
package main

import (
	"fmt"
	"os"

	"github.com/evio-go/evio/examples/internal/testcert"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: certfiles DIR")
		os.Exit(2)
	}
	set, err := testcert.Get()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := set.Write(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
