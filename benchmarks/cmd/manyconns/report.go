package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// setting is one line of the results' settings table.
type setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// runReport is the results file.
type runReport struct {
	Settings []setting `json:"settings"`
	Results  []result  `json:"results"`
}

// sysctls the run depends on, read as they were during it.
var sysctls = []string{
	"fs.nr_open", "fs.file-max", "net.core.somaxconn", "net.ipv4.tcp_max_syn_backlog",
	"net.ipv4.ip_local_port_range", "net.ipv4.tcp_mem", "net.netfilter.nf_conntrack_max",
}

func readSysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return "not present"
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

func newRun(c config) *runReport {
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	s := []setting{
		{"date", time.Now().UTC().Format("2006-01-02 15:04 MST")},
		{"command", orNone(c.script)},
		{"client command", shellJoin(os.Args)},
		{"connections per server", fmt.Sprint(c.n)},
		{"client", fmt.Sprintf("this process (cmd/manyconns), GOMAXPROCS=%s, raw non-blocking sockets and one epoll, %d connects in flight at most, waiting while the accept queue holds %d",
			orNone(os.Getenv("GOMAXPROCS")), c.inflight, c.maxQueue)},
		{"source addresses", fmt.Sprintf("%d connections per address from %d.%d.%d.%d up (%d addresses for %d), IP_BIND_ADDRESS_NO_PORT",
			c.perSrc, c.srcBase[0], c.srcBase[1], c.srcBase[2], c.srcBase[3], (c.n+c.perSrc-1)/c.perSrc, c.n)},
		{"server", fmt.Sprintf("taskset -c %d, GOMAXPROCS=1, -loops 1; echo protocol", c.serverCPU)},
		{"bounds", fmt.Sprintf("opening deadline %v per server, stop when MemAvailable < %d MiB; held %v; VmRSS read %v after the last accept", c.deadline, c.minAvailMB, c.hold, c.settle)},
		{"sample", fmt.Sprintf("%d connections at random, one echo line each, 5 s to answer", c.sample)},
		{"RLIMIT_NOFILE", fmt.Sprintf("soft %d, hard %d (the servers inherit it)", lim.Cur, lim.Max)},
	}
	for _, k := range sysctls {
		s = append(s, setting{k, readSysctl(k)})
	}
	s = append(s,
		setting{"kernel", readTrim("/proc/sys/kernel/osrelease")},
		setting{"CPUs online", readTrim("/sys/devices/system/cpu/online")},
		setting{"MemTotal", memTotal()},
		setting{"load average at start", readTrim("/proc/loadavg")},
		setting{"go", goVersion()},
		setting{"evio revision", evioRevision()},
	)
	return &runReport{Settings: s}
}

// shellJoin quotes the arguments that hold spaces, so the command line
// can be pasted back.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if strings.ContainsAny(a, " '\"") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

func readTrim(path string) string {
	b, _ := os.ReadFile(path)
	return strings.TrimSpace(string(b))
}

func orNone(s string) string {
	if s == "" {
		return "(not given)"
	}
	return s
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			return strings.TrimSpace(rest)
		}
	}
	return "unknown"
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}

func evioRevision() string {
	rev, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	r := strings.TrimSpace(string(rev))
	if st, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(st) > 0 {
		r += " with uncommitted changes"
	}
	return r
}

// write puts the report in <out>/<name>.md and .json.
func (run *runReport) write(c config) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, c.name+".json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.out, c.name+".md"), []byte(run.markdown(c)), 0o644)
}

func mib(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

func (run *runReport) markdown(c config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %d idle connections to one server\n\n", c.n)
	b.WriteString("Written by `cmd/manyconns` (`benchmarks/run.sh million`). Every figure below was measured in this run; the JSON file beside this one has them all, with the opening's progress second by second.\n\n")
	b.WriteString("| | " + strings.Join(names(run.Results), " | ") + " |\n|---|" + strings.Repeat("---|", len(run.Results)) + "\n")
	row := func(label string, f func(r *result) string) {
		cells := make([]string, len(run.Results))
		for i := range run.Results {
			cells[i] = f(&run.Results[i])
		}
		fmt.Fprintf(&b, "| %s | %s |\n", label, strings.Join(cells, " | "))
	}
	row("outcome", func(r *result) string {
		switch {
		case r.Error != "":
			return "**failed**: " + r.Error
		case r.Open.Stopped != "":
			return "stopped short: " + r.Open.Stopped
		}
		return "all opened, held and accepted"
	})
	row("connections established (client)", func(r *result) string { return fmt.Sprintf("%d of %d", r.Open.Established, r.Target) })
	row("sockets the server held (/proc/PID/fd)", func(r *result) string { return fmt.Sprint(r.Held) })
	row("time to establish them", func(r *result) string { return fmt.Sprintf("%.1f s", r.Open.OpenSeconds) })
	row("time until the server had accepted them all", func(r *result) string {
		if r.AcceptRate == 0 {
			return fmt.Sprintf("not reached (%.1f s)", r.Open.AcceptSeconds)
		}
		return fmt.Sprintf("%.1f s", r.Open.AcceptSeconds)
	})
	row("**accept rate** (conns/s, to the last accept)", func(r *result) string { return rate(r.AcceptRate) })
	row("client connect rate (conns/s)", func(r *result) string { return rate(r.ClientRate) })
	row("time the client waited on a full accept queue", func(r *result) string {
		return fmt.Sprintf("%.1f s (queue max %d, backlog %d)", r.Open.ThrottledSeconds, r.Open.MaxQueued, r.Open.Backlog)
	})
	row("failed connects", func(r *result) string { return failures(r.Open.Failed) })
	row("server VmRSS before → after", func(r *result) string {
		return fmt.Sprintf("%s → %s", mib(r.RSSBeforeKB), mib(r.RSSAfterKB))
	})
	row("**server VmRSS per connection**", func(r *result) string { return fmt.Sprintf("**%.0f B**", r.RSSPerConn) })
	row("server live heap per connection (after a GC)", func(r *result) string {
		if r.HeapAfter == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.0f B (%s → %s)", r.HeapPerConn, mib(int64(r.HeapBefore.HeapAlloc>>10)), mib(int64(r.HeapAfter.HeapAlloc>>10)))
	})
	row("TCP sockets in use, machine (sockstat)", func(r *result) string {
		return fmt.Sprintf("%d → %d", r.KernelBefore.Sockstat.InUse, r.KernelAfter.Sockstat.InUse)
	})
	row("**kernel TCP buffer memory** (sockstat mem × page)", func(r *result) string {
		return fmt.Sprintf("%d → %d pages (%+.1f MiB)", r.KernelBefore.Sockstat.MemPages, r.KernelAfter.Sockstat.MemPages, float64(r.sockMemBytes())/(1<<20))
	})
	row("**kernel slab growth** (meminfo Slab), both ends", func(r *result) string {
		if r.Held <= 0 {
			return mib(r.slabGrowthKB())
		}
		return fmt.Sprintf("%+.1f MiB (%.0f B per connection)", float64(r.slabGrowthKB())/1024, float64(r.slabGrowthKB())*1024/float64(r.Held))
	})
	row("SUnreclaim growth", func(r *result) string {
		return fmt.Sprintf("%+.1f MiB", float64(r.KernelAfter.Meminfo.SUnreclaimKB-r.KernelBefore.Meminfo.SUnreclaimKB)/1024)
	})
	row("slab caches growth (/proc/slabinfo)", func(r *result) string { return slabGrowth(r) })
	row("MemAvailable before → after", func(r *result) string {
		return fmt.Sprintf("%s → %s", mib(r.KernelBefore.Meminfo.MemAvailableKB), mib(r.KernelAfter.Meminfo.MemAvailableKB))
	})
	row("client VmRSS (this process)", func(r *result) string { return mib(r.ClientRSSKB) })
	row("held for", func(r *result) string { return fmt.Sprintf("%.1f s", r.HeldSeconds) })
	row("**sample answered**", func(r *result) string {
		s := r.Sample
		out := fmt.Sprintf("%d of %d", s.Answered, s.Size)
		if s.Answered > 0 {
			out += fmt.Sprintf(" (p50 %.2f ms, max %.2f ms)", s.P50ms, s.Maxms)
		}
		if s.Failed > 0 {
			out += "; failed: " + failures(s.Errors)
		}
		return out
	})
	row("server VmRSS after the sample", func(r *result) string { return mib(r.RSSAfterSampleKB) })
	row("closing (client, SO_LINGER 0) / kernel released", func(r *result) string {
		return fmt.Sprintf("%.1f s / %.1f s", r.CloseSeconds, r.ReleaseSeconds)
	})
	b.WriteString("\nHow to read it: **VmRSS per connection** is the server's resident memory growth divided by the sockets it holds, read after the last accept (the connections have sent nothing, so it is what an idle connection costs the server process). The live heap is the same after a forced collection (internal/srv's SIGUSR2 hook). The **accept rate** is the connections over the time from the first connect to the instant the listener's accept queue (sock_diag) was empty with every one established: the slower of the client's connects and the server's accepts. The client is throttled by the accept queue, never overflowing it; when it waited a large part of the time, the server's accepts were the bound. The sample's latencies run from each request's write; the requests are written one after the other before any answer is read. The kernel figures are the whole machine's: they hold both ends of each connection (two sockets) and the server's epoll entries, and whatever else ran meanwhile.\n\n")
	b.WriteString("Servers:\n\n")
	for _, r := range run.Results {
		fmt.Fprintf(&b, "- **%s**: %s: `GOMAXPROCS=1 taskset -c %d %s`\n", r.Server, r.What, c.serverCPU, strings.Join(r.Argv, " "))
	}
	b.WriteString("\nOpening progress, every 5 s (established by the client, in the accept queue, the server's descriptors beyond its start):\n\n")
	for _, r := range run.Results {
		fmt.Fprintf(&b, "- %s: ", r.Server)
		var pts []string
		for i, p := range r.Open.Progress {
			if i%5 == 4 || i == len(r.Open.Progress)-1 {
				pts = append(pts, fmt.Sprintf("%.0fs %d/%d/%d", p.T, p.Established, p.Queued, p.ServerFDs))
			}
		}
		b.WriteString(strings.Join(pts, ", ") + "\n")
	}
	b.WriteString("\n## Settings\n\n| setting | value |\n|---|---|\n")
	for _, s := range run.Settings {
		fmt.Fprintf(&b, "| %s | %s |\n", s.Key, strings.ReplaceAll(s.Value, "|", "\\|"))
	}
	return b.String()
}

func names(rs []result) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Server
	}
	return out
}

func rate(r float64) string {
	if r == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f", r)
}

func failures(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%d × %s", v, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func slabGrowth(r *result) string {
	var parts []string
	for _, name := range slabCaches {
		a, okA := r.KernelAfter.Slab[name]
		b, okB := r.KernelBefore.Slab[name]
		if okA && okB {
			parts = append(parts, fmt.Sprintf("%s %+.0f MiB", name, float64(a-b)/(1<<20)))
		}
	}
	if len(parts) == 0 {
		return "n/a"
	}
	return strings.Join(parts, ", ")
}
