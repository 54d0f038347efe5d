package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/evio-go/evio/examples/internal/testcert"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// tlsSetups are the setups with a TCP port, on both engines: TLS is for
// TCP, the unix socket stays plain.
var tlsSetups = []setup{setups[0], setups[1], setups[4]}

// certFiles writes the test certificates into the test's directory.
func certFiles(t testing.TB) (*testcert.Set, testcert.Files) {
	t.Helper()
	set, err := testcert.Get()
	if err != nil {
		t.Fatal(err)
	}
	files, err := set.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return set, files
}

// tlsConfigFor is the server's TLS configuration from the test
// certificates' files, on a free TLS port, with tls-auth-clients auth.
func tlsConfigFor(files testcert.Files, auth string) tlsSettings {
	return tlsSettings{freePort: true, certFile: files.Cert, keyFile: files.Key, caCertFile: files.CA, authClients: auth}
}

// startTLSSetup starts a server of setup s with a plain and a TLS port.
func startTLSSetup(t testing.TB, s setup, auth string) (*testServer, *testcert.Set, testcert.Files) {
	t.Helper()
	set, files := certFiles(t)
	ts, _, _ := startSetup(t, s, config{tls: tlsConfigFor(files, auth)})
	if ts.tcpAddr == "" || ts.tlsAddr == "" || ts.tcpAddr == ts.tlsAddr {
		t.Fatalf("plain port %q, TLS port %q: want two ports", ts.tcpAddr, ts.tlsAddr)
	}
	// The plain port comes first, so that main's first line, which
	// scripts and testproc read, is still the plain one; the TLS line
	// is told apart by its scheme.
	var lines []string
	for _, a := range ts.addrs {
		lines = append(lines, listeningLine(a, 1))
	}
	if want := []string{"listening on tcp://" + ts.tcpAddr + " (loops: 1)", "listening on tls://" + ts.tlsAddr + " (loops: 1)"}; !reflect.DeepEqual(lines[:2], want) {
		t.Fatalf("listening lines %q, want first %q", lines, want)
	}
	return ts, set, files
}

// clientTLS is a client configuration that trusts the test CA and, with
// withCert, presents the test client certificate.
func clientTLS(set *testcert.Set, withCert bool) *tls.Config {
	cfg := set.ClientConfig()
	if withCert {
		cfg.Certificates = []tls.Certificate{set.Client}
	}
	return cfg
}

// newTLSClient is newClient over TLS. It does not retry, so that a refused
// handshake shows as the command's error at once.
func newTLSClient(t testing.TB, addr string, cfg *tls.Config) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr:                     addr,
		TLSConfig:                cfg,
		MaxRetries:               -1,
		DialTimeout:              5 * time.Second,
		ReadTimeout:              5 * time.Second,
		WriteTimeout:             5 * time.Second,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// waitHandshakeFailures waits, for up to 5 seconds, until the server has
// counted more than before failed TLS handshakes, and fails the test if it
// does not.
func waitHandshakeFailures(t *testing.T, ts *testServer, before uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ts.srv.counters().TLSHandshakeFailures <= before {
		if time.Now().After(deadline) {
			t.Fatalf("TLSHandshakeFailures still %d, want more than %d", ts.srv.counters().TLSHandshakeFailures, before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTLSGoRedis runs go-redis over TLS, with the client certificate that
// -tls-auth-clients yes requires, beside a plain go-redis client on the
// plain port: both see one keyspace.
func TestTLSGoRedis(t *testing.T) {
	for _, s := range tlsSetups {
		t.Run(s.name, func(t *testing.T) {
			ts, set, files := startTLSSetup(t, s, "yes")
			ctx := testContext(t)
			secure := newTLSClient(t, ts.tlsAddr, clientTLS(set, true))
			plain := newClient(t, "tcp", ts.tcpAddr)

			if err := secure.Set(ctx, "greeting", "hello over TLS", 0).Err(); err != nil {
				t.Fatalf("SET over TLS: %v", err)
			}
			if v, err := secure.Get(ctx, "greeting").Result(); err != nil || v != "hello over TLS" {
				t.Fatalf("GET over TLS = %q, %v", v, err)
			}
			if v, err := plain.Get(ctx, "greeting").Result(); err != nil || v != "hello over TLS" {
				t.Fatalf("GET on the plain port of a key set over TLS = %q, %v", v, err)
			}
			if err := plain.Set(ctx, "counter", 41, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if n, err := secure.Incr(ctx, "counter").Result(); err != nil || n != 42 {
				t.Fatalf("INCR over TLS of a key set on the plain port = %d, %v", n, err)
			}

			// A pipeline larger than one TLS record each way.
			const n = 2000
			value := strings.Repeat("v", 100)
			cmds, err := secure.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := 0; i < n; i++ {
					p.Set(ctx, "pipe:"+strconv.Itoa(i), value+strconv.Itoa(i), 0)
					p.Incr(ctx, "pipe:count")
				}
				return nil
			})
			if err != nil || len(cmds) != 2*n {
				t.Fatalf("pipeline over TLS: %d replies, %v", len(cmds), err)
			}
			if v, err := cmds[2*n-1].(*redis.IntCmd).Result(); err != nil || v != n {
				t.Fatalf("last INCR of the pipeline = %d, %v", v, err)
			}
			for _, i := range []int{0, n / 2, n - 1} {
				key := "pipe:" + strconv.Itoa(i)
				if v, err := plain.Get(ctx, key).Result(); err != nil || v != value+strconv.Itoa(i) {
					t.Fatalf("GET %s on the plain port = %q, %v", key, v, err)
				}
			}

			// CONFIG GET reports the TLS options as Redis does.
			_, tlsPort, _ := net.SplitHostPort(ts.tlsAddr)
			_, plainPort, _ := net.SplitHostPort(ts.tcpAddr)
			for param, want := range map[string]string{"tls-port": tlsPort, "port": plainPort, "tls-auth-clients": "yes",
				"tls-cert-file": files.Cert, "tls-key-file": files.Key, "tls-ca-cert-file": files.CA} {
				got, err := secure.Do(ctx, "CONFIG", "GET", param).StringSlice()
				if err != nil || !reflect.DeepEqual(got, []string{param, want}) {
					t.Errorf("CONFIG GET %s = %q, %v; want %q", param, got, err, want)
				}
			}
		})
	}
}

// TestTLSAuthClients checks each -tls-auth-clients value with a client
// that presents the test certificate and one that presents none: yes
// refuses the latter's handshake, no and optional accept both.
func TestTLSAuthClients(t *testing.T) {
	for _, s := range []setup{setups[1], setups[4]} {
		for _, tc := range []struct {
			auth                 string
			withCert, withoutOne bool // whether each client is served
		}{
			{"yes", true, false},
			{"no", true, true},
			{"optional", true, true},
		} {
			t.Run(s.name+"/"+tc.auth, func(t *testing.T) {
				ts, set, _ := startTLSSetup(t, s, tc.auth)
				ctx := testContext(t)
				for _, withCert := range []bool{true, false} {
					want := tc.withCert
					if !withCert {
						want = tc.withoutOne
					}
					failuresBefore := ts.srv.counters().TLSHandshakeFailures
					rdb := newTLSClient(t, ts.tlsAddr, clientTLS(set, withCert))
					err := rdb.Set(ctx, "k", "v", 0).Err()
					switch {
					case want && err != nil:
						t.Errorf("client certificate %v: SET failed: %v", withCert, err)
					case !want && err == nil:
						t.Errorf("client certificate %v: SET succeeded, want the handshake refused", withCert)
					case !want:
						waitHandshakeFailures(t, ts, failuresBefore)
					}
				}
				// A refused client leaves the server serving.
				if err := newClient(t, "tcp", ts.tcpAddr).Ping(ctx).Err(); err != nil {
					t.Fatalf("PING on the plain port: %v", err)
				}
			})
		}
	}
}

// TestTLSPortRefusesPlainRESP sends a plain PING to the TLS port: it gets
// no PONG, the connection is closed, and the server goes on serving TLS
// and plain clients.
func TestTLSPortRefusesPlainRESP(t *testing.T) {
	for _, s := range tlsSetups {
		t.Run(s.name, func(t *testing.T) {
			ts, set, _ := startTLSSetup(t, s, "yes")
			before := ts.srv.counters().TLSHandshakeFailures
			conn, err := net.DialTimeout("tcp", ts.tlsAddr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, "PING\r\n"); err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(conn)
			if strings.Contains(string(got), "PONG") {
				t.Fatalf("the TLS port answered a plain PING: %q", got)
			}
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				t.Fatalf("the TLS port kept a plain-text client open for 5 s (read %q)", got)
			}
			waitHandshakeFailures(t, ts, before)

			ctx := testContext(t)
			if err := newTLSClient(t, ts.tlsAddr, clientTLS(set, true)).Ping(ctx).Err(); err != nil {
				t.Fatalf("PING over TLS after the plain client: %v", err)
			}
			if err := newClient(t, "tcp", ts.tcpAddr).Ping(ctx).Err(); err != nil {
				t.Fatalf("PING on the plain port after the plain client: %v", err)
			}
		})
	}
}

// lookTool finds a Redis tool, failing the test in CI when it is missing
// and skipping it elsewhere.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (Debian package redis-tools)", name)
		}
		t.Skipf("%s is not installed (Debian package redis-tools)", name)
	}
	return path
}

// tlsToolArgs are redis-cli's and redis-benchmark's flags for the TLS
// port, with the client certificate.
func tlsToolArgs(addr string, files testcert.Files) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{"--tls", "--cacert", files.CA, "--cert", files.ClientCert, "--key", files.ClientKey, "-h", host, "-p", port}
}

// runTool runs a Redis tool for at most a minute and returns its output.
func runTool(t *testing.T, path string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	return string(out), err
}

// TestTLSRedisCli runs redis-cli --tls with the client certificate: PING,
// SET and GET, and the value is there on the plain port. Without the
// certificate, under -tls-auth-clients yes, it gets no PONG.
func TestTLSRedisCli(t *testing.T) {
	cli := lookTool(t, "redis-cli")
	for _, s := range []setup{setups[1], setups[4]} {
		t.Run(s.name, func(t *testing.T) {
			ts, _, files := startTLSSetup(t, s, "yes")
			args := tlsToolArgs(ts.tlsAddr, files)
			for _, step := range []struct{ args, want string }{
				{"PING", "PONG"},
				{"SET cli:key hello-tls", "OK"},
				{"GET cli:key", "hello-tls"},
			} {
				out, err := runTool(t, cli, append(args, strings.Fields(step.args)...)...)
				if err != nil || strings.TrimSpace(out) != step.want {
					t.Fatalf("redis-cli --tls %s: %q, %v; want %q", step.args, out, err, step.want)
				}
			}
			if v, err := newClient(t, "tcp", ts.tcpAddr).Get(testContext(t), "cli:key").Result(); err != nil || v != "hello-tls" {
				t.Fatalf("GET on the plain port of the key redis-cli set over TLS = %q, %v", v, err)
			}
			host, port, _ := net.SplitHostPort(ts.tlsAddr)
			out, _ := runTool(t, cli, "--tls", "--cacert", files.CA, "-h", host, "-p", port, "PING")
			if strings.Contains(out, "PONG") {
				t.Fatalf("redis-cli --tls without a client certificate got %q under -tls-auth-clients yes", out)
			}
		})
	}
}

// benchRate matches redis-benchmark -q's result lines.
var benchRate = regexp.MustCompile(`(?m)^([A-Z_]+): ([0-9.]+) requests per second`)

// TestTLSRedisBenchmark runs redis-benchmark --tls -t set,get: it must
// finish without an error and report a rate above zero for both tests.
func TestTLSRedisBenchmark(t *testing.T) {
	bench := lookTool(t, "redis-benchmark")
	for _, s := range []setup{setups[1], setups[4]} {
		t.Run(s.name, func(t *testing.T) {
			ts, _, files := startTLSSetup(t, s, "yes")
			out, err := runTool(t, bench, append(tlsToolArgs(ts.tlsAddr, files), "-t", "set,get", "-n", "2000", "-q")...)
			out = strings.ReplaceAll(out, "\r", "\n")
			if err != nil {
				t.Fatalf("redis-benchmark --tls: %v\n%s", err, out)
			}
			if strings.Contains(strings.ToLower(out), "error") || strings.Contains(out, "ERR ") {
				t.Fatalf("redis-benchmark --tls reported errors:\n%s", out)
			}
			rates := map[string]float64{}
			for _, m := range benchRate.FindAllStringSubmatch(out, -1) {
				rates[m[1]], _ = strconv.ParseFloat(m[2], 64)
			}
			for _, test := range []string{"SET", "GET"} {
				if rates[test] <= 0 {
					t.Errorf("redis-benchmark --tls: no rate above 0 for %s in:\n%s", test, out)
				}
			}
			t.Logf("redis-benchmark --tls -n 2000: SET %.0f/s, GET %.0f/s", rates["SET"], rates["GET"])
			// The requests went to this server, over TLS: 2000 SETs
			// left the key redis-benchmark writes.
			if n, err := newClient(t, "tcp", ts.tcpAddr).Exists(testContext(t), "key:__rand_int__").Result(); err != nil || n != 1 {
				t.Errorf("EXISTS key:__rand_int__ after the benchmark = %d, %v", n, err)
			}
		})
	}
}

// TestTLSFlags checks the flags as Redis's options: names, values, and the
// errors Redis refuses to start with.
func TestTLSFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-tls-port", "6381", "-tls-cert-file", "c", "-tls-key-file", "k", "-tls-ca-cert-file", "ca", "-tls-auth-clients", "Optional"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := tlsSettings{port: 6381, certFile: "c", keyFile: "k", caCertFile: "ca", authClients: "optional"}
	if cfg.tls != want || cfg.Port != 6380 || cfg.noPlainTCP {
		t.Fatalf("parsed %+v, port %d, noPlainTCP %v", cfg.tls, cfg.Port, cfg.noPlainTCP)
	}
	addrs, roles := cfg.listenAddrs()
	if !reflect.DeepEqual(addrs, []string{"tcp://:6380?reuseport=false&tls=false", "tcp://:6381?reuseport=false"}) ||
		!reflect.DeepEqual(roles, []listenerRole{plainTCP, tlsTCP}) {
		t.Errorf("listenAddrs = %q %v", addrs, roles)
	}

	// -port 0 beside a TLS port turns the plain port off, as Redis's
	// port 0; the unix socket stays plain.
	cfg, err = parseFlags([]string{"-port", "0", "-tls-port", "free", "-unixsocket", "/tmp/r.sock", "-stdlib"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	addrs, roles = cfg.listenAddrs()
	if !cfg.noPlainTCP || !reflect.DeepEqual(addrs, []string{"tcp-net://:0?reuseport=false", "unix-net:///tmp/r.sock?tls=false"}) ||
		!reflect.DeepEqual(roles, []listenerRole{tlsTCP, unixSocket}) {
		t.Errorf("-port 0 -tls-port free: noPlainTCP %v, listenAddrs = %q %v", cfg.noPlainTCP, addrs, roles)
	}
	// Without TLS, -port 0 is still a free plain port.
	if cfg, err = parseFlags([]string{"-port", "0"}, io.Discard); err != nil || cfg.noPlainTCP || cfg.tls.enabled() || cfg.tls.authClients != "yes" {
		t.Errorf("-port 0: %+v, %v", cfg, err)
	}

	for _, bad := range [][]string{{"-tls-port", "65536"}, {"-tls-port", "-1"}, {"-tls-port", "x"}, {"-tls-auth-clients", "maybe"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil || err == flag.ErrHelp {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

// TestTLSRefusesToStart checks newServer refuses what Redis 7 refuses at
// start-up, with its reason, and that the tls-* files are not read
// without a TLS port, as in Redis.
func TestTLSRefusesToStart(t *testing.T) {
	_, files := certFiles(t)
	missing := files.CA + ".missing"
	for _, tc := range []struct {
		tls  tlsSettings
		want string // in the error
	}{
		{tlsSettings{port: 6381}, "no tls-cert-file configured"},
		{tlsSettings{freePort: true, certFile: files.Cert}, "no tls-key-file configured"},
		{tlsSettings{freePort: true, certFile: files.Cert, keyFile: files.Key}, "tls-ca-cert-file must be specified"},
		{tlsSettings{freePort: true, certFile: files.Cert, keyFile: files.Key, authClients: "optional"}, "tls-ca-cert-file must be specified"},
		{tlsSettings{freePort: true, certFile: missing, keyFile: files.Key, authClients: "no"}, "failed to load certificate"},
		{tlsSettings{freePort: true, certFile: files.Cert, keyFile: files.ClientKey, authClients: "no"}, "failed to load certificate"},
		{tlsSettings{freePort: true, certFile: files.Cert, keyFile: files.Key, caCertFile: missing}, "CA certificate(s) file"},
		{tlsSettings{freePort: true, certFile: files.Cert, keyFile: files.Key, caCertFile: files.Key}, "no PEM certificate"},
	} {
		_, err := newServer(config{tls: tc.tls})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("newServer with %+v: %v; want an error with %q", tc.tls, err, tc.want)
		}
	}
	for _, ok := range []tlsSettings{
		{certFile: missing, keyFile: missing, caCertFile: missing}, // no TLS port: not read
		{freePort: true, certFile: files.Cert, keyFile: files.Key, authClients: "no"},
	} {
		if _, err := newServer(config{tls: ok}); err != nil {
			t.Errorf("newServer with %+v: %v", ok, err)
		}
	}
}

// TestTLSListeningLines runs the program: with -port 0 beside the TLS
// port only the TLS port, whose line says tls://, and the unix socket are
// served, as in Redis. A -tls-port without certificate stops the program
// with Redis's reason. (With both ports, which needs a fixed plain port on
// the command line, the order of the lines is that of serve's addresses,
// which startTLSSetup checks.)
func TestTLSListeningLines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin, err := serverProc.Path()
	if err != nil {
		t.Fatal(err)
	}
	set, files := certFiles(t)
	tlsArgs := []string{"-bind", "127.0.0.1", "-tls-port", "free", "-tls-cert-file", files.Cert, "-tls-key-file", files.Key, "-tls-ca-cert-file", files.CA}
	line := regexp.MustCompile(`^listening on (tcp|tls|unix)://(\S+) \(loops: 1\)$`)
	run := func(t *testing.T, n int, args ...string) (schemes, addrs []string) {
		proc := exec.Command(bin, args...)
		stdout, err := proc.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := proc.Start(); err != nil {
			t.Fatal(err)
		}
		// A program that prints too little is killed, which ends the
		// reads below.
		timer := time.AfterFunc(30*time.Second, func() { proc.Process.Kill() })
		t.Cleanup(func() {
			timer.Stop()
			proc.Process.Kill()
			proc.Wait()
		})
		r := bufio.NewReader(stdout)
		for i := 0; i < n; i++ {
			l, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading listening line %d: %v", i+1, err)
			}
			m := line.FindStringSubmatch(strings.TrimSuffix(l, "\n"))
			if m == nil {
				t.Fatalf("listening line %q", l)
			}
			schemes, addrs = append(schemes, m[1]), append(addrs, m[2])
		}
		return schemes, addrs
	}
	ctx := testContext(t)

	t.Run("port-0-is-tls-only", func(t *testing.T) {
		sock := t.TempDir() + "/redis.sock"
		schemes, addrs := run(t, 2, append(tlsArgs, "-port", "0", "-unixsocket", sock)...)
		if !reflect.DeepEqual(schemes, []string{"tls", "unix"}) {
			t.Fatalf("listening on %v, want tls then unix", schemes)
		}
		secure := newTLSClient(t, addrs[0], clientTLS(set, true))
		if v, err := secure.Do(ctx, "CONFIG", "GET", "port").StringSlice(); err != nil || !reflect.DeepEqual(v, []string{"port", "0"}) {
			t.Errorf("CONFIG GET port = %q, %v; want 0, as Redis with port 0", v, err)
		}
		if err := secure.Set(ctx, "k", "over TLS", 0).Err(); err != nil {
			t.Fatal(err)
		}
		// The unix socket is plain, as Redis's.
		if v, err := newClient(t, "unix", sock).Get(ctx, "k").Result(); err != nil || v != "over TLS" {
			t.Fatalf("GET over the unix socket = %q, %v", v, err)
		}
	})
	t.Run("no-cert", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "-port", "0", "-tls-port", "free").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "failed to configure TLS: no tls-cert-file configured") {
			t.Fatalf("-tls-port without a certificate: %v, %q; want a refusal to start", err, out)
		}
	})
}
