package listenflags

import (
	"flag"
	"io"
	"reflect"
	"testing"

	"github.com/evio-go/evio"
)

func TestFlags(t *testing.T) {
	var l Listen
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l.Register(fs, 1234)
	if err := fs.Parse([]string{"-loops", "4", "-balance", "least-connections", "-reuseport", "-stdlib", "-unixsocket", "/tmp/s"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Check(); err != nil {
		t.Fatal(err)
	}
	if l.Port != 1234 || l.Loops != 4 || l.Balance != evio.LeastConnections || !l.ReusePort || !l.Stdlib {
		t.Fatalf("flags parsed into %+v", l)
	}
	want := []string{"tcp-net://127.0.0.1:1234?reuseport=true", "unix-net:///tmp/s"}
	if got := l.Addrs("tcp", "127.0.0.1"); !reflect.DeepEqual(got, want) {
		t.Fatalf("Addrs = %q, want %q", got, want)
	}
	if got := (&Listen{Port: 5}).Addrs("udp", "::1"); got[0] != "udp://[::1]:5?reuseport=false" {
		t.Fatalf("Addrs = %q", got)
	}
}

func TestCheckRefusesBadValues(t *testing.T) {
	for _, l := range []Listen{{balanceName: "fastest"}, {Port: 70000}, {Port: -1}} {
		if err := l.Check(); err == nil {
			t.Errorf("Check accepted %+v", l)
		}
	}
}

func TestParseBalance(t *testing.T) {
	for name, want := range map[string]evio.LoadBalance{"random": evio.Random, "Round-Robin": evio.RoundRobin, "roundrobin": evio.RoundRobin, "least-connections": evio.LeastConnections} {
		if got, err := ParseBalance(name); err != nil || got != want {
			t.Errorf("ParseBalance(%q) = %v, %v", name, got, err)
		}
	}
}
