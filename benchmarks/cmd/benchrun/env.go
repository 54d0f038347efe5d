package main

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// setting is one line of the results' settings table.
type setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// readEnv records the run's settings and everything about the machine and
// the tools that could explain a difference between two results files.
func readEnv(c *config) []setting {
	s := []setting{
		{"date", time.Now().UTC().Format("2006-01-02 15:04 MST")},
		{"mode", c.mode},
		{"rounds", fmt.Sprint(c.rounds)},
		{"measured interval per server and workload", c.duration.String() + " (wrk: whole seconds; redis-benchmark: requests sized to it)"},
		{"warmup before each interval", c.warmup.String()},
		{"connections per load tool", fmt.Sprint(c.conns)},
		{"pipeline depth", fmt.Sprint(c.pipeline)},
		{"echo message size", fmt.Sprintf("%d B", c.size)},
		{"UDP datagrams in flight per socket (udp-echo)", fmt.Sprintf("%d, of %d B", c.udpWindow, c.size)},
		{"idle connections", fmt.Sprintf("%d, VmRSS read %v after the last opened", c.idle, c.settle)},
		{"server pinning", fmt.Sprintf("taskset -c %d, one event loop (-loops 1)", c.serverCPU)},
		{"load pinning", fmt.Sprintf("taskset -c %d; wrk -t1, redis-benchmark single-threaded, echoload one goroutine per connection", c.loadCPU)},
		{"GOMAXPROCS", fmt.Sprintf("%d for every Go server and for echoload and udpload", c.gomaxprocs)},
		{"kernel", readTrim("/proc/sys/kernel/osrelease")},
		{"CPU", cpuModel()},
		{"CPUs online", orNone(readTrim("/sys/devices/system/cpu/online"))},
		{"CPU frequency governor", orNone(readTrim("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"))},
		{"load average at start", readTrim("/proc/loadavg")},
		{"RLIMIT_NOFILE", nofile()},
		{"go", goVersion(c.bin)},
		{"gcc", firstLine("gcc", "--version")},
		{"wrk", firstLine("wrk", "-v")},
		{"redis-benchmark", firstLine("redis-benchmark", "--version")},
		{"redis-server", firstLine("redis-server", "--version")},
		{"taskset", firstLine("taskset", "--version")},
		{"evio revision", evioRevision()},
	}
	if c.baselineRev != "" {
		s = append(s, setting{"evio-baseline revision", c.baselineRev + " (BASELINE: its own benchmarks/servers/evio-*, built against that revision of the library)"})
	}
	return append(s, moduleVersions(c.bin)...)
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func orNone(s string) string {
	if s == "" {
		return "not exposed"
	}
	return s
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func nofile() string {
	var r syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
	return fmt.Sprintf("soft %d, hard %d (Go raises soft to hard; floor.c and redis-server raise their own)", r.Cur, r.Max)
}

// firstLine runs a tool and returns the first line it prints.
func firstLine(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if len(out) == 0 && err != nil {
		return "not found"
	}
	l, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(l)
}

// goVersion is the toolchain the servers were built with.
func goVersion(bin string) string {
	bi, err := buildinfo.ReadFile(filepath.Join(bin, "evio-echo"))
	if err != nil {
		return runtime.Version()
	}
	return bi.GoVersion
}

// moduleVersions reads the peers' module versions out of the server
// binaries, which is what actually ran.
func moduleVersions(bin string) []setting {
	want := []string{"github.com/tidwall/evio", "github.com/panjf2000/gnet/v2", "github.com/valyala/fasthttp", "golang.org/x/sys"}
	found := map[string]string{}
	for _, prog := range []string{"tidwall-echo", "gnet-echo", "fasthttp", "evio-echo"} {
		bi, err := buildinfo.ReadFile(filepath.Join(bin, prog))
		if err != nil {
			continue
		}
		for _, d := range bi.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			found[d.Path] = d.Version
		}
	}
	var s []setting
	for _, m := range want {
		if v, ok := found[m]; ok {
			s = append(s, setting{m, v})
		}
	}
	return s
}

// evioRevision names the library code that ran: the commit, and whether
// the work tree had changes (read-only git commands).
func evioRevision() string {
	rev, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "no commit yet (work tree)"
	}
	r := strings.TrimSpace(string(rev))
	if st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(st) > 0 {
		r += " with uncommitted changes"
	}
	return r
}
