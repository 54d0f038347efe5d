package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// machine describes what the figures were measured on.
func machine() [][2]string {
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		// wrk -v exits with 1 after printing its version.
		if err != nil && len(out) == 0 {
			return "unavailable (" + err.Error() + ")"
		}
		return strings.TrimSpace(string(out))
	}
	cpuModel := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpuModel = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	wrkV := run("wrk", "-v")
	if i := strings.IndexByte(wrkV, '\n'); i > 0 {
		wrkV = wrkV[:i]
	}
	return [][2]string{
		{"nproc --all", run("nproc", "--all") + " (this driver is pinned: `nproc` here says " + run("nproc") + ")"},
		{"CPU", cpuModel},
		{"uname -r", run("uname", "-r")},
		{"Go", runtime.Version()},
		{"nginx", run("nginx", "-v")},
		{"openssl", run("openssl", "version")},
		{"wrk", wrkV},
		{"evio revision", run("git", "rev-parse", "--short", "HEAD") + dirty()},
		{"load average at start", loadavg()},
		{"pinning", fmt.Sprintf("servers on CPU %d (taskset), GOMAXPROCS=1, one loop; this driver (client) and wrk on CPU %d", *serverCPU, *loadCPU)},
		{"settings", fmt.Sprintf("rounds %d, window %s, idle conns %d, handshake workers %d, wrk -t1 -c%d", *rounds, *duration, *idle, *workers, *wrkConns)},
	}
}

func dirty() string {
	out, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output()
	if len(strings.TrimSpace(string(out))) > 0 {
		return " (with uncommitted changes)"
	}
	return ""
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// column is one figure in a table.
type column struct {
	key, title, format string
}

// stat is the median and range of a figure over the rounds.
func stat(vals []float64, format string) string {
	if len(vals) == 0 {
		return "–"
	}
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	var med float64
	if n := len(s); n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	f := func(x float64) string { return fmt.Sprintf(format, x) }
	return fmt.Sprintf("**%s** [%s–%s]", f(med), f(s[0]), f(s[len(s)-1]))
}

// paired is the column "÷ evio": a row's figure over evio's in the same
// mode and round, measured minutes apart at most, so the machine's load
// (other work shares these two CPUs) cancels out better than in the
// medians of the figures themselves.
type paired struct {
	key, ref, title string
}

func (r *run) ratios(part string, p paired) map[[2]string][]float64 {
	type rk struct {
		mode  string
		round int
	}
	ref := map[rk]float64{}
	for _, s := range r.samples {
		if s.part == part && s.server == p.ref && s.err == "" {
			ref[rk{s.mode, s.round}] = s.v[p.key]
		}
	}
	out := map[[2]string][]float64{}
	for _, s := range r.samples {
		if s.part != part || s.err != "" {
			continue
		}
		if d, ok := ref[rk{s.mode, s.round}]; ok && d != 0 {
			k := [2]string{s.mode, s.server}
			out[k] = append(out[k], s.v[p.key]/d)
		}
	}
	return out
}

func (r *run) table(b *strings.Builder, part string, p paired, cols []column) {
	ratios := r.ratios(part, p)
	type key struct{ mode, server string }
	var order []key
	vals := map[key]map[string][]float64{}
	fails := map[key]int{}
	for _, s := range r.samples {
		if s.part != part {
			continue
		}
		k := key{s.mode, s.server}
		if _, ok := vals[k]; !ok {
			vals[k] = map[string][]float64{}
			order = append(order, k)
		}
		if s.err != "" {
			fails[k]++
			continue
		}
		for c, v := range s.v {
			vals[k][c] = append(vals[k][c], v)
		}
	}
	// Rows in a fixed order: mode as run, then server name as first seen.
	fmt.Fprintf(b, "| mode | server | rounds | %s |", p.title)
	for _, c := range cols {
		fmt.Fprintf(b, " %s |", c.title)
	}
	b.WriteString("\n|---|---|---|---|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, k := range order {
		n := len(vals[k][cols[0].key])
		rounds := fmt.Sprint(n)
		if fails[k] > 0 {
			rounds += fmt.Sprintf(" (+%d failed)", fails[k])
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s |", k.mode, k.server, rounds, stat(ratios[[2]string{k.mode, k.server}], "%.2f"))
		for _, c := range cols {
			fmt.Fprintf(b, " %s |", stat(vals[k][c.key], c.format))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func (r *run) raw(b *strings.Builder, part string) {
	fmt.Fprintf(b, "<details><summary>every round of %s</summary>\n\n```\n", part)
	for _, s := range r.samples {
		if s.part != part {
			continue
		}
		if s.err != "" {
			fmt.Fprintf(b, "%-12s %-20s r%d FAILED %s\n", s.mode, s.server, s.round, s.err)
			continue
		}
		keys := make([]string, 0, len(s.v))
		for k := range s.v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(b, "%-12s %-20s r%d", s.mode, s.server, s.round)
		for _, k := range keys {
			fmt.Fprintf(b, " %s=%.4g", k, s.v[k])
		}
		b.WriteString("\n")
	}
	b.WriteString("```\n</details>\n\n")
}

func (r *run) has(part string) bool {
	for _, s := range r.samples {
		if s.part == part {
			return true
		}
	}
	return false
}

func (r *run) write(env [][2]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# TLS benchmark %s\n\n", *name)
	b.WriteString("evio's TLS (`Events.TLSConfig`) beside a goroutine-per-connection crypto/tls server, net/http and nginx. " +
		"Each cell: **median** [min–max] over the rounds; servers alternate inside each round, their order rotating. " +
		"Server CPU is utime+stime from /proc/PID/stat over the timed window (nginx: master plus worker).\n\n")
	b.WriteString("The column *÷ evio's, paired* divides a row's figure by evio's in the same mode and round " +
		"(the two measured back to back), median [min–max] over the rounds: on a shared machine it is steadier than the figures.\n\n")
	b.WriteString("Run with:\n\n```\n")
	if *script != "" {
		b.WriteString(*script + "\n# which ran:\n")
	}
	b.WriteString(strings.Join(os.Args, " ") + "\n```\n\n")
	b.WriteString("| | |\n|---|---|\n")
	for _, e := range env {
		fmt.Fprintf(&b, "| %s | %s |\n", e[0], strings.ReplaceAll(e[1], "\n", " "))
	}
	b.WriteString("\nClient TLS modes (the servers use the crypto/tls defaults with one ECDSA P-256 certificate; the client decides): ")
	for i, m := range modes {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "`%s`: %s", m.name, m.desc)
	}
	b.WriteString(". Every client config has no ClientSessionCache and SessionTicketsDisabled, and skips certificate verification (client CPU only).\n\n")

	if r.has("memory") {
		fmt.Fprintf(&b, "## 1. Memory per idle TLS connection\n\n"+
			"%d connections per server, opened by this driver (32 in flight), each a full handshake and one 4-byte echo "+
			"(net/http: one `GET /` keep-alive request), then idle. RSS is VmRSS after minus before, over the connections; "+
			"heap is runtime.MemStats.HeapAlloc after a forced GC (SIGUSR2 hook), after minus before, over the connections; "+
			"stack is StackInuse likewise (goroutine stacks are not in the heap).\n\n", *idle)
		r.table(&b, "memory", paired{"rss_kb_per_conn", "evio", "RSS ÷ evio's, paired"}, []column{
			{"rss_kb_per_conn", "RSS KiB/conn", "%.2f"},
			{"heap_kb_per_conn", "heap KiB/conn", "%.2f"},
			{"stack_kb_per_conn", "stack KiB/conn", "%.2f"},
			{"goroutines", "goroutines after", "%.0f"},
			{"open_s", "s to open all", "%.2f"},
		})
		r.raw(&b, "memory")
	}
	if r.has("handshakes") {
		fmt.Fprintf(&b, "## 2. Full handshakes per server CPU-second\n\n"+
			"%d client workers, each dial → handshake → close in a loop for %s (after a 0.5 s warm-up), no resumption. "+
			"hs/s is the client's count over the wall time; hs per CPU-s divides it by the server's CPU time in the window; "+
			"CPU share is the server's CPU time over the wall time (1.0 = the pinned CPU saturated). The client runs on the other CPU, "+
			"and its half of each handshake costs about as much as the server's, so hs/s is mostly the client's limit; hs per server CPU-second is the figure.\n\n",
			*workers, *duration)
		r.table(&b, "handshakes", paired{"hs_per_server_cpu", "evio", "hs per CPU-s ÷ evio's, paired"}, []column{
			{"hs_per_server_cpu", "hs per server CPU-s", "%.0f"},
			{"hs_per_s", "hs/s", "%.0f"},
			{"server_cpu_util", "server CPU share", "%.2f"},
			{"ctxsw_per_hs", "server context switches/hs", "%.1f"},
			{"threads", "server threads", "%.0f"},
			{"failed", "failed", "%.0f"},
			{"resumed", "resumed", "%.0f"},
		})
		r.raw(&b, "handshakes")
	}
	if r.has("https") {
		fmt.Fprintf(&b, "## 3. Server CPU per HTTPS keep-alive request (wrk)\n\n"+
			"`wrk -t1 -c%d -d%ds --latency` pinned to CPU %d, after a 1 s wrk warm-up on fresh connections; the window includes the %d handshakes of the timed run's connections. "+
			"Every server answers `Hello, World!` (13 bytes, text/plain). `evio (plain HTTP)` is the same evio server without TLS, in the same rounds.\n\n",
			*wrkConns, int(duration.Seconds()), *loadCPU, *wrkConns)
		r.table(&b, "https", paired{"cpu_us_per_req", "evio", "CPU/req ÷ evio's (TLS), paired"}, []column{
			{"cpu_us_per_req", "server CPU µs/req", "%.2f"},
			{"req_per_s", "req/s", "%.0f"},
			{"server_cpu_util", "server CPU share", "%.2f"},
			{"p50_us", "p50 µs", "%.0f"},
			{"p99_us", "p99 µs", "%.0f"},
			{"ctxsw_per_req", "server context switches/req", "%.3f"},
			{"socket_errors", "socket errors", "%.0f"},
		})
		r.raw(&b, "https")
	}
	if len(r.negotiated) > 0 {
		b.WriteString("## What was negotiated\n\nAs the Go client saw it (memory, handshakes), or `openssl s_client -brief` against the server (https: wrk uses OpenSSL).\n\n")
		keys := make([]string, 0, len(r.negotiated))
		for k := range r.negotiated {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("| part/mode/server | negotiated |\n|---|---|\n")
		for _, k := range keys {
			fmt.Fprintf(&b, "| %s | %s |\n", k, r.negotiated[k])
		}
		b.WriteString("\n")
	}
	b.WriteString("## Commands\n\nEvery server and load command this run used ($PORT: a free port picked at run time; $TMP: the run's temporary directory, removed at the end; servers started under `taskset -c " + fmt.Sprint(*serverCPU) + "`).\n\n```\n")
	for _, c := range r.commands {
		b.WriteString(c + "\n")
	}
	b.WriteString("```\n")
	if r.nginxConf != "" {
		b.WriteString("\nnginx.conf (per run, in $TMP/nginx-$PORT):\n\n```nginx\n" + r.nginxConf + "```\n")
	}
	if r.wrkLog.Len() > 0 {
		b.WriteString("\n<details><summary>wrk output of every timed run</summary>\n\n```\n" + r.wrkLog.String() + "```\n</details>\n")
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	if err := r.writeJSON(filepath.Join(*outDir, *name+".json")); err != nil {
		return err
	}
	path := filepath.Join(*outDir, *name+".md")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fmt.Println("tlsbench: wrote", path)
	return nil
}

// jsonSample is a sample as the .json file beside the results keeps it.
type jsonSample struct {
	Part   string             `json:"part"`
	Mode   string             `json:"mode"`
	Server string             `json:"server"`
	Round  int                `json:"round"`
	Values map[string]float64 `json:"values,omitempty"`
	Error  string             `json:"error,omitempty"`
}

// writeJSON keeps every measurement, so that other tables can be drawn
// from a run later.
func (r *run) writeJSON(path string) error {
	out := make([]jsonSample, len(r.samples))
	for i, s := range r.samples {
		out[i] = jsonSample{s.part, s.mode, s.server, s.round, s.v, s.err}
	}
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
