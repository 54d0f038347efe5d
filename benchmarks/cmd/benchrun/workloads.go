package main

import (
	"bufio"
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/proc"
)

//go:embed pipeline.lua
var pipelineLua []byte

// workload is one column group of the results: a protocol, a load tool and
// its settings.
type workload struct {
	name  string
	proto string
	// what describes the load for the results, given the settings.
	what func(c *config) string
	run  func(h *harness, rs *running) (Sample, error)
}

func allWorkloads() []workload {
	return []workload{
		{name: "echo", proto: protoEcho,
			what: func(c *config) string {
				return fmt.Sprintf("TCP echo: echoload, %d connections, %d B ping-pong", c.conns, c.size)
			},
			run: (*harness).runEcho},
		{name: "udp-echo", proto: protoUDP,
			what: func(c *config) string {
				return fmt.Sprintf("UDP echo: udpload, %d sockets, %d datagrams of %d B in flight per socket (lost ones resent after 200 ms)", c.conns, c.udpWindow, c.size)
			},
			run: (*harness).runUDP},
		{name: "http", proto: protoHTTP,
			what: func(c *config) string {
				return fmt.Sprintf("HTTP/1.1 plaintext: wrk -t1 -c%d, one request per round trip", c.conns)
			},
			run: func(h *harness, rs *running) (Sample, error) { return h.runWrk(rs, 1, false) }},
		{name: "http-pipelined", proto: protoHTTP,
			what: func(c *config) string {
				return fmt.Sprintf("HTTP/1.1 plaintext: wrk -t1 -c%d with a %d-deep pipeline (pipeline.lua)", c.conns, c.pipeline)
			},
			run: func(h *harness, rs *running) (Sample, error) { return h.runWrk(rs, h.cfg.pipeline, false) }},
		{name: "http-close", proto: protoHTTP,
			what: func(c *config) string {
				return fmt.Sprintf("HTTP/1.1 plaintext, a new connection per request: wrk -t1 -c%d -H 'Connection: close'", c.conns)
			},
			run: func(h *harness, rs *running) (Sample, error) { return h.runWrk(rs, 1, true) }},
		{name: "redis-P1", proto: protoRedis,
			what: func(c *config) string {
				return fmt.Sprintf("Redis: redis-benchmark -c %d -P 1 -t ping,set,get (PING_INLINE, PING_MBULK, SET, GET)", c.conns)
			},
			run: func(h *harness, rs *running) (Sample, error) { return h.runRedis(rs, 1) }},
		{name: "redis-P16", proto: protoRedis,
			what: func(c *config) string {
				return fmt.Sprintf("Redis: redis-benchmark -c %d -P %d -t ping,set,get", c.conns, c.pipeline)
			},
			run: func(h *harness, rs *running) (Sample, error) { return h.runRedis(rs, h.cfg.pipeline) }},
		{name: "idle", proto: "", // each server's idleProto
			what: func(c *config) string {
				return fmt.Sprintf("memory: VmRSS growth per connection with %d idle connections open (connected, accepted, nothing sent)", c.idle)
			},
			run: (*harness).runIdle},
	}
}

// running is a server process being measured.
type running struct {
	srv     server
	cmd     *exec.Cmd
	pid     int
	addr    string
	proto   string
	stats   string // -stats file, "" without the hook
	lastSeq int64
	label   string // round, workload and server, for the tool log
}

// snapshot is the server's counters at one instant.
type snapshot struct {
	cpu, sched time.Duration
	allocs     uint64
	hasAllocs  bool
}

func (rs *running) snap() (snapshot, error) {
	var s snapshot
	if rs.stats != "" {
		st, err := readGoStats(rs.pid, rs.stats, rs.lastSeq)
		if err != nil {
			return s, err
		}
		rs.lastSeq = st.Seq
		s.allocs, s.hasAllocs = st.AllocsObjects, true
	}
	cpu, err := proc.CPUTime(rs.pid)
	if err != nil {
		return s, err
	}
	s.cpu, s.sched = cpu, schedTime(rs.pid)
	return s, nil
}

// loadResult is what a load tool reports about the measured interval.
type loadResult struct {
	requests     float64
	seconds      float64
	rps          float64
	p50us, p99us float64
	errors       int64
}

// sample combines the load tool's report with the server's counters.
func sample(before, after snapshot, lr loadResult) Sample {
	s := Sample{
		Requests: lr.requests, Seconds: lr.seconds, RPS: lr.rps,
		P50us: lr.p50us, P99us: lr.p99us, Errors: lr.errors,
		CPUus:      float64(after.cpu-before.cpu) / 1e3,
		SchedCPUus: float64(after.sched-before.sched) / 1e3,
	}
	if lr.requests > 0 {
		s.CPUPerReq = s.CPUus / lr.requests
		s.SchedCPUPerReq = s.SchedCPUus / lr.requests
		if before.hasAllocs {
			a := float64(after.allocs-before.allocs) / lr.requests
			s.AllocsPerReq = &a
		}
	}
	return s
}

// runEcho drives echoload, which marks the measured interval on its stdout.
func (h *harness) runEcho(rs *running) (Sample, error) {
	c := h.cfg
	return h.runMarked(rs, filepath.Join(c.bin, "echoload"), "-addr", rs.addr,
		"-c", strconv.Itoa(c.conns), "-size", strconv.Itoa(c.size),
		"-warmup", c.warmup.String(), "-duration", c.duration.String())
}

// runUDP drives udpload, which marks the interval as echoload does; its
// requests are datagrams echoed.
func (h *harness) runUDP(rs *running) (Sample, error) {
	c := h.cfg
	return h.runMarked(rs, filepath.Join(c.bin, "udpload"), "-addr", rs.addr,
		"-c", strconv.Itoa(c.conns), "-window", strconv.Itoa(c.udpWindow), "-size", strconv.Itoa(c.size),
		"-warmup", c.warmup.String(), "-duration", c.duration.String())
}

// runMarked runs a Go load tool that prints "start" and "stop" around the
// measured interval, then one JSON line with requests, seconds, rps,
// p50_us, p99_us and errors (echoload, udpload).
func (h *harness) runMarked(rs *running, argv ...string) (Sample, error) {
	c := h.cfg
	tool := filepath.Base(argv[0])
	cmd := prepareProc(c.loadCPU, h.loadEnv(), argv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Sample{}, err
	}
	if err := register(cmd); err != nil {
		return Sample{}, err
	}
	var before, after snapshot
	var result []byte
	var snapErr error
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		switch line := sc.Text(); line {
		case "start":
			before, err = rs.snap()
		case "stop":
			after, err = rs.snap()
		default:
			result = []byte(line)
		}
		if err != nil && snapErr == nil {
			snapErr = err
		}
	}
	h.logTool(rs, cmd.Args[3:], string(result)+"\n"+stderr.String())
	if err := reap(cmd); err != nil {
		return Sample{}, fmt.Errorf("%s: %v\n%s", tool, err, lastLines(stderr.String(), 10))
	}
	if snapErr != nil {
		return Sample{}, snapErr
	}
	var r struct {
		Requests float64 `json:"requests"`
		Seconds  float64 `json:"seconds"`
		RPS      float64 `json:"rps"`
		P50us    float64 `json:"p50_us"`
		P99us    float64 `json:"p99_us"`
		Errors   int64   `json:"errors"`
	}
	if err := json.Unmarshal(result, &r); err != nil {
		return Sample{}, fmt.Errorf("%s said %q: %v", tool, result, err)
	}
	return sample(before, after, loadResult{r.Requests, r.Seconds, r.RPS, r.P50us, r.P99us, r.Errors}), nil
}

// loadEnv is the environment of the load tools: echoload is a Go program
// and gets the same GOMAXPROCS as the servers.
func (h *harness) loadEnv() []string {
	return []string{"GOMAXPROCS=" + strconv.Itoa(h.cfg.gomaxprocs)}
}

// runTool runs a load tool to completion on the load CPU and returns its
// output, with the server's counters read just before and just after.
func (h *harness) runTool(rs *running, argv ...string) (before, after snapshot, out string, err error) {
	if before, err = rs.snap(); err != nil {
		return
	}
	var buf strings.Builder
	cmd := prepareProc(h.cfg.loadCPU, h.loadEnv(), argv...)
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err = register(cmd); err != nil {
		return
	}
	werr := reap(cmd)
	out = buf.String()
	h.logTool(rs, argv, out)
	if after, err = rs.snap(); err != nil {
		return
	}
	if werr != nil {
		err = fmt.Errorf("%s: %v\n%s", argv[0], werr, lastLines(out, 10))
	}
	return
}

// logTool appends a load tool's command line and output to the run's tool
// log, kept beside the results so that any figure can be traced to what the
// tool printed.
func (h *harness) logTool(rs *running, argv []string, out string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.toolLog != nil {
		fmt.Fprintf(h.toolLog, "### %s\n$ %s\n%s\n", rs.label, strings.Join(argv, " "), strings.TrimRight(out, "\n"))
	}
}

// runWrk measures HTTP with wrk: pipeline requests per write (1 for none),
// or a new connection per request with closeConn.
func (h *harness) runWrk(rs *running, pipeline int, closeConn bool) (Sample, error) {
	c := h.cfg
	if err := warm(protoHTTP, rs.addr, c.conns, c.warmup, closeConn); err != nil {
		return Sample{}, err
	}
	secs := int(math.Ceil(c.duration.Seconds())) // wrk takes whole seconds
	argv := []string{"wrk", "-t1", "-c" + strconv.Itoa(c.conns), "-d" + strconv.Itoa(secs) + "s", "--latency"}
	if closeConn {
		argv = append(argv, "-H", "Connection: close")
	}
	if pipeline > 1 {
		argv = append(argv, "-s", h.luaPath)
	}
	argv = append(argv, "http://"+rs.addr+"/")
	if pipeline > 1 {
		argv = append(argv, "--", strconv.Itoa(pipeline))
	}
	before, after, out, err := h.runTool(rs, argv...)
	if err != nil {
		return Sample{}, err
	}
	lr, err := parseWrk(out)
	if err != nil {
		return Sample{}, fmt.Errorf("%v in wrk output:\n%s", err, out)
	}
	return sample(before, after, lr), nil
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m)\b`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkLatency  = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// toMicros converts a wrk figure with its unit to microseconds.
func toMicros(v, unit string) float64 {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "ms":
		f *= 1e3
	case "s":
		f *= 1e6
	case "m":
		f *= 60e6
	}
	return f
}

func parseWrk(out string) (loadResult, error) {
	var lr loadResult
	m := wrkRequests.FindStringSubmatch(out)
	if m == nil {
		return lr, errors.New("no request count")
	}
	lr.requests, _ = strconv.ParseFloat(m[1], 64)
	lr.seconds = toMicros(m[2], m[3]) / 1e6
	if m := wrkRate.FindStringSubmatch(out); m != nil {
		lr.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range wrkLatency.FindAllStringSubmatch(out, -1) {
		if m[1] == "50" {
			lr.p50us = toMicros(m[2], m[3])
		} else {
			lr.p99us = toMicros(m[2], m[3])
		}
	}
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			lr.errors += n
		}
	}
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		lr.errors += n
	}
	return lr, nil
}

// runRedis measures with redis-benchmark at the given pipeline depth.
// redis-benchmark counts requests, not seconds, so the count is sized from
// the rate this server reached last time (a short calibration run the
// first time) to make the measured interval about the configured duration.
func (h *harness) runRedis(rs *running, pipeline int) (Sample, error) {
	c := h.cfg
	if err := warm(protoRedis, rs.addr, c.conns, c.warmup, false); err != nil {
		return Sample{}, err
	}
	key := rs.srv.name + "/" + strconv.Itoa(pipeline)
	rate, ok := h.redisRate[key]
	if !ok {
		_, _, out, err := h.runTool(rs, h.redisArgv(rs, pipeline, 2000*pipeline)...)
		if err != nil {
			return Sample{}, err
		}
		lr, err := parseRedisCSV(out, 2000*pipeline)
		if err != nil {
			return Sample{}, err
		}
		rate = lr.rps
	}
	// Four tests (PING_INLINE, PING_MBULK, SET, GET) share the duration.
	n := int(rate * c.duration.Seconds() / 4)
	n = max(n, 1000*pipeline)
	before, after, out, err := h.runTool(rs, h.redisArgv(rs, pipeline, n)...)
	if err != nil {
		return Sample{}, err
	}
	lr, err := parseRedisCSV(out, n)
	if err != nil {
		return Sample{}, err
	}
	h.redisRate[key] = lr.rps
	return sample(before, after, lr), nil
}

func (h *harness) redisArgv(rs *running, pipeline, n int) []string {
	host, port, _ := strings.Cut(rs.addr, ":")
	return []string{"redis-benchmark", "-h", host, "-p", port, "-c", strconv.Itoa(h.cfg.conns),
		"-n", strconv.Itoa(n), "-P", strconv.Itoa(pipeline), "-t", "ping,set,get", "--csv"}
}

// parseRedisCSV combines the tests of one redis-benchmark --csv run: the
// requests add up, the rate is requests over the summed test times, and
// p50 and p99 are the worst of the tests.
func parseRedisCSV(out string, n int) (loadResult, error) {
	var lr loadResult
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, `"`) {
			lines = append(lines, l)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(strings.Join(lines, "\n"))).ReadAll()
	if err != nil || len(recs) < 2 || recs[0][0] != "test" {
		return lr, fmt.Errorf("redis-benchmark output not understood:\n%s", lastLines(out, 10))
	}
	col := map[string]int{}
	for i, name := range recs[0] {
		col[name] = i
	}
	for _, r := range recs[1:] {
		rps, _ := strconv.ParseFloat(r[col["rps"]], 64)
		p50, _ := strconv.ParseFloat(r[col["p50_latency_ms"]], 64)
		p99, _ := strconv.ParseFloat(r[col["p99_latency_ms"]], 64)
		if rps <= 0 {
			return lr, fmt.Errorf("redis-benchmark test %s: rate %v", r[0], rps)
		}
		lr.requests += float64(n)
		lr.seconds += float64(n) / rps
		lr.p50us = max(lr.p50us, p50*1e3)
		lr.p99us = max(lr.p99us, p99*1e3)
	}
	lr.rps = lr.requests / lr.seconds
	return lr, nil
}

// runIdle opens the idle connections and reports VmRSS growth per
// connection; CPUPerReq is then the server CPU per connection opened
// (accept and the settle time's share). The connections send nothing: the
// figure is what a server pays for a connection that is doing nothing, so
// the harness counts the server's open descriptors to know it has accepted
// them all.
func (h *harness) runIdle(rs *running) (Sample, error) {
	c := h.cfg
	rssBefore, err := proc.RSS(rs.pid)
	if err != nil {
		return Sample{}, err
	}
	fdsBefore, err := openFDs(rs.pid)
	if err != nil {
		return Sample{}, err
	}
	before, err := rs.snap()
	if err != nil {
		return Sample{}, err
	}
	start := time.Now()
	conns, err := openIdle(rs.addr, c.idle)
	if err != nil {
		return Sample{}, err
	}
	defer closeAll(conns)
	// Wait until the server holds them all. A connection of the protocol
	// check may still be closing when the baseline is taken, so a count a
	// few short of the target that no longer moves is taken as done too.
	last, lastChange := -1, time.Now()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		fds, err := openFDs(rs.pid)
		if err != nil {
			return Sample{}, err
		}
		if fds != last {
			last, lastChange = fds, time.Now()
		}
		if fds >= fdsBefore+c.idle || (fds >= fdsBefore+c.idle-16 && time.Since(lastChange) > 500*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			return Sample{}, fmt.Errorf("the server accepted %d of %d idle connections in 30s", fds-fdsBefore, c.idle)
		}
	}
	elapsed := time.Since(start)
	time.Sleep(c.settle) // let the server finish what the last round trips started
	rssAfter, err := proc.RSS(rs.pid)
	if err != nil {
		return Sample{}, err
	}
	after, err := rs.snap()
	if err != nil {
		return Sample{}, err
	}
	s := sample(before, after, loadResult{requests: float64(c.idle), seconds: elapsed.Seconds(),
		rps: float64(c.idle) / elapsed.Seconds()})
	s.IdleConns = c.idle
	s.RSSBeforeKB, s.RSSAfterKB = rssBefore>>10, rssAfter>>10
	s.RSSPerConn = float64(rssAfter-rssBefore) / float64(c.idle)
	return s, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// openFDs counts a process's open sockets: its listeners and connections,
// not the other descriptors a runtime may open or close meanwhile.
func openFDs(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n, nil
}
