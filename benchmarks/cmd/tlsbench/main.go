// Command tlsbench measures evio's TLS beside the servers people would use
// instead, on loopback, with the server pinned to one CPU and this driver
// (the client, and wrk) to another:
//
//   - memory: server RSS and Go heap per idle TLS connection, after a full
//     handshake and one small exchange (a 4-byte echo, or one HTTP request);
//   - handshakes: full handshakes (no resumption) per second and per
//     server CPU-second, 16 client workers dialing, handshaking, closing;
//   - https: server CPU per HTTPS keep-alive request under wrk, with evio's
//     plain HTTP in the same rounds as the reference.
//
// Servers alternate inside each round (A B A B ...), their order rotating
// by one every round; each figure is the median over the rounds with the
// range. Server CPU is utime+stime from /proc/PID/stat over the timed
// window. benchmarks/tls.sh builds everything and runs this; see
// benchmarks/README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/proc"
)

var (
	binDir      = flag.String("bin", "bin", "directory of the built servers (evio-echo, net-tls-echo, net-http, evio-http)")
	outDir      = flag.String("out", "results", "directory for the results file")
	name        = flag.String("name", "", "results file name without extension (default <date>_<time>-tls)")
	serverCPU   = flag.Int("server-cpu", 0, "CPU the servers are pinned to")
	loadCPU     = flag.Int("load-cpu", 1, "CPU wrk is pinned to (run this driver pinned there too)")
	rounds      = flag.Int("rounds", 5, "rounds per part and mode")
	duration    = flag.Duration("duration", 5*time.Second, "timed window of the handshake and wrk runs")
	idle        = flag.Int("idle", 8000, "idle connections per server for the memory figure")
	workers     = flag.Int("workers", 16, "client workers in the handshake loop")
	wrkConns    = flag.Int("wrk-c", 50, "wrk connections")
	parts       = flag.String("parts", "memory,handshakes,https", "parts to run")
	nginxBin    = flag.String("nginx", "nginx", "nginx binary for the https part (skipped when absent)")
	serverProcs = flag.Int("server-gomaxprocs", 1, "GOMAXPROCS of the Go servers (1 matches their one CPU)")
	script      = flag.String("script", "", "the script command line that ran this, for the results file")
)

// serverDef says how to start one row's server on a port.
type serverDef struct {
	name string
	http bool // the memory client sends an HTTP request, not an echo
	// argv returns the command and, for a Go server, its -heap file; url
	// is what wrk fetches.
	argv func(port int) (argv []string, heapPath, url string)
}

// sample is one measurement of one server in one round.
type sample struct {
	part, mode, server string
	round              int
	v                  map[string]float64
	err                string
}

type run struct {
	tmp, cert, key string
	samples        []sample
	negotiated     map[string]string // part/mode/server -> what the client saw
	commands       []string
	nginxConf      string // the last nginx configuration, for the results
	wrkLog         strings.Builder
}

func main() {
	flag.Parse()
	if *name == "" {
		*name = time.Now().UTC().Format("2006-01-02_150405") + "-tls"
	}
	raiseNofile()
	tmp, err := os.MkdirTemp("", "tlsbench.")
	if err != nil {
		log.Fatal(err)
	}
	r := &run{tmp: tmp, negotiated: map[string]string{}}
	// Every server is ended by PID, and the temporary directory removed,
	// however the run ends.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		killChildren()
		os.RemoveAll(tmp)
		os.Exit(130)
	}()
	defer os.RemoveAll(tmp)
	defer killChildren()

	r.cert, r.key, err = writeCert(tmp)
	if err != nil {
		log.Fatal(err)
	}
	env := machine()
	start := time.Now()
	want := map[string]bool{}
	for _, p := range strings.Split(*parts, ",") {
		want[strings.TrimSpace(p)] = true
	}
	if want["memory"] {
		r.memory()
	}
	if want["handshakes"] {
		r.handshakes()
	}
	if want["https"] {
		r.https()
	}
	env = append(env, [2]string{"load average at end", loadavg()}, [2]string{"wall time", time.Since(start).Round(time.Second).String()})
	if err := r.write(env); err != nil {
		log.Fatal(err)
	}
}

// raiseNofile lifts the soft descriptor limit to the hard one, explicitly,
// so that the servers started from here inherit it (Go raises its own soft
// limit at start, but gives children the original one back).
func raiseNofile() {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err == nil {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func (r *run) goServer(bin string, extra ...string) func(int) ([]string, string, string) {
	return func(port int) ([]string, string, string) {
		heap := filepath.Join(r.tmp, fmt.Sprintf("heap-%s-%d.json", bin, port))
		argv := append([]string{filepath.Join(*binDir, bin), "-port", strconv.Itoa(port), "-loops", "1", "-heap", heap}, extra...)
		return argv, heap, fmt.Sprintf("https://127.0.0.1:%d/", port)
	}
}

func (r *run) tlsFlags() []string {
	return []string{"-tls-cert-file", r.cert, "-tls-key-file", r.key}
}

// start starts def on a free port; it logs the command once per server.
func (r *run) start(def serverDef) (*server, string, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, "", err
	}
	argv, heap, url := def.argv(port)
	var env []string
	if heap != "" {
		// One P per server, matching its one CPU, unless a diagnosis asks
		// otherwise.
		env = []string{fmt.Sprintf("GOMAXPROCS=%d", *serverProcs)}
	}
	logPath := filepath.Join(r.tmp, fmt.Sprintf("server-%d.log", port))
	s, err := startServer(*serverCPU, env, logPath, fmt.Sprintf("127.0.0.1:%d", port), heap, argv...)
	if err != nil {
		return nil, "", err
	}
	r.logCommand(strings.Join(env, " ") + " " + strings.Join(s.argv, " "))
	return s, url, nil
}

// logCommand records a command line once, with the port and temporary
// directory written as placeholders so that equal commands fold.
var portRE = regexp.MustCompile(`127\.0\.0\.1:\d+|-port \d+|heap-[\w.-]+\.json|nginx-\d+`)

func (r *run) logCommand(cmd string) {
	cmd = strings.TrimSpace(strings.ReplaceAll(cmd, r.tmp, "$TMP"))
	cmd = portRE.ReplaceAllStringFunc(cmd, func(s string) string {
		switch {
		case strings.HasPrefix(s, "-port"):
			return "-port $PORT"
		case strings.HasPrefix(s, "heap-"):
			return "heap-$PORT.json"
		case strings.HasPrefix(s, "nginx-"):
			return "nginx-$PORT"
		}
		return "127.0.0.1:$PORT"
	})
	for _, c := range r.commands {
		if c == cmd {
			return
		}
	}
	r.commands = append(r.commands, cmd)
}

func rotate[T any](xs []T, k int) []T {
	out := make([]T, len(xs))
	for i := range xs {
		out[i] = xs[(i+k)%len(xs)]
	}
	return out
}

func (r *run) add(s sample) {
	r.samples = append(r.samples, s)
	if s.err != "" {
		log.Printf("%s %s %s round %d: FAILED: %s", s.part, s.mode, s.server, s.round, s.err)
		return
	}
	keys := make([]string, 0, len(s.v))
	for k := range s.v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%.4g", k, s.v[k])
	}
	log.Printf("%s %s %s round %d:%s", s.part, s.mode, s.server, s.round, b.String())
}

// memory: idle TLS connections after one exchange, RSS and heap per
// connection.
func (r *run) memory() {
	defs := []serverDef{
		{name: "evio", argv: r.goServer("evio-echo", r.tlsFlags()...)},
		{name: "goroutine-per-conn", argv: r.goServer("net-tls-echo", r.tlsFlags()...)},
		{name: "net/http", http: true, argv: r.goServer("net-http", r.tlsFlags()...)},
	}
	for _, m := range modes {
		for round := 1; round <= *rounds; round++ {
			for _, def := range rotate(defs, round-1) {
				r.add(r.memoryOne(def, m, round))
			}
		}
	}
}

func (r *run) memoryOne(def serverDef, m tlsMode, round int) sample {
	s := sample{part: "memory", mode: m.name, server: def.name, round: round}
	srv, _, err := r.start(def)
	if err != nil {
		s.err = err.Error()
		return s
	}
	defer srv.stop()
	time.Sleep(200 * time.Millisecond) // the listening probe's failed handshake ends
	h0, err1 := srv.heap()
	rss0, err2 := proc.RSS(srv.cmd.Process.Pid)
	if err1 != nil || err2 != nil {
		s.err = fmt.Sprint(err1, err2)
		return s
	}
	t0 := time.Now()
	conns, neg, err := openIdle(srv.addr, m.conf(), *idle, 32, def.http, time.Now().Add(60*time.Second))
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		s.err = err.Error()
		return s
	}
	openTime := time.Since(t0)
	r.negotiated["memory/"+m.name+"/"+def.name] = neg
	// Let the handshake goroutines (evio's, and the client's) end and the
	// server settle before reading.
	time.Sleep(time.Second)
	h1, err1 := srv.heap()
	rss1, err2 := proc.RSS(srv.cmd.Process.Pid)
	if err1 != nil || err2 != nil {
		s.err = fmt.Sprint(err1, err2)
		return s
	}
	n := float64(len(conns))
	s.v = map[string]float64{
		"rss_kb_per_conn":   float64(rss1-rss0) / n / 1024,
		"heap_kb_per_conn":  (float64(h1.HeapAlloc) - float64(h0.HeapAlloc)) / n / 1024,
		"stack_kb_per_conn": (float64(h1.StackInuse) - float64(h0.StackInuse)) / n / 1024,
		"goroutines":        float64(h1.Goroutines),
		"open_s":            openTime.Seconds(),
		"rss_mb_after":      float64(rss1) / (1 << 20),
	}
	return s
}

// handshakes: full handshakes per second and per server CPU-second.
func (r *run) handshakes() {
	defs := []serverDef{
		{name: "evio", argv: r.goServer("evio-echo", r.tlsFlags()...)},
		{name: "goroutine-per-conn", argv: r.goServer("net-tls-echo", r.tlsFlags()...)},
	}
	for _, m := range modes {
		for round := 1; round <= *rounds; round++ {
			for _, def := range rotate(defs, round-1) {
				r.add(r.handshakeOne(def, m, round))
			}
		}
	}
}

func (r *run) handshakeOne(def serverDef, m tlsMode, round int) sample {
	s := sample{part: "handshakes", mode: m.name, server: def.name, round: round}
	srv, _, err := r.start(def)
	if err != nil {
		s.err = err.Error()
		return s
	}
	defer srv.stop()
	conf := m.conf()
	// Warm-up: the server's first handshakes grow its heap and stacks.
	handshakeLoop(srv.addr, conf, *workers, 500*time.Millisecond)
	sw0, _ := srv.switches()
	c0, err := srv.cpuTime()
	if err != nil {
		s.err = err.Error()
		return s
	}
	t0 := time.Now()
	res := handshakeLoop(srv.addr, conf, *workers, *duration)
	wall := time.Since(t0)
	c1, err := srv.cpuTime()
	sw1, threads := srv.switches()
	if err != nil {
		s.err = err.Error()
		return s
	}
	r.negotiated["handshakes/"+m.name+"/"+def.name] = res.negotiated
	if res.ok == 0 {
		s.err = fmt.Sprintf("no handshake: %v", res.firstErr)
		return s
	}
	cpu := (c1 - c0).Seconds()
	s.v = map[string]float64{
		"hs_per_s":          float64(res.ok) / wall.Seconds(),
		"hs_per_server_cpu": float64(res.ok) / cpu,
		"server_cpu_util":   cpu / wall.Seconds(),
		"failed":            float64(res.failed),
		"ctxsw_per_hs":      float64(sw1-sw0) / float64(res.ok),
		"threads":           float64(threads),
		"resumed":           float64(res.resumed),
	}
	if res.failed > 0 {
		log.Printf("handshakes %s %s: %d failed, first: %v", m.name, def.name, res.failed, res.firstErr)
	}
	return s
}

// https: server CPU per keep-alive request under wrk.
func (r *run) https() {
	defs := []serverDef{
		{name: "evio (plain HTTP)", argv: func(port int) ([]string, string, string) {
			argv, heap, _ := r.goServer("evio-http")(port)
			return argv, heap, fmt.Sprintf("http://127.0.0.1:%d/", port)
		}},
		{name: "evio", argv: r.goServer("evio-http", r.tlsFlags()...)},
		{name: "net/http", argv: r.goServer("net-http", r.tlsFlags()...)},
	}
	if path, err := exec.LookPath(*nginxBin); err == nil {
		defs = append(defs, serverDef{name: "nginx", argv: func(port int) ([]string, string, string) {
			return r.nginxArgv(path, port), "", fmt.Sprintf("https://127.0.0.1:%d/", port)
		}})
	} else {
		log.Printf("https: no nginx (%v); its row is left out", err)
	}
	for round := 1; round <= *rounds; round++ {
		for _, def := range rotate(defs, round-1) {
			r.add(r.httpsOne(def, round))
		}
	}
}

// nginxArgv writes a configuration for one nginx worker serving the same
// body, everything in the temporary directory, and returns its command.
func (r *run) nginxArgv(path string, port int) []string {
	dir := filepath.Join(r.tmp, fmt.Sprintf("nginx-%d", port))
	os.MkdirAll(dir, 0o755)
	conf := fmt.Sprintf(`worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    server_tokens off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    # wrk's connections stay open for the whole run, as with the Go servers
    # (nginx would close one after 1000 requests by default).
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:%[2]d ssl;
        ssl_certificate %[3]s;
        ssl_certificate_key %[4]s;
        ssl_protocols TLSv1.2 TLSv1.3;
        # The same TLS 1.3 cipher the Go servers pick (AES-128-GCM): left
        # alone, nginx follows the client, and wrk's OpenSSL asks for
        # AES-256-GCM first.
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256;
        ssl_prefer_server_ciphers on;
        location / {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
`, dir, port, r.cert, r.key)
	r.nginxConf = strings.ReplaceAll(strings.ReplaceAll(conf, r.tmp, "$TMP"), fmt.Sprintf("nginx-%d", port), "nginx-$PORT")
	r.nginxConf = strings.ReplaceAll(r.nginxConf, fmt.Sprintf(":%d ssl", port), ":$PORT ssl")
	confPath := filepath.Join(dir, "nginx.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	return []string{path, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log")}
}

var (
	wrkReqs  = regexp.MustCompile(`(\d+) requests in ([\d.]+)(m?s)`)
	wrkRate  = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkNon2  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSock  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkLat50 = regexp.MustCompile(`\s50%\s+([\d.]+)(us|ms|s)`)
	wrkLat99 = regexp.MustCompile(`\s99%\s+([\d.]+)(us|ms|s)`)
)

func (r *run) wrk(url string, d time.Duration, record bool) (string, error) {
	argv := []string{"taskset", "-c", strconv.Itoa(*loadCPU), "wrk", "-t1", fmt.Sprintf("-c%d", *wrkConns),
		fmt.Sprintf("-d%ds", int(d.Seconds())), "--latency", url}
	ctx, cancel := context.WithTimeout(context.Background(), d+15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if record {
		r.logCommand(strings.Join(argv, " "))
		fmt.Fprintf(&r.wrkLog, "$ %s\n%s\n", strings.Join(argv, " "), out)
	}
	return string(out), err
}

func (r *run) httpsOne(def serverDef, round int) sample {
	s := sample{part: "https", mode: "wrk", server: def.name, round: round}
	srv, url, err := r.start(def)
	if err != nil {
		s.err = err.Error()
		return s
	}
	defer srv.stop()
	if err := checkHTTPS(url); err != nil {
		s.err = "check: " + err.Error()
		return s
	}
	if round == 1 && strings.HasPrefix(url, "https") {
		r.negotiated["https/wrk/"+def.name] = opensslNegotiated(srv.addr)
	}
	if _, err := r.wrk(url, time.Second, false); err != nil { // warm-up
		s.err = "warm-up: " + err.Error()
		return s
	}
	sw0, _ := srv.switches()
	c0, err := srv.cpuTime()
	if err != nil {
		s.err = err.Error()
		return s
	}
	out, err := r.wrk(url, *duration, true)
	c1, cerr := srv.cpuTime()
	sw1, threads := srv.switches()
	if err != nil || cerr != nil {
		s.err = fmt.Sprint("wrk: ", err, cerr, out)
		return s
	}
	m := wrkReqs.FindStringSubmatch(out)
	rate := wrkRate.FindStringSubmatch(out)
	if m == nil || rate == nil {
		s.err = "wrk output not understood: " + out
		return s
	}
	reqs, _ := strconv.ParseFloat(m[1], 64)
	rps, _ := strconv.ParseFloat(rate[1], 64)
	cpu := (c1 - c0).Seconds()
	s.v = map[string]float64{
		"req_per_s":       rps,
		"cpu_us_per_req":  cpu / reqs * 1e6,
		"server_cpu_util": cpu / duration.Seconds(), // share of the pinned CPU
		"p50_us":          latency(wrkLat50, out),
		"p99_us":          latency(wrkLat99, out),
		"socket_errors":   0,
		"ctxsw_per_req":   float64(sw1-sw0) / reqs,
		"threads":         float64(threads),
	}
	if n := wrkNon2.FindStringSubmatch(out); n != nil {
		v, _ := strconv.ParseFloat(n[1], 64)
		s.v["non2xx"] = v
	}
	if e := wrkSock.FindStringSubmatch(out); e != nil {
		var t float64
		for _, x := range e[1:] {
			v, _ := strconv.ParseFloat(x, 64)
			t += v
		}
		s.v["socket_errors"] = t
	}
	return s
}

func latency(re *regexp.Regexp, out string) float64 {
	m := re.FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	switch m[2] {
	case "ms":
		v *= 1e3
	case "s":
		v *= 1e6
	}
	return v
}

// opensslNegotiated asks openssl s_client (the TLS library wrk uses) what
// it negotiates with the server: wrk itself does not say.
func opensslNegotiated(addr string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", "s_client", "-connect", addr, "-brief")
	cmd.Stdin = strings.NewReader("")
	out, _ := cmd.CombinedOutput()
	var parts []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, k := range []string{"Protocol version:", "Ciphersuite:", "Server Temp Key:", "Peer signature type:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				parts = append(parts, strings.TrimSpace(v))
			}
		}
	}
	return strings.Join(parts, ", ")
}
