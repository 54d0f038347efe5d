package evio_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"time"

	"github.com/evio-go/evio"
)

// selfSigned is a certificate for 127.0.0.1, and a pool that trusts it:
// what a real server loads with tls.LoadX509KeyPair.
func selfSigned() (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "example"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// A TLS server: Data sees plaintext and returns plaintext; the loop
// encrypts. Opened fires once the handshake is done, so it can see what
// was negotiated.
func ExampleEvents_tls() {
	cert, pool := selfSigned()
	var events evio.Events
	events.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"echo/1"}}
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		state, _ := c.TLSConnectionState()
		return []byte("protocol " + state.NegotiatedProtocol + "\n"), evio.Options{}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		return in, evio.Close // echo, then close_notify and close
	}
	runClient(events, func(addr string) {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, NextProtos: []string{"echo/1"}})
		if err != nil {
			log.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("hello over TLS\n"))
		reply, err := io.ReadAll(c) // to the server's close_notify
		fmt.Printf("%s%v\n", reply, err)
	})
	// Output:
	// protocol echo/1
	// hello over TLS
	// <nil>
}

// An outbound TLS connection from the loops: Opened fires once the
// handshake is done; a failed one gets Closed with the error.
func ExampleDialOptions_tls() {
	cert, pool := selfSigned()
	backend := evio.Events{TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	backend.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) { return in, evio.None }
	b, err := evio.Start(backend, "tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Stop(context.Background())

	echoed := make(chan string, 1)
	var events evio.Events
	events.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
		state, _ := c.TLSConnectionState()
		fmt.Println("handshake complete:", state.HandshakeComplete)
		return []byte("ping"), evio.Options{}, evio.None
	}
	events.Data = func(c evio.Conn, in []byte) ([]byte, evio.Action) {
		echoed <- string(in)
		return nil, evio.Close
	}
	h, err := evio.Start(events, "tcp://127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer h.Stop(context.Background())
	// The certificate names 127.0.0.1, the host dialed: it is verified.
	if _, err := h.Dial(b.Addrs()[0].String(), evio.DialOptions{TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("echoed:", <-echoed)
	// Output:
	// handshake complete: true
	// echoed: ping
}
