// Package testcert makes a throwaway certificate authority, a server
// certificate for localhost, 127.0.0.1 and ::1, and a client certificate,
// for the examples' TLS tests: in memory, and as PEM files in a directory
// for the programs' -tls-*-file flags and for curl, openssl, redis-cli.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Set is a certificate authority with a server and a client certificate.
type Set struct {
	Pool   *x509.CertPool  // trusts the authority
	Server tls.Certificate // CN localhost; for localhost, 127.0.0.1 and ::1
	Client tls.Certificate // for client authentication

	caPEM, serverPEM, serverKeyPEM, clientPEM, clientKeyPEM []byte
}

// Files are the PEM files of a Set written to a directory.
type Files struct {
	CA, Cert, Key, ClientCert, ClientKey string
}

var (
	once sync.Once
	set  *Set
	err  error
)

// Get returns the Set, made the first time it is asked for.
func Get() (*Set, error) {
	once.Do(func() { set, err = generate() })
	return set, err
}

// ServerConfig is a server configuration with the server certificate.
func (s *Set) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{s.Server}}
}

// ClientConfig is a client configuration that trusts the authority and
// verifies the name localhost.
func (s *Set) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: s.Pool, ServerName: "localhost"}
}

// Write writes the Set's PEM files into dir (a test's TempDir).
func (s *Set) Write(dir string) (Files, error) {
	f := Files{
		CA:         filepath.Join(dir, "ca.crt"),
		Cert:       filepath.Join(dir, "server.crt"),
		Key:        filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.crt"),
		ClientKey:  filepath.Join(dir, "client.key"),
	}
	for path, data := range map[string][]byte{
		f.CA: s.caPEM, f.Cert: s.serverPEM, f.Key: s.serverKeyPEM,
		f.ClientCert: s.clientPEM, f.ClientKey: s.clientKeyPEM,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return Files{}, fmt.Errorf("testcert: %w", err)
		}
	}
	return f, nil
}

func generate() (*Set, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testcert: CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "evio examples test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("testcert: CA: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("testcert: CA: %w", err)
	}
	s := &Set{Pool: x509.NewCertPool(), caPEM: pemBlock("CERTIFICATE", caDER)}
	s.Pool.AddCert(ca)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte, error) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(7 * 24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return tls.Certificate{}, nil, nil, err
		}
		cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
		return cert, pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
	}
	if s.Server, s.serverPEM, s.serverKeyPEM, err = leaf(2, "localhost", x509.ExtKeyUsageServerAuth); err != nil {
		return nil, fmt.Errorf("testcert: server certificate: %w", err)
	}
	if s.Client, s.clientPEM, s.clientKeyPEM, err = leaf(3, "evio examples test client", x509.ExtKeyUsageClientAuth); err != nil {
		return nil, fmt.Errorf("testcert: client certificate: %w", err)
	}
	return s, nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}
