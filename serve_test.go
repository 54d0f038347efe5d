package evio

import (
	"bufio"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSchemes echoes through every scheme on both engines and checks the
// address types Serving, LocalAddr and RemoteAddr report.
func TestSchemes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		tests := []struct {
			scheme, address string
			wantAddr        func(a net.Addr) bool
		}{
			{"tcp", "127.0.0.1:0", isTCP4},
			{"tcp", "", isTCP},
			{"tcp4", "127.0.0.1:0", isTCP4},
			{"tcp6", "[::1]:0", isTCP6},
			{"udp", "127.0.0.1:0", isUDP},
			{"udp4", "127.0.0.1:0", isUDP},
			{"udp6", "[::1]:0", isUDP},
			{"unix", "", isUnix},
		}
		for _, tt := range tests {
			tt := tt
			t.Run(tt.scheme+"/"+tt.address, func(t *testing.T) {
				address := tt.address
				if tt.scheme == "unix" {
					address = unixPath(t)
				}
				var remote, local atomic.Value
				events := Events{Data: func(c Conn, in []byte) ([]byte, Action) {
					remote.Store(c.RemoteAddr())
					local.Store(c.LocalAddr())
					return in, None
				}}
				s := startServer(t, events, e.addr(tt.scheme, address))
				if !tt.wantAddr(s.addrs[0]) {
					t.Fatalf("Server.Addrs[0] = %#v (%T), wrong type or address for %s", s.addrs[0], s.addrs[0], tt.scheme)
				}
				if p := port(s.addrs[0]); tt.scheme != "unix" && p == 0 {
					t.Fatalf("Server.Addrs[0] = %s reports port 0, want the bound port", s.addrs[0])
				}
				c := s.dial(0)
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err := c.Write([]byte("hello")); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 64)
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != "hello" {
					t.Fatalf("echo = %q, %v; want %q", buf[:n], err, "hello")
				}
				ra, _ := remote.Load().(net.Addr)
				la, _ := local.Load().(net.Addr)
				if ra == nil || la == nil {
					t.Fatal("Data did not see the connection's addresses")
				}
				switch tt.scheme[:3] {
				case "tcp":
					if ra.String() != c.LocalAddr().String() {
						t.Errorf("RemoteAddr = %s, want the client's %s", ra, c.LocalAddr())
					}
					if la.String() != c.RemoteAddr().String() {
						t.Errorf("LocalAddr = %s, want the address the client reached, %s", la, c.RemoteAddr())
					}
				case "udp":
					if _, ok := ra.(*net.UDPAddr); !ok || ra.String() != c.LocalAddr().String() {
						t.Errorf("RemoteAddr = %#v, want *net.UDPAddr %s", ra, c.LocalAddr())
					}
				case "uni":
					if _, ok := ra.(*net.UnixAddr); !ok {
						t.Errorf("RemoteAddr = %#v, want *net.UnixAddr", ra)
					}
					if la.String() != address {
						t.Errorf("LocalAddr = %s, want %s", la, address)
					}
				}
				if err := s.Stop(); err != nil {
					t.Fatalf("Serve returned %v after Shutdown, want nil", err)
				}
				if tt.scheme == "unix" {
					if _, err := os.Lstat(address); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("socket file %s still exists after shutdown (%v)", address, err)
					}
				}
			})
		}
	})
}

func isTCP(a net.Addr) bool  { _, ok := a.(*net.TCPAddr); return ok }
func isTCP4(a net.Addr) bool { ta, ok := a.(*net.TCPAddr); return ok && ta.IP.To4() != nil }
func isTCP6(a net.Addr) bool { ta, ok := a.(*net.TCPAddr); return ok && ta.IP.To4() == nil }
func isUDP(a net.Addr) bool  { _, ok := a.(*net.UDPAddr); return ok }
func isUnix(a net.Addr) bool { _, ok := a.(*net.UnixAddr); return ok }

func port(a net.Addr) int {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	}
	return 0
}

// TestSeveralAddrs serves three addresses at once: Server.Addrs follows the
// order of the arguments and AddrIndex tells which one a connection used.
func TestSeveralAddrs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		path := unixPath(t)
		events := Events{
			NumLoops: 2,
			Data: func(c Conn, in []byte) ([]byte, Action) {
				return []byte{byte('0' + c.AddrIndex())}, None
			},
		}
		s := startServer(t, events, e.addr("tcp", "127.0.0.1:0"), e.addr("unix", path), e.addr("tcp6", "[::1]:0"))
		if len(s.addrs) != 3 || !isTCP4(s.addrs[0]) || !isUnix(s.addrs[1]) || !isTCP6(s.addrs[2]) {
			t.Fatalf("Server.Addrs = %v, want tcp4, unix, tcp6 in argument order", s.addrs)
		}
		if s.numLoops != 2 {
			t.Fatalf("Server.NumLoops = %d, want 2", s.numLoops)
		}
		for i := range s.addrs {
			c := s.dial(i)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte("x"))
			b := make([]byte, 1)
			if _, err := c.Read(b); err != nil || int(b[0]-'0') != i {
				t.Fatalf("connection to address %d reported AddrIndex %q (%v)", i, b, err)
			}
		}
	})
}

// TestBadAddrs: every address that cannot be served makes Serve return an
// error naming it, and leaves nothing listening.
func TestBadAddrs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		dir := t.TempDir()
		regular := filepath.Join(dir, "regular")
		if err := os.WriteFile(regular, []byte("keep me"), 0o600); err != nil {
			t.Fatal(err)
		}
		directory := filepath.Join(dir, "directory")
		if err := os.Mkdir(directory, 0o700); err != nil {
			t.Fatal(err)
		}
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		tests := []struct{ addr, mention string }{
			{"tulip://:80", "tulip"},
			{e.addr("tcp", "127.0.0.1:99999"), "99999"},
			{e.addr("tcp", "no-such-host.invalid:80"), "no-such-host.invalid"},
			{e.addr("tcp4", "[::1]:0"), "::1"},
			{e.addr("tcp", busy.Addr().String()), busy.Addr().String()},
			{e.addr("unix", regular), regular},
			{e.addr("unix", directory), directory},
			{e.addr("unix", filepath.Join(dir, "missing", "s.sock")), "missing"},
		}
		for _, tt := range tests {
			fired := false
			err := Serve(Events{Serving: func(Server) Action { fired = true; return Shutdown }}, tt.addr)
			if err == nil {
				t.Errorf("Serve(%q) = nil, want an error", tt.addr)
				continue
			}
			if fired {
				t.Errorf("Serve(%q) fired Serving despite failing", tt.addr)
			}
			if !strings.Contains(err.Error(), tt.mention) || !strings.HasPrefix(err.Error(), "evio: ") {
				t.Errorf("Serve(%q) error %q does not name the address", tt.addr, err)
			}
		}
		if b, err := os.ReadFile(regular); err != nil || string(b) != "keep me" {
			t.Errorf("a failed unix listen touched the regular file at its path: %q, %v", b, err)
		}
		if fi, err := os.Stat(directory); err != nil || !fi.IsDir() {
			t.Errorf("a failed unix listen touched the directory at its path: %v", err)
		}

		// A good address before a bad one must not stay listening.
		good, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		goodAddr := good.Addr().String()
		good.Close()
		if err := Serve(Events{}, e.addr("tcp", goodAddr), "tulip://x"); err == nil {
			t.Fatal("Serve with one bad address succeeded")
		}
		if err := Serve(Events{}, e.addr("tcp", goodAddr), e.addr("tcp", busy.Addr().String())); err == nil {
			t.Fatal("Serve with a busy address succeeded")
		}
		again, err := net.Listen("tcp", goodAddr)
		if err != nil {
			t.Fatalf("the good address of a failed Serve is still taken: %v", err)
		}
		again.Close()
	})
}

// TestUnixSocketFiles: a stale socket file is replaced, a live one is an
// error, and shutdown removes the file.
func TestUnixSocketFiles(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		path := unixPath(t)
		stale, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		stale.(*net.UnixListener).SetUnlinkOnClose(false)
		stale.Close()
		if _, err := os.Lstat(path); err != nil {
			t.Fatalf("could not leave a stale socket file: %v", err)
		}
		s := startServer(t, echoEvents(), e.addr("unix", path))

		// A second server on the same live path must fail, not steal it.
		err = Serve(Events{}, e.addr("unix", path))
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Fatalf("second Serve on a live socket = %v, want an error naming %s", err, path)
		}
		c := s.dial(0)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("still mine\n"))
		if got := readLine(t, bufio.NewReader(c), c); got != "still mine" {
			t.Fatalf("echo after a refused second server = %q", got)
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("socket file remains after shutdown: %v", err)
		}
	})
}

// TestReusePort: with ?reuseport=true two servers share one port.
func TestReusePort(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		first := startServer(t, echoEvents(), e.addr("tcp", "127.0.0.1:0?reuseport=true"))
		addr := first.addrs[0].String()
		second := startServer(t, echoEvents(), e.addr("tcp", addr+"?reuseport=yes"))
		if second.addrs[0].String() != addr {
			t.Fatalf("second server bound %s, want %s", second.addrs[0], addr)
		}
		err := Serve(Events{}, e.addr("tcp", addr))
		if err == nil {
			t.Fatal("a server without reuseport bound a port two reuseport servers hold")
		}
	})
}

func TestServeNeedsAnAddress(t *testing.T) {
	if err := Serve(Events{}); err == nil {
		t.Fatal("Serve with no address succeeded")
	}
}

// TestAddrsFirstAskedInClosed: on a listener that names no IP the local
// address is asked of the socket only when wanted; first asked in Closed,
// it is still the connection's own (the address the client reached), for a
// close by the peer, by a reset and by the server.
func TestAddrsFirstAskedInClosed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engine) {
		got := make(chan [2]string, 3)
		events := Events{
			Data: func(c Conn, in []byte) ([]byte, Action) { return nil, Close },
			Closed: func(c Conn, err error) Action {
				got <- [2]string{c.LocalAddr().String(), c.RemoteAddr().String()}
				return None
			},
		}
		s := startServer(t, events, e.addr("tcp", ":0"))
		for _, how := range []string{"peer close", "reset", "server close"} {
			c := s.dial(0)
			switch how {
			case "peer close":
				c.Close()
			case "reset":
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
			case "server close":
				c.Write([]byte("x"))
			}
			addrs := <-got
			if addrs[0] != c.RemoteAddr().String() || addrs[1] != c.LocalAddr().String() {
				t.Errorf("%s: Closed saw local %s remote %s, want %s and %s", how, addrs[0], addrs[1], c.RemoteAddr(), c.LocalAddr())
			}
		}
	})
}
