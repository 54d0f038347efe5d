package evio

import (
	"strings"
	"testing"
)

func TestParseAddr(t *testing.T) {
	tests := []struct {
		raw       string
		network   string
		address   string
		portable  bool
		uring     bool
		reusePort bool
	}{
		{raw: ":8080", network: "tcp", address: ":8080"},
		{raw: "tcp://127.0.0.1:80", network: "tcp", address: "127.0.0.1:80"},
		{raw: "tcp4://:80", network: "tcp4", address: ":80"},
		{raw: "tcp6://[::1]:80", network: "tcp6", address: "[::1]:80"},
		{raw: "udp://:53", network: "udp", address: ":53"},
		{raw: "udp4://:53", network: "udp4", address: ":53"},
		{raw: "udp6://:53", network: "udp6", address: ":53"},
		{raw: "unix:///tmp/x.sock", network: "unix", address: "/tmp/x.sock"},
		{raw: "unix://relative.sock", network: "unix", address: "relative.sock"},
		{raw: "tcp-net://:80", network: "tcp", address: ":80", portable: true},
		{raw: "udp6-net://:53", network: "udp6", address: ":53", portable: true},
		{raw: "unix-net:///s", network: "unix", address: "/s", portable: true},
		{raw: "tcp-uring://:80", network: "tcp", address: ":80", uring: true},
		{raw: "unix-uring:///s", network: "unix", address: "/s", uring: true},
		{raw: "tcp://", network: "tcp", address: ""},
		{raw: "tcp://:80?reuseport=true", network: "tcp", address: ":80", reusePort: true},
		{raw: "tcp://:80?reuseport=1", network: "tcp", address: ":80", reusePort: true},
		{raw: "tcp://:80?reuseport=Yes", network: "tcp", address: ":80", reusePort: true},
		{raw: "tcp://:80?reuseport=false", network: "tcp", address: ":80"},
		{raw: "tcp://:80?reuseport=0", network: "tcp", address: ":80"},
		{raw: "tcp://:80?reuseport=", network: "tcp", address: ":80"},
		{raw: "tcp://:80?other=1&reuseport=t", network: "tcp", address: ":80", reusePort: true},
		{raw: "tcp://:80?unknown=x", network: "tcp", address: ":80"},
	}
	for _, tt := range tests {
		got, err := parseAddr(tt.raw)
		if err != nil {
			t.Errorf("parseAddr(%q): %v", tt.raw, err)
			continue
		}
		if got.network != tt.network || got.address != tt.address || got.portable != tt.portable || got.uring != tt.uring || got.reusePort != tt.reusePort {
			t.Errorf("parseAddr(%q) = %+v, want network %q address %q portable %v uring %v reuseport %v",
				tt.raw, got, tt.network, tt.address, tt.portable, tt.uring, tt.reusePort)
		}
	}
}

func TestParseAddrErrors(t *testing.T) {
	for _, raw := range []string{"tulip://:80", "http://:80", "tcp-std://:80", "tcp-uring-net://:80", "unix://", "://x"} {
		_, err := parseAddr(raw)
		if err == nil {
			t.Errorf("parseAddr(%q) succeeded, want an error", raw)
			continue
		}
		if !strings.Contains(err.Error(), raw) || !strings.HasPrefix(err.Error(), "evio: ") {
			t.Errorf("parseAddr(%q) error %q does not name the address", raw, err)
		}
	}
}

func TestIsTrue(t *testing.T) {
	for v, want := range map[string]bool{
		"t": true, "True": true, "y": true, "YES": true, "1": true, "9": true, "42": true,
		"": false, "0": false, "f": false, "false": false, "n": false, "no": false, "x": false,
	} {
		if got := isTrue(v); got != want {
			t.Errorf("isTrue(%q) = %v, want %v", v, got, want)
		}
	}
}

// FuzzParseAddr: parsing never panics, and what it accepts is a known
// network with the address and flags taken from the input.
func FuzzParseAddr(f *testing.F) {
	for _, seed := range []string{"", ":80", "tcp://:80", "udp6-net://[::1]:53?reuseport=yes", "unix:///tmp/s", "x://", "tcp://?", "tcp://:1?a=b&reuseport=1&&", "-net://"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ls, err := parseAddr(raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "evio: ") {
				t.Fatalf("error %q lacks the evio prefix", err)
			}
			return
		}
		switch ls.network {
		case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "unix":
		default:
			t.Fatalf("parseAddr(%q) accepted network %q", raw, ls.network)
		}
		if !strings.Contains(raw, ls.address) || strings.Contains(ls.address, "?") {
			t.Fatalf("parseAddr(%q) gave address %q", raw, ls.address)
		}
		if ls.reusePort && !strings.Contains(raw, "reuseport=") {
			t.Fatalf("parseAddr(%q) set reuseport without asking", raw)
		}
		if ls.portable != strings.Contains(raw, "-net://") && strings.Contains(raw, "://") {
			t.Fatalf("parseAddr(%q) portable = %v", raw, ls.portable)
		}
	})
}
