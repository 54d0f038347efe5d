package testcert

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
)

func TestFilesLoad(t *testing.T) {
	s, err := Get()
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(f.Cert, f.Key); err != nil {
		t.Fatalf("server pair: %v", err)
	}
	if _, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey); err != nil {
		t.Fatalf("client pair: %v", err)
	}
	leaf, err := x509.ParseCertificate(s.Server.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.Pool, DNSName: "localhost"}); err != nil {
		t.Fatalf("server certificate does not verify against the pool: %v", err)
	}
}
