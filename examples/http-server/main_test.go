package main

import (
	"bufio"
	"errors"
	"flag"
	"github.com/evio-go/evio/examples/internal/listenflags"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/evio-go/evio"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config{Listen: listenflags.Listen{Port: 8080, Balance: evio.Random}, maxBody: 4 << 20,
		timeouts: timeouts{header: 10 * time.Second, body: 60 * time.Second, keepAlive: 75 * time.Second}}
	if cfg != want {
		t.Fatalf("defaults %+v, want %+v", cfg, want)
	}
	cfg, err = parseFlags([]string{"-port", "0", "-loops", "2", "-balance", "least-connections", "-reuseport",
		"-stdlib", "-unixsocket", "/tmp/x.sock", "-maxbody", "100", "-host", "::1",
		"-header-timeout", "1.5s", "-body-timeout", "0", "-keepalive-timeout", "-1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want = config{host: "::1", Listen: listenflags.Listen{Loops: 2, Balance: evio.LeastConnections, ReusePort: true, Stdlib: true, UnixSocket: "/tmp/x.sock"}, maxBody: 100,
		timeouts: timeouts{header: 1500 * time.Millisecond, body: 0, keepAlive: -time.Second}}
	if cfg != want {
		t.Fatalf("flags %+v, want %+v", cfg, want)
	}
	if got := cfg.addresses(); strings.Join(got, " ") != "tcp-net://[::1]:0?reuseport=true unix-net:///tmp/x.sock" {
		t.Fatalf("addresses %q", got)
	}
	for _, bad := range [][]string{{"-balance", "fastest"}, {"-maxbody", "-1"}, {"-port", "x"}, {"extra"}, {"-header-timeout", "10"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := parseFlags([]string{"-h"}, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// TestRunPrintsAddresses runs the command's run on port 0 and finds the
// server from what it prints, as scripts/http-clients.sh does.
func TestRunPrintsAddresses(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "run.sock")
	cfg := config{host: "127.0.0.1", Listen: listenflags.Listen{Loops: 2, UnixSocket: sock}, maxBody: defaultMaxBody}
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- run(cfg, pw, stop) }()
	lines := bufio.NewReader(pr)
	pattern := regexp.MustCompile(`^http-server: listening on (tcp|unix)://(\S+) \(loops: 2\)\n$`)
	var addrs [2]string
	for i := range addrs {
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		m := pattern.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %q", line)
		}
		addrs[i] = m[2]
	}
	if addrs[1] != sock || strings.HasSuffix(addrs[0], ":0") {
		t.Fatalf("addresses %q", addrs)
	}
	for i, network := range []string{"tcp", "unix"} {
		c, err := net.DialTimeout(network, addrs[i], testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(testTimeout))
		io.WriteString(c, get("/"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", network, resp, err)
		}
		c.Close()
	}
	close(stop)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout):
		t.Fatal("run did not return after stop")
	}
	pw.Close()
}

func TestDateLayoutIsNetHTTPs(t *testing.T) {
	if httpDateLayout != http.TimeFormat {
		t.Fatalf("%q != http.TimeFormat %q", httpDateLayout, http.TimeFormat)
	}
}

func TestClockUpdatesOncePerSecond(t *testing.T) {
	start := time.Date(2024, 2, 29, 23, 59, 59, 0, time.FixedZone("X", 3600))
	c := newHTTPClock(start)
	first := c.date()
	if string(first[:]) != "Thu, 29 Feb 2024 22:59:59 GMT" {
		t.Fatalf("date %q", first[:])
	}
	c.update(start.Add(900 * time.Millisecond))
	if c.date() != first {
		t.Fatal("reformatted within the same second")
	}
	c.update(start.Add(1100 * time.Millisecond))
	if got := c.date(); got == first || string(got[:]) != "Thu, 29 Feb 2024 23:00:00 GMT" || string(first[:]) != "Thu, 29 Feb 2024 22:59:59 GMT" {
		t.Fatalf("after a second: %q (old value %q)", got[:], first[:])
	}
}
