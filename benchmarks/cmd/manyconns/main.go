// Command manyconns opens a million idle connections (or -n) to one
// benchmark server, holds them, checks that a random sample still
// answers, and reports what the server pays per connection in resident
// memory, how fast it accepted them, and what the kernel holds for them.
//
//	benchmarks/run.sh million                  # sets the limits, builds, runs this
//	bin/manyconns -bin bin -servers evio,gnet -n 1000000
//
// The client is this process: raw non-blocking sockets (golang.org/x/sys/
// unix, not package net) and an epoll of its own, at most -inflight
// connects at a time, spread over -per-src connections per loopback source
// address (127.1.0.1, 127.1.0.2, ...), since one address has only
// ip_local_port_range's ports towards one server. The server is started
// for each row on -server-cpu with GOMAXPROCS=1 and -loops 1, like the
// other benchmarks, and speaks echo, so a sample connection writes a line
// and reads it back.
//
// The process needs a descriptor limit above -n, and so does the server
// (which inherits it): run.sh raises fs.nr_open, fs.file-max and the
// limits, and puts them back after.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/evio-go/evio/benchmarks/internal/proc"
	"golang.org/x/sys/unix"
)

// row is a server the run can hold the connections of.
type row struct {
	name, what string
	argv       func(bin string, port int, heap string) []string
	heapHook   bool // answers SIGUSR2 with its live heap (internal/srv)
}

func goEcho(prog string) func(string, int, string) []string {
	return func(bin string, port int, heap string) []string {
		return []string{filepath.Join(bin, prog), "-port", strconv.Itoa(port), "-loops", "1", "-heap", heap}
	}
}

var rows = []row{
	{"evio", "servers/evio-echo: this library, Options{ReuseInputBuffer: true}", goEcho("evio-echo"), true},
	{"gnet", "servers/gnet-echo: github.com/panjf2000/gnet/v2 v2.9.7, one event loop", goEcho("gnet-echo"), true},
	{"tidwall-evio", "servers/tidwall-echo: github.com/tidwall/evio v1.0.8", goEcho("tidwall-echo"), true},
	{"c-floor", "cfloor/floor.c -mode echo: single-threaded C epoll server", func(bin string, port int, _ string) []string {
		return []string{filepath.Join(bin, "floor"), "-port", strconv.Itoa(port), "-loops", "1", "-mode", "echo"}
	}, false},
}

type config struct {
	bin, out, name, script string
	n, inflight, perSrc    int
	maxQueue               int
	sample                 int
	serverCPU              int
	deadline, hold, settle time.Duration
	minAvailMB             int64
	srcBase                [4]byte
}

func main() {
	var c config
	var servers, src string
	flag.StringVar(&c.bin, "bin", "bin", "directory of the built servers")
	flag.StringVar(&c.out, "out", "results", "directory of the results")
	flag.StringVar(&c.name, "name", "", "results file name, without extension (default <date>_<time>-million)")
	flag.StringVar(&c.script, "script", "", "the command line that started the run, for the results")
	flag.StringVar(&servers, "servers", "evio,gnet", "servers, in order: evio, gnet, tidwall-evio, c-floor")
	flag.IntVar(&c.n, "n", 1000000, "connections to open to each server")
	flag.IntVar(&c.inflight, "inflight", 256, "connects in flight at most")
	flag.IntVar(&c.perSrc, "per-src", 10000, "connections per source address (keep under half of ip_local_port_range: see portRange)")
	flag.IntVar(&c.maxQueue, "max-queue", 1024, "wait while the server's accept queue holds this many")
	flag.IntVar(&c.sample, "sample", 1000, "connections picked at random to check they still answer")
	flag.IntVar(&c.serverCPU, "server-cpu", 0, "CPU the server is pinned to")
	flag.DurationVar(&c.deadline, "deadline", 10*time.Minute, "bound on the opening, per server")
	flag.DurationVar(&c.hold, "hold", 10*time.Second, "how long the connections are held before the sample is checked")
	flag.DurationVar(&c.settle, "settle", 2*time.Second, "wait after the last accept before reading memory")
	flag.Int64Var(&c.minAvailMB, "min-available", 3072, "stop opening when MemAvailable falls under this many MiB")
	flag.StringVar(&src, "src", "127.1.0.1", "first source address; the next ones count up from it")
	flag.Parse()
	ip := net.ParseIP(src).To4()
	if ip == nil || ip[0] != 127 {
		log.Fatalf("-src %q: want an IPv4 loopback address", src)
	}
	copy(c.srcBase[:], ip)
	if c.perSrc < 1 || c.n < 1 || c.inflight < 1 {
		log.Fatal("-n, -inflight and -per-src must be positive")
	}
	if lo, hi, err := portRange(); err == nil && c.perSrc > (hi-lo+1)/2 {
		log.Fatalf("-per-src %d: net.ipv4.ip_local_port_range %d-%d has %d ports per source address; keep -per-src under half of it", c.perSrc, lo, hi, hi-lo+1)
	}
	if c.name == "" {
		c.name = time.Now().Format("2006-01-02_150405") + "-million"
	}
	var chosen []row
	for _, s := range strings.Split(servers, ",") {
		i := indexRow(strings.TrimSpace(s))
		if i < 0 {
			log.Fatalf("unknown server %q", s)
		}
		chosen = append(chosen, rows[i])
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		log.Fatal(err)
	}
	if lim.Cur < uint64(c.n)+1000 {
		log.Fatalf("RLIMIT_NOFILE is %d: -n %d needs %d (run.sh million raises fs.nr_open and the limit)", lim.Cur, c.n, c.n+1000)
	}

	var stop atomic.Bool
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		log.Print("interrupted: closing the connections and stopping the server")
		stop.Store(true)
	}()

	run := newRun(c)
	for _, r := range chosen {
		if stop.Load() {
			break
		}
		res := c.measure(r, &stop)
		run.Results = append(run.Results, res)
		if err := run.write(c); err != nil {
			log.Fatal(err)
		}
	}
	if err := run.write(c); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("manyconns: %s\n", filepath.Join(c.out, c.name+".md"))
	if stop.Load() {
		os.Exit(130)
	}
}

// portRange is net.ipv4.ip_local_port_range: the ports a connect picks
// from, for each source address. Linux's connect tries the ports of one
// parity first and the others after, scanning the used ones each time:
// past half the range per source address each connect scans thousands of
// ports (in a run here, 14,848 connects in the first second from one
// address, then 1,280 a second, with the default 32768-60999), so
// -per-src stays under half.
func portRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscan(string(b), &lo, &hi)
	return lo, hi, err
}

func indexRow(name string) int {
	for i, r := range rows {
		if r.name == name {
			return i
		}
	}
	return -1
}

// heapFigures is what internal/srv's heap hook writes after a collection.
type heapFigures struct {
	Seq       int64  `json:"seq"`
	HeapAlloc uint64 `json:"heap_alloc"`
	HeapInuse uint64 `json:"heap_inuse"`
	Sys       uint64 `json:"sys"`
}

// readHeap signals the server for its live heap and waits for the answer.
func readHeap(pid int, path string, last int64) (heapFigures, error) {
	if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
		return heapFigures{}, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var h heapFigures
		if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &h) == nil && h.Seq > last {
			return h, nil
		}
	}
	return heapFigures{}, errors.New("heap hook did not answer SIGUSR2 in 30s")
}

// startServer starts r pinned to cpu with one P, its output to logPath.
// Pdeathsig ends it if this process dies without stopping it.
func startServer(argv []string, cpu int, logPath string) (*exec.Cmd, error) {
	full := append([]string{"taskset", "-c", strconv.Itoa(cpu)}, argv...)
	cmd := exec.Command(full[0], full[1:]...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	return cmd, cmd.Start()
}

// stopServer ends cmd by its PID: SIGTERM, then SIGKILL after grace.
func stopServer(cmd *exec.Cmd, grace time.Duration) {
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
}

// waitListening connects until the server answers or exits.
func waitListening(addr string, pid int) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		if !proc.Alive(pid) {
			return errors.New("the server exited before listening")
		}
	}
	return fmt.Errorf("nothing listening on %s after 10s", addr)
}
