package evio

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// testPKI is a certificate authority and a server certificate for
// 127.0.0.1, ::1 and "localhost", made once per test binary.
type testPKI struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate // signed by the same authority, for client authentication
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

func testCerts(t testing.TB) testPKI {
	if t != nil { // nil in a child process
		t.Helper()
	}
	pkiOnce.Do(func() {
		caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		ca := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "evio test CA"},
			NotBefore:             time.Now().Add(-time.Hour),
			NotAfter:              time.Now().Add(24 * time.Hour),
			IsCA:                  true,
			KeyUsage:              x509.KeyUsageCertSign,
			BasicConstraintsValid: true,
		}
		caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
		if err != nil {
			panic(err)
		}
		caCert, _ := x509.ParseCertificate(caDER)
		pki.pool = x509.NewCertPool()
		pki.pool.AddCert(caCert)
		leaf := func(serial int64, name string, usage x509.ExtKeyUsage) tls.Certificate {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				panic(err)
			}
			tmpl := &x509.Certificate{
				SerialNumber: big.NewInt(serial),
				Subject:      pkix.Name{CommonName: name},
				NotBefore:    time.Now().Add(-time.Hour),
				NotAfter:     time.Now().Add(24 * time.Hour),
				KeyUsage:     x509.KeyUsageDigitalSignature,
				ExtKeyUsage:  []x509.ExtKeyUsage{usage},
				DNSNames:     []string{"localhost"},
				IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
			}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
			if err != nil {
				panic(err)
			}
			return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
		}
		pki.server = leaf(2, "localhost", x509.ExtKeyUsageServerAuth)
		pki.client = leaf(3, "evio test client", x509.ExtKeyUsageClientAuth)
	})
	return pki
}

// serverTLS is a server configuration with the test certificate.
func serverTLS(t testing.TB) *tls.Config {
	p := testCerts(t)
	return &tls.Config{Certificates: []tls.Certificate{p.server}}
}

// clientTLS is a client configuration that trusts the test authority.
func clientTLS(t testing.TB) *tls.Config {
	p := testCerts(t)
	return &tls.Config{RootCAs: p.pool, ServerName: "localhost"}
}

// dialTLS connects to the i-th address of the server over TLS and
// completes the handshake.
func (s *testServer) dialTLS(i int, config *tls.Config) *tls.Conn {
	s.t.Helper()
	raw := s.dial(i)
	tc := tls.Client(raw, config)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		s.t.Fatalf("TLS handshake with %s: %v", s.addrs[i], err)
	}
	tc.SetDeadline(time.Time{})
	return tc
}
