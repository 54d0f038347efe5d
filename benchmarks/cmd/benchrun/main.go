// Command benchrun runs the side-by-side benchmark: every server on every
// workload, in paired rounds, with the server pinned to one CPU and the
// load to another, and writes the results as Markdown, CSV and JSON.
// benchmarks/run.sh builds everything and calls it; see
// benchmarks/README.md for the method.
//
//	benchrun -mode quick -bin bin -out results
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/proc"
)

// config is the run's settings; every one is recorded in the results.
type config struct {
	mode               string
	rounds             int
	duration, warmup   time.Duration
	settle             time.Duration // wait before reading VmRSS of idle connections
	conns              int           // connections of every load tool
	pipeline           int           // wrk and redis-benchmark pipeline depth
	size               int           // echo message and UDP datagram size
	udpWindow          int           // UDP datagrams in flight per socket
	idle               int           // idle connections for the memory workload
	serverCPU, loadCPU int
	gomaxprocs         int
	bin, out, name     string
	only, workloads    []string
	examples           bool   // add the repository's example servers as a row
	baselineRev        string // revision of bin/baseline-*, "" without them
}

// modes are the presets of run.sh. quick is a smoke run of about four
// minutes: short intervals and 2,000 idle connections. full is the
// comparison to publish, about 20 minutes on an idle 2-core machine: each
// round takes about 2 minutes (35 load samples of about 3 s, 8 idle ones of
// about 2.5 s), and rounds matter more than long intervals, since a single
// interval's spread is 10-25% whatever its length.
var modes = map[string]config{
	"quick": {rounds: 3, duration: time.Second, warmup: 300 * time.Millisecond, settle: 200 * time.Millisecond, idle: 2000},
	"full":  {rounds: 10, duration: 2 * time.Second, warmup: 500 * time.Millisecond, settle: time.Second, idle: 10000},
}

func parseFlags() *config {
	c := &config{}
	flag.StringVar(&c.mode, "mode", "quick", "preset: quick (smoke run) or full (the comparison)")
	rounds := flag.Int("rounds", 0, "paired rounds (0: the mode's)")
	duration := flag.Duration("duration", 0, "measured interval per server and workload (0: the mode's; wrk rounds up to whole seconds)")
	warmup := flag.Duration("warmup", 0, "load before each measured interval (0: the mode's)")
	flag.IntVar(&c.conns, "conns", 50, "connections of each load tool")
	flag.IntVar(&c.pipeline, "pipeline", 16, "pipeline depth of the pipelined workloads")
	flag.IntVar(&c.size, "size", 64, "echo message and UDP datagram size in bytes")
	flag.IntVar(&c.udpWindow, "udp-window", 4, "UDP datagrams in flight per socket (udp-echo)")
	idle := flag.Int("idle", 0, "idle connections for the memory workload (0: the mode's)")
	flag.IntVar(&c.serverCPU, "server-cpu", 0, "CPU the server is pinned to")
	flag.IntVar(&c.loadCPU, "load-cpu", 1, "CPU the load tools are pinned to")
	flag.IntVar(&c.gomaxprocs, "gomaxprocs", 1, "GOMAXPROCS of every Go server and of echoload")
	flag.StringVar(&c.bin, "bin", "bin", "directory of the built servers, floor and echoload")
	flag.StringVar(&c.out, "out", "results", "directory for the results")
	flag.StringVar(&c.name, "name", "", "base name of the result files (default: date, time and mode)")
	only := flag.String("servers", "", "comma-separated servers to run (default: all; gnet and c-floor are needed for ratios)")
	wls := flag.String("workloads", "", "comma-separated workloads to run (default: all)")
	flag.BoolVar(&c.examples, "examples", false, "add evio's examples/http-server and examples/redis-server as a row (run.sh builds them)")
	flag.StringVar(&c.baselineRev, "baseline-rev", "", "git revision bin/baseline-* were built from (run.sh sets it from BASELINE); names the evio-baseline row")
	flag.Parse()

	preset, ok := modes[c.mode]
	if !ok {
		log.Fatalf("unknown -mode %q: want quick or full", c.mode)
	}
	c.rounds, c.duration, c.warmup, c.settle = preset.rounds, preset.duration, preset.warmup, preset.settle
	if *rounds > 0 {
		c.rounds = *rounds
	}
	if *duration > 0 {
		c.duration = *duration
	}
	if *warmup > 0 {
		c.warmup = *warmup
	}
	c.idle = preset.idle
	if *idle > 0 {
		c.idle = *idle
	}
	if *only != "" {
		c.only = strings.Split(*only, ",")
	}
	if *wls != "" {
		c.workloads = strings.Split(*wls, ",")
	}
	if c.name == "" {
		c.name = time.Now().Format("2006-01-02_1504") + "-" + c.mode
	}
	return c
}

// harness is the state of one run.
type harness struct {
	cfg       *config
	servers   []server
	workloads []workload
	tmp       string // stats files, server logs, pipeline.lua
	luaPath   string
	redisRate map[string]float64 // last redis-benchmark rate per server and depth
	env       []setting          // machine and tools, read at the start

	mu      sync.Mutex // guards samples and toolLog against the interrupt handler
	samples []Sample
	toolLog *os.File // <name>.log: every load tool's command line and output
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("benchrun: ")
	cfg := parseFlags()

	h := &harness{cfg: cfg, redisRate: map[string]float64{}}
	all := allServers(cfg.bin, cfg.examples, cfg.baselineRev)
	for _, s := range all {
		if len(cfg.only) == 0 || slices.Contains(cfg.only, s.name) {
			h.servers = append(h.servers, s)
		}
	}
	if err := checkServerNames(cfg, all); err != nil {
		log.Fatal(err)
	}
	for _, w := range allWorkloads() {
		if len(cfg.workloads) == 0 || slices.Contains(cfg.workloads, w.name) {
			h.workloads = append(h.workloads, w)
		}
	}
	var err error
	if h.tmp, err = os.MkdirTemp("", "benchrun-"); err != nil {
		log.Fatal(err)
	}
	h.luaPath = filepath.Join(h.tmp, "pipeline.lua")
	if err := os.WriteFile(h.luaPath, pipelineLua, 0o644); err != nil {
		log.Fatal(err)
	}

	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		log.Fatal(err)
	}
	if h.toolLog, err = os.Create(filepath.Join(cfg.out, cfg.name+".log")); err != nil {
		log.Fatal(err)
	}

	// An interrupt ends every child by PID and still writes what was
	// measured so far.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		log.Printf("%v: stopping", s)
		killChildren()
		h.finish(true)
		os.Exit(130)
	}()

	h.env = readEnv(cfg)
	start := time.Now()
	for round := 1; round <= cfg.rounds; round++ {
		h.runRound(round)
		took := time.Since(start)
		left := took / time.Duration(round) * time.Duration(cfg.rounds-round)
		log.Printf("round %d/%d done after %v; about %v to go", round, cfg.rounds, took.Round(time.Second), left.Round(time.Second))
	}
	log.Printf("all rounds done in %v", time.Since(start).Round(time.Second))
	h.finish(false)
}

// runRound runs every workload on every server back to back. The servers'
// order rotates by one each round, so that no server always runs first
// (on a cold cache) or right after the same neighbour.
func (h *harness) runRound(round int) {
	for _, w := range h.workloads {
		var ss []server
		for _, s := range h.servers {
			if h.protoFor(w, s) != "" {
				ss = append(ss, s)
			}
		}
		for slot := range ss {
			s := ss[(slot+round-1)%len(ss)]
			t0 := time.Now()
			smp := h.runOne(round, w, s)
			smp.WallSeconds = time.Since(t0).Seconds()
			smp.Round, smp.Slot, smp.Workload, smp.Server = round, slot, w.name, s.name
			h.mu.Lock()
			h.samples = append(h.samples, smp)
			h.mu.Unlock()
			log.Print(progressLine(h.cfg, smp))
		}
	}
}

// checkServerNames refuses a run that would silently leave out a server
// asked for: a misspelt -servers name, or a baseline that was not built.
func checkServerNames(c *config, all []server) error {
	var names []string
	for _, s := range all {
		names = append(names, s.name)
	}
	if c.baselineRev != "" && !slices.Contains(names, refBaseline) {
		return fmt.Errorf("-baseline-rev %s: no baseline servers in %s (run.sh builds them with BASELINE set)", c.baselineRev, c.bin)
	}
	for _, want := range c.only {
		if slices.Contains(names, want) {
			continue
		}
		switch want {
		case refBaseline:
			return fmt.Errorf("-servers %s: no baseline servers in %s; run run.sh with BASELINE=<git revision>", want, c.bin)
		case "evio-examples":
			return fmt.Errorf("-servers %s: needs -examples and the example servers built by run.sh", want)
		}
		return fmt.Errorf("-servers: unknown server %q; the servers are %s", want, strings.Join(names, ", "))
	}
	return nil
}

func (h *harness) protoFor(w workload, s server) string {
	if w.proto == "" {
		return idleProto(s)
	}
	if s.argv(w.proto, 1, "x") == nil {
		return ""
	}
	return w.proto
}

// runOne starts a fresh server, checks that it answers correctly, measures
// the workload and stops the server. A failure is recorded in the sample.
func (h *harness) runOne(round int, w workload, s server) Sample {
	proto := h.protoFor(w, s)
	port, err := proc.FreePort()
	if err != nil {
		return Sample{Failed: err.Error()}
	}
	// Files per round: a stats file left by the previous round's server
	// would answer for this one.
	base := filepath.Join(h.tmp, fmt.Sprintf("%s-%s-%d", strings.ReplaceAll(s.name, "/", "_"), w.name, round))
	stats := ""
	if s.goStats {
		stats = base + ".stats"
	}
	argv := s.argv(proto, port, stats)
	cmd, err := startServer(h.cfg.serverCPU, []string{"GOMAXPROCS=" + strconv.Itoa(h.cfg.gomaxprocs)}, base+".log", argv...)
	if err != nil {
		return Sample{Failed: err.Error()}
	}
	defer stopProc(cmd)
	rs := &running{srv: s, cmd: cmd, pid: cmd.Process.Pid, addr: fmt.Sprintf("127.0.0.1:%d", port), proto: proto, stats: stats,
		label: fmt.Sprintf("round %d, %s, %s", round, w.name, s.name)}
	fail := func(err error) Sample {
		logTail, _ := os.ReadFile(base + ".log")
		msg := err.Error()
		if t := strings.TrimSpace(lastLines(string(logTail), 3)); t != "" {
			msg += " (server log: " + t + ")"
		}
		return Sample{Failed: msg}
	}
	if err := waitListening(proto, rs.addr, cmd, 10*time.Second); err != nil {
		return fail(err)
	}
	if err := checkServer(proto, rs.addr, s.lenient); err != nil {
		return fail(fmt.Errorf("protocol check: %v", err))
	}
	smp, err := w.run(h, rs)
	if err != nil {
		return fail(err)
	}
	if !proc.Alive(rs.pid) {
		return fail(fmt.Errorf("server died during the run"))
	}
	return smp
}

func progressLine(c *config, s Sample) string {
	head := fmt.Sprintf("round %d/%d %-15s %-14s %4.1fs", s.Round, c.rounds, s.Workload, s.Server, s.WallSeconds)
	switch {
	case s.Failed != "":
		return head + " FAILED: " + s.Failed
	case s.Workload == "idle":
		return head + fmt.Sprintf(" %8.0f B/conn RSS  %6.2f µs CPU/conn", s.RSSPerConn, s.CPUPerReq)
	}
	line := head + fmt.Sprintf(" %7.2f µs CPU/req %10.0f req/s  p50 %7.0f µs  p99 %7.0f µs", s.CPUPerReq, s.RPS, s.P50us, s.P99us)
	if s.AllocsPerReq != nil {
		line += fmt.Sprintf("  %.2f allocs/req", *s.AllocsPerReq)
	}
	if s.Errors > 0 {
		line += fmt.Sprintf("  %d ERRORS", s.Errors)
	}
	return line
}

// finish writes the results and removes the temporary directory.
func (h *harness) finish(interrupted bool) {
	h.mu.Lock()
	samples := slices.Clone(h.samples)
	h.mu.Unlock()
	res := h.results(samples, interrupted)
	if err := writeResults(h.cfg, res); err != nil {
		log.Print(err)
	}
	h.mu.Lock()
	h.toolLog.Close()
	h.toolLog = nil
	h.mu.Unlock()
	os.RemoveAll(h.tmp)
}
