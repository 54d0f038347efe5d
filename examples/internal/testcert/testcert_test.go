package testcert

import (
	"crypto/tls"
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
	leaf := s.Server.Leaf
	if leaf == nil {
		t.Log("leaf parsed lazily")
	}
}
