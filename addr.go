package evio

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/evio-go/evio/internal/socket"
)

// listenSpec is one parsed address argument of Serve.
type listenSpec struct {
	raw       string // as given to Serve, for error messages
	network   string // tcp, tcp4, tcp6, udp, udp4, udp6 or unix
	address   string // host:port, or a path for unix
	portable  bool   // the scheme had the -net suffix
	uring     bool   // the scheme had the -uring suffix
	reusePort bool
	tlsKey    string      // the value of the tls key, if given
	tls       *tls.Config // TLS for its connections (resolveTLS); nil for plain
}

func (ls listenSpec) datagram() bool { return strings.HasPrefix(ls.network, "udp") }

// perLoop says whether the address gets a socket per loop: asked for with
// reuseport, with more than one loop, where the kernel spreads connections
// and datagrams over the sockets of one port (socket.ReusePortBalances).
// Each loop then accepts and serves its own, with no hand-off between
// loops; elsewhere one socket's loop accepts and hands connections to the
// balancer's pick.
func (ls listenSpec) perLoop(numLoops int) bool {
	return ls.reusePort && numLoops > 1 && ls.network != "unix" && socket.ReusePortBalances
}

// samePort is the spec of another socket of a per-loop group: the host as
// given, with the port the first socket was bound to, so that a free port
// (":0") asked for once is the group's port.
func (ls listenSpec) samePort(bound net.Addr) listenSpec {
	port := 0
	switch a := bound.(type) {
	case *net.TCPAddr:
		port = a.Port
	case *net.UDPAddr:
		port = a.Port
	}
	if host, _, err := net.SplitHostPort(ls.address); err == nil {
		ls.address = net.JoinHostPort(host, strconv.Itoa(port))
	}
	return ls
}

// askURing reports whether any address asks for the io_uring engine.
func askURing(specs []listenSpec) bool {
	for _, s := range specs {
		if s.uring {
			return true
		}
	}
	return false
}

// parseAddr parses scheme://address[?key=value&...]. It checks only the
// syntax; whether the address can be bound is for the engine to find out.
func parseAddr(raw string) (listenSpec, error) {
	ls := listenSpec{raw: raw, network: "tcp", address: raw}
	if i := strings.Index(raw, "://"); i >= 0 {
		ls.network, ls.address = raw[:i], raw[i+3:]
	}
	switch {
	case strings.HasSuffix(ls.network, "-net"):
		ls.network = strings.TrimSuffix(ls.network, "-net")
		ls.portable = true
	case strings.HasSuffix(ls.network, "-uring"):
		ls.network = strings.TrimSuffix(ls.network, "-uring")
		ls.uring = true
	}
	switch ls.network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix":
	default:
		return ls, fmt.Errorf("evio: listen %q: unknown scheme %q (want tcp, tcp4, tcp6, udp, udp4, udp6 or unix, optionally with -net or -uring)", raw, ls.network)
	}
	if i := strings.IndexByte(ls.address, '?'); i >= 0 {
		query := ls.address[i+1:]
		ls.address = ls.address[:i]
		for _, kv := range strings.Split(query, "&") {
			key, value, _ := strings.Cut(kv, "=")
			switch key {
			case "reuseport":
				ls.reusePort = isTrue(value)
			case "tls":
				ls.tlsKey = value
			}
		}
	}
	if ls.network == "unix" && ls.address == "" {
		return ls, fmt.Errorf("evio: listen %q: a unix address needs a socket file path", raw)
	}
	return ls, nil
}

// resolveTLS decides whether the listener speaks TLS: every stream
// listener does when the server has a TLS configuration, except one whose
// address says tls=false; tls=true without a configuration, or on UDP, is
// an error rather than a listener that silently speaks plain text.
func (ls *listenSpec) resolveTLS(config *tls.Config) error {
	if ls.tlsKey == "" {
		if !ls.datagram() {
			ls.tls = config
		}
		return nil
	}
	if !isTrue(ls.tlsKey) {
		return nil
	}
	switch {
	case ls.datagram():
		return fmt.Errorf("evio: listen %q: tls is for stream listeners (tcp, unix), not UDP", ls.raw)
	case config == nil:
		return fmt.Errorf("evio: listen %q: tls=true needs Events.TLSConfig", ls.raw)
	}
	ls.tls = config
	return nil
}

// isTrue is evio's reading of a boolean option: true when the value starts
// with t, T, y, Y or a digit 1-9.
func isTrue(v string) bool {
	if v == "" {
		return false
	}
	switch c := v[0]; {
	case c == 't', c == 'T', c == 'y', c == 'Y':
		return true
	case c >= '1' && c <= '9':
		return true
	}
	return false
}
