package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// TLS as Redis 7 configures it, under Redis's option names: tls-port beside
// port (both served by one evio server, the plain listener marked
// tls=false), tls-cert-file and tls-key-file for the server, and
// tls-ca-cert-file with tls-auth-clients for client certificates. The unix
// socket stays plain, as in Redis. What Redis refuses at start-up (a
// tls-port without a certificate, client authentication without a CA, a
// file that cannot be loaded) this server refuses too, with Redis's words.

// tlsSettings are Redis's tls-* options.
type tlsSettings struct {
	// port is Redis's tls-port; 0 serves no TLS.
	port int
	// freePort serves TLS on a port the system picks (-tls-port free), as
	// -port 0 does for the plain port: Redis has no such value, but
	// scripts and tests need a port nobody else holds.
	freePort bool

	certFile, keyFile, caCertFile string
	// authClients is tls-auth-clients: yes (Redis's default), no or
	// optional; "" is yes.
	authClients string
}

// enabled reports whether the server serves TLS, which is what makes
// Redis load the tls-* files at all.
func (t *tlsSettings) enabled() bool { return t.port != 0 || t.freePort }

// register defines the -tls-* flags on fs.
func (t *tlsSettings) register(fs *flag.FlagSet) {
	fs.Var(tlsPortFlag{t}, "tls-port", "TLS `port`, as Redis's tls-port: 0 serves no TLS; \"free\" picks a free port (the printed line says which); with TLS, -port 0 turns the plain port off")
	fs.StringVar(&t.certFile, "tls-cert-file", "", "the server's certificate (PEM), as Redis's tls-cert-file")
	fs.StringVar(&t.keyFile, "tls-key-file", "", "the private key of -tls-cert-file (PEM), as Redis's tls-key-file")
	fs.StringVar(&t.caCertFile, "tls-ca-cert-file", "", "CA certificates (PEM) that client certificates must be signed by, as Redis's tls-ca-cert-file")
	fs.StringVar(&t.authClients, "tls-auth-clients", "yes", "client certificates, as Redis's tls-auth-clients: yes (required), no (not asked for) or optional (verified if sent)")
}

// tlsPortFlag is -tls-port: a port number, or "free".
type tlsPortFlag struct{ t *tlsSettings }

func (f tlsPortFlag) String() string {
	switch {
	case f.t == nil:
		return "0" // the flag package's zero value, for the default in -help
	case f.t.freePort:
		return "free"
	}
	return strconv.Itoa(f.t.port)
}

func (f tlsPortFlag) Set(v string) error {
	if v == "free" {
		f.t.port, f.t.freePort = 0, true
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 65535 {
		// Redis's words for an out-of-range port.
		return fmt.Errorf(`argument must be between 0 and 65535 inclusive, or "free"`)
	}
	f.t.port, f.t.freePort = n, false
	return nil
}

// checkAuthClients validates and normalises tls-auth-clients, whose values
// Redis takes in any case.
func (t *tlsSettings) checkAuthClients() error {
	switch v := strings.ToLower(t.authClients); v {
	case "", "yes", "no", "optional":
		t.authClients = v
		return nil
	}
	return fmt.Errorf("-tls-auth-clients %q: argument(s) must be one of the following: no, yes, optional", t.authClients)
}

// clientAuth maps tls-auth-clients to crypto/tls: Redis's yes is
// SSL_VERIFY_PEER|SSL_VERIFY_FAIL_IF_NO_PEER_CERT, optional is
// SSL_VERIFY_PEER alone, no is SSL_VERIFY_NONE.
func (t *tlsSettings) clientAuth() tls.ClientAuthType {
	switch t.authClients {
	case "no":
		return tls.NoClientCert
	case "optional":
		return tls.VerifyClientCertIfGiven
	}
	return tls.RequireAndVerifyClientCert
}

// serverConfig loads the files into the configuration evio serves TLS
// with, or returns nil when TLS is off. Its errors say what Redis 7 logs
// before "Failed to configure TLS", and the server does not start.
func (t *tlsSettings) serverConfig() (*tls.Config, error) {
	if !t.enabled() {
		return nil, nil // Redis does not read the tls-* files without a TLS port either
	}
	fail := func(format string, args ...interface{}) error {
		return fmt.Errorf("failed to configure TLS: "+format, args...)
	}
	if t.certFile == "" {
		return nil, fail("no tls-cert-file configured (-tls-port needs -tls-cert-file and -tls-key-file)")
	}
	if t.keyFile == "" {
		return nil, fail("no tls-key-file configured (-tls-port needs -tls-cert-file and -tls-key-file)")
	}
	auth := t.clientAuth()
	if auth != tls.NoClientCert && t.caCertFile == "" {
		return nil, fail("tls-ca-cert-file must be specified when tls-auth-clients is enabled (-tls-auth-clients %s; use -tls-auth-clients no to accept clients without a certificate)", t.authClientsName())
	}
	cert, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
	if err != nil {
		return nil, fail("failed to load certificate %s with key %s: %v", t.certFile, t.keyFile, err)
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   auth,
		MinVersion:   tls.VersionTLS12, // Redis's default tls-protocols: TLSv1.2 TLSv1.3
	}
	if t.caCertFile != "" {
		// Loaded whenever given, as Redis does, even with
		// tls-auth-clients no.
		pemData, err := os.ReadFile(t.caCertFile)
		if err != nil {
			return nil, fail("failed to configure CA certificate(s) file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemData) {
			return nil, fail("failed to configure CA certificate(s) file: no PEM certificate in %s", t.caCertFile)
		}
		cfg.ClientCAs = pool
	}
	return cfg, nil
}

func (t *tlsSettings) authClientsName() string {
	if t.authClients == "" {
		return "yes"
	}
	return t.authClients
}

// listenerRole is what one of the server's listeners serves.
type listenerRole uint8

const (
	plainTCP listenerRole = iota
	tlsTCP
	unixSocket
)

// listenAddrs are the evio addresses of the configuration and the role of
// each, in the order evio reports them in Server.Addrs: the plain port
// first (so that the first line printed is still the plain one), then the
// TLS port, then the unix socket.
func (cfg config) listenAddrs() ([]string, []listenerRole) {
	if !cfg.tls.enabled() {
		addrs := cfg.Addrs("tcp", cfg.bind)
		roles := []listenerRole{plainTCP, unixSocket}
		return addrs, roles[:len(addrs)]
	}
	var addrs []string
	var roles []listenerRole
	tcp := cfg.Listen
	tcp.UnixSocket = ""
	if !cfg.noPlainTCP {
		// tls=false keeps this listener plain beside the TLS one.
		addrs = append(addrs, tcp.Addrs("tcp", cfg.bind)[0]+"&tls=false")
		roles = append(roles, plainTCP)
	}
	tcp.Port = cfg.tls.port // 0 with freePort: the system picks
	addrs = append(addrs, tcp.Addrs("tcp", cfg.bind)[0])
	roles = append(roles, tlsTCP)
	if cfg.UnixSocket != "" {
		unix := cfg.Listen
		unix.Port = 0
		all := unix.Addrs("tcp", cfg.bind)
		addrs = append(addrs, all[len(all)-1]+"?tls=false") // plain, as Redis's unixsocket
		roles = append(roles, unixSocket)
	}
	return addrs, roles
}

// boundAddr is an address the server listens on, as bound.
type boundAddr struct {
	net.Addr
	TLS bool
}

// listeningLine is what main prints for an address: "listening on
// tcp://127.0.0.1:6380 (loops: 1)" for the plain port, as always (scripts
// and tests read the port from it), and "listening on tls://..." for the
// TLS port, which a reader of tcp:// lines does not mistake for a plain
// one.
func listeningLine(a boundAddr, loops int) string {
	network := a.Network()
	if a.TLS {
		network = "tls"
	}
	return fmt.Sprintf("listening on %s://%s (loops: %d)", network, a, loops)
}
