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
		if got.network != tt.network || got.address != tt.address || got.portable != tt.portable || got.reusePort != tt.reusePort {
			t.Errorf("parseAddr(%q) = %+v, want network %q address %q portable %v reuseport %v",
				tt.raw, got, tt.network, tt.address, tt.portable, tt.reusePort)
		}
	}
}

func TestParseAddrErrors(t *testing.T) {
	for _, raw := range []string{"tulip://:80", "http://:80", "tcp-std://:80", "unix://", "://x"} {
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
