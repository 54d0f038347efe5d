package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Sample is one server on one workload in one round.
type Sample struct {
	Round    int    `json:"round"`
	Slot     int    `json:"slot"` // position in the round's run of this workload
	Workload string `json:"workload"`
	Server   string `json:"server"`
	Failed   string `json:"failed,omitempty"`
	// WallSeconds is the time the whole sample took: start, check,
	// warmup, measurement and stop.
	WallSeconds float64 `json:"wall_seconds"`

	Requests float64 `json:"requests"` // idle: connections opened
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"` // 0: the tool did not report it
	P99us    float64 `json:"p99_us"`
	Errors   int64   `json:"errors"` // socket errors and non-2xx responses (wrk), failed echoes

	CPUus          float64  `json:"cpu_us"` // utime+stime from /proc/PID/stat
	CPUPerReq      float64  `json:"cpu_us_per_req"`
	SchedCPUus     float64  `json:"sched_cpu_us"` // /proc/PID/task/*/schedstat, a cross-check
	SchedCPUPerReq float64  `json:"sched_cpu_us_per_req"`
	AllocsPerReq   *float64 `json:"allocs_per_req,omitempty"` // Go servers only

	IdleConns   int     `json:"idle_conns,omitempty"`
	RSSBeforeKB int64   `json:"rss_before_kb,omitempty"`
	RSSAfterKB  int64   `json:"rss_after_kb,omitempty"`
	RSSPerConn  float64 `json:"rss_bytes_per_conn,omitempty"`
}

// metric is the figure the ratios compare: server CPU per request, or for
// the idle workload RSS per connection.
func (s Sample) metric() float64 {
	if s.Workload == "idle" {
		return s.RSSPerConn
	}
	return s.CPUPerReq
}

// Spread is the median and range of a figure over the rounds.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

func spreadOf(v []float64) *Spread {
	if len(v) == 0 {
		return nil
	}
	v = slices.Clone(v)
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return &Spread{Median: m, Min: v[0], Max: v[len(v)-1], N: len(v)}
}

// Summary is one row of a workload's table.
type Summary struct {
	Workload string  `json:"workload"`
	Server   string  `json:"server"`
	Metric   string  `json:"metric"`
	Value    *Spread `json:"value"`
	// Ratios of the metric to gnet's and to the C floor's in the same
	// round, and how many rounds it was below gnet's.
	VsGnet          *Spread  `json:"vs_gnet,omitempty"`
	VsFloor         *Spread  `json:"vs_floor,omitempty"`
	CheaperThanGnet int      `json:"cheaper_than_gnet"`
	RPS             *Spread  `json:"rps,omitempty"`
	P50us           *Spread  `json:"p50_us,omitempty"`
	P99us           *Spread  `json:"p99_us,omitempty"`
	AllocsPerReq    *Spread  `json:"allocs_per_req,omitempty"`
	CPUPerConn      *Spread  `json:"cpu_us_per_conn,omitempty"` // idle only
	Errors          int64    `json:"errors"`
	Failures        []string `json:"failures,omitempty"`

	// Evio's row only, in a run with the evio-baseline row: the ratio of
	// evio's metric to the baseline's in the same round, and how many
	// rounds it was below (absent when none was). Both are absent from
	// every other row, so results without a baseline read as before.
	VsBaseline          *Spread `json:"vs_baseline,omitempty"`
	CheaperThanBaseline int     `json:"cheaper_than_baseline,omitempty"`
}

// Results is everything a run writes; the JSON file holds it whole.
type Results struct {
	Name        string            `json:"name"`
	Mode        string            `json:"mode"`
	Interrupted bool              `json:"interrupted,omitempty"`
	Settings    []setting         `json:"settings"`
	Servers     map[string]string `json:"servers"`
	ServerOrder []string          `json:"server_order"`
	Workloads   []WorkloadInfo    `json:"workloads"`
	Summary     []Summary         `json:"summary"`
	Pairs       []Pair            `json:"pairs,omitempty"`
	Samples     []Sample          `json:"samples"`
}

// Pair is the paired ratio of one row's metric to another's, for the
// comparisons that are neither against gnet nor against the C floor: the
// io_uring engine against evio's epoll engine and against the C io_uring
// server, and that server against the C epoll floor.
type Pair struct {
	Workload string  `json:"workload"`
	Server   string  `json:"server"`
	Over     string  `json:"over"`
	Ratio    *Spread `json:"ratio"`
	Below    int     `json:"below"` // rounds in which Server's figure was below Over's
}

// comparedPairs are the Pairs a run reports, when both rows ran.
var comparedPairs = [][2]string{{refURing, ours}, {refURing, refURingFloor}, {refURing, refFloor}, {refURingFloor, refFloor}, {ours, refUnbatched}}

// pairOf computes the paired ratio of a's metric to b's over the rounds.
func pairOf(samples []Sample, workload, a, b string) *Pair {
	byRound := map[int]map[string]float64{}
	for _, s := range samples {
		if s.Workload != workload || s.Failed != "" || s.metric() <= 0 || (s.Server != a && s.Server != b) {
			continue
		}
		if byRound[s.Round] == nil {
			byRound[s.Round] = map[string]float64{}
		}
		byRound[s.Round][s.Server] = s.metric()
	}
	p := &Pair{Workload: workload, Server: a, Over: b}
	var r []float64
	for _, m := range byRound {
		if m[a] > 0 && m[b] > 0 {
			r = append(r, m[a]/m[b])
			if m[a] < m[b] {
				p.Below++
			}
		}
	}
	if p.Ratio = spreadOf(r); p.Ratio == nil {
		return nil
	}
	return p
}

// WorkloadInfo names a workload and describes its load.
type WorkloadInfo struct {
	Name string `json:"name"`
	What string `json:"what"`
}

func (h *harness) results(samples []Sample, interrupted bool) *Results {
	res := &Results{Name: h.cfg.name, Mode: h.cfg.mode, Interrupted: interrupted,
		Settings: append(slices.Clone(h.env), setting{"load average at end", readTrim("/proc/loadavg")}),
		Servers:  map[string]string{}, Samples: samples}
	for _, s := range h.servers {
		res.Servers[s.name] = s.what
		res.ServerOrder = append(res.ServerOrder, s.name)
	}
	for _, w := range h.workloads {
		res.Workloads = append(res.Workloads, WorkloadInfo{w.name, w.what(h.cfg)})
		for _, s := range h.servers {
			if h.protoFor(w, s) != "" {
				res.Summary = append(res.Summary, summarize(samples, w.name, s.name))
			}
		}
		for _, pr := range comparedPairs {
			if p := pairOf(samples, w.name, pr[0], pr[1]); p != nil {
				res.Pairs = append(res.Pairs, *p)
			}
		}
	}
	return res
}

// summarize computes one row from the samples of all rounds.
func summarize(samples []Sample, workload, srv string) Summary {
	sum := Summary{Workload: workload, Server: srv, Metric: "server CPU µs per request"}
	if workload == "idle" {
		sum.Metric = "RSS bytes per idle connection"
	}
	// ok[round][server] is the round's good sample of each server.
	ok := map[int]map[string]Sample{}
	for _, s := range samples {
		if s.Workload != workload {
			continue
		}
		if s.Server == srv && s.Failed != "" {
			sum.Failures = append(sum.Failures, fmt.Sprintf("round %d: %s", s.Round, s.Failed))
		}
		if s.Failed == "" && s.metric() > 0 {
			if ok[s.Round] == nil {
				ok[s.Round] = map[string]Sample{}
			}
			ok[s.Round][s.Server] = s
		}
	}
	var val, gnet, floor, baseline, rps, p50, p99, allocs, perConn []float64
	for _, round := range ok {
		s, have := round[srv]
		if !have {
			continue
		}
		val = append(val, s.metric())
		sum.Errors += s.Errors
		if workload == "idle" {
			perConn = append(perConn, s.CPUPerReq)
		} else {
			rps = append(rps, s.RPS)
			// wrk sometimes prints a 0.00us percentile under pipelining:
			// a zero is "not reported", not a latency.
			if s.P50us > 0 {
				p50 = append(p50, s.P50us)
			}
			if s.P99us > 0 {
				p99 = append(p99, s.P99us)
			}
		}
		if s.AllocsPerReq != nil {
			allocs = append(allocs, *s.AllocsPerReq)
		}
		if ref, have := round[refGnet]; have {
			r := s.metric() / ref.metric()
			gnet = append(gnet, r)
			if r < 1 {
				sum.CheaperThanGnet++
			}
		}
		if ref, have := round[refFloor]; have {
			floor = append(floor, s.metric()/ref.metric())
		}
		// The baseline is the same library before a change: only the
		// library's own row is read against it.
		if ref, have := round[refBaseline]; have && srv == ours {
			r := s.metric() / ref.metric()
			baseline = append(baseline, r)
			if r < 1 {
				sum.CheaperThanBaseline++
			}
		}
	}
	sum.Value, sum.VsGnet, sum.VsFloor = spreadOf(val), spreadOf(gnet), spreadOf(floor)
	sum.VsBaseline = spreadOf(baseline)
	sum.RPS, sum.P50us, sum.P99us = spreadOf(rps), spreadOf(p50), spreadOf(p99)
	sum.AllocsPerReq, sum.CPUPerConn = spreadOf(allocs), spreadOf(perConn)
	return sum
}

// writeResults writes <name>.md, .csv and .json into the output directory.
func writeResults(c *config, res *Results) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	base := filepath.Join(c.out, res.Name)
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(base+".json", append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := writeCSV(base+".csv", res.Samples); err != nil {
		return err
	}
	return os.WriteFile(base+".md", []byte(markdown(res)), 0o644)
}

func writeCSV(path string, samples []Sample) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"round", "slot", "workload", "server", "failed", "requests", "seconds", "rps", "p50_us", "p99_us",
		"errors", "cpu_us", "cpu_us_per_req", "sched_cpu_us", "sched_cpu_us_per_req", "allocs_per_req",
		"idle_conns", "rss_before_kb", "rss_after_kb", "rss_bytes_per_conn"})
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
	for _, s := range samples {
		allocs := ""
		if s.AllocsPerReq != nil {
			allocs = g(*s.AllocsPerReq)
		}
		w.Write([]string{strconv.Itoa(s.Round), strconv.Itoa(s.Slot), s.Workload, s.Server, s.Failed,
			g(s.Requests), g(s.Seconds), g(s.RPS), g(s.P50us), g(s.P99us), strconv.FormatInt(s.Errors, 10),
			g(s.CPUus), g(s.CPUPerReq), g(s.SchedCPUus), g(s.SchedCPUPerReq), allocs,
			strconv.Itoa(s.IdleConns), strconv.FormatInt(s.RSSBeforeKB, 10), strconv.FormatInt(s.RSSAfterKB, 10), g(s.RSSPerConn)})
	}
	w.Flush()
	return w.Error()
}

// markdown renders the results page: a summary of the paired ratios, one
// table per workload, then the settings.
func markdown(res *Results) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# evio benchmarks: %s\n\n", res.Name)
	if res.Mode == "quick" {
		p("> **Quick mode: a smoke run.** Few, short rounds: these numbers show that the harness works, not how the servers compare. Use `benchmarks/run.sh full` on a quiet machine for that.\n\n")
	}
	if res.Interrupted {
		p("> **Interrupted:** the run was stopped before its last round; the tables cover the rounds done.\n\n")
	}
	p("Each server runs alone on CPU %s while the load runs on the other; every figure is the median over the rounds, with the range in brackets. ", settingValue(res, "server pinning"))
	p("A ratio is taken inside each round (the server's figure over gnet's, or over the C floor's, measured minutes apart at most) and then its median over the rounds is shown: below 1 is cheaper. See [README.md](../README.md) for the method.\n\n")

	servers := orderedServers(res)
	// With a baseline in the run, evio's ratio to it gets a column right
	// after the baseline's own: it is the figure such a run is made for.
	withBaseline := slices.Contains(servers, refBaseline)
	p("## Summary\n\nMedian paired ratio of **server CPU per request** (idle: of **RSS per connection**) to gnet's, then to the C floor's, and in how many rounds the server was cheaper than gnet.")
	if withBaseline {
		p(" Column %s ÷ baseline: %s's figure over %s's, %s, in the same round; the median over the rounds, and in how many rounds %s was cheaper.",
			ours, ours, refBaseline, res.Servers[refBaseline], ours)
	}
	p("\n\n| workload |")
	for _, s := range servers {
		p(" %s |", s)
		if s == refBaseline {
			p(" %s ÷ baseline |", ours)
		}
	}
	p("\n|---|%s\n", strings.Repeat("---|", len(servers)+boolInt(withBaseline)))
	for _, w := range res.Workloads {
		p("| %s |", w.Name)
		for _, s := range servers {
			sum := findSummary(res, w.Name, s)
			switch {
			case sum == nil:
				p(" |")
			case sum.Value == nil:
				p(" failed |")
			default:
				p(" %s / %s", ratio(sum.VsGnet), ratio(sum.VsFloor))
				if sum.VsGnet != nil && s != refGnet {
					p(" (%d/%d)", sum.CheaperThanGnet, sum.VsGnet.N)
				}
				p(" |")
			}
			if s == refBaseline {
				p(" %s |", baselineCell(findSummary(res, w.Name, ours)))
			}
		}
		p("\n")
	}
	p("\nCells: ÷ gnet / ÷ C floor (rounds cheaper than gnet)")
	if withBaseline {
		p("; %s ÷ baseline: ÷ %s (rounds cheaper than it)", ours, refBaseline)
	}
	p(".\n\n")
	if len(res.Pairs) > 0 {
		p("## Paired\n\nMedian [range] over the rounds of the ratio of one row's figure to another's in the same round, and in how many rounds it was below: the io_uring rows against the others, and evio's UDP batches against its one-datagram-per-call build.\n\n")
		p("| workload | ratio | median [range] | rounds below |\n|---|---|---|---|\n")
		for _, pr := range res.Pairs {
			p("| %s | %s ÷ %s | %s | %d/%d |\n", pr.Workload, pr.Server, pr.Over, ratioSpread(pr.Ratio), pr.Below, pr.Ratio.N)
		}
		p("\n")
	}

	for _, w := range res.Workloads {
		p("## %s\n\n%s\n\n", w.Name, w.What)
		idle := w.Name == "idle"
		cols := []string{"server", "CPU µs/req", "÷ gnet", "÷ C floor", "cheaper than gnet"}
		if idle {
			cols = []string{"server", "RSS B/conn", "÷ gnet", "÷ C floor", "smaller than gnet"}
		}
		if withBaseline {
			cols = append(cols, "÷ baseline")
		}
		if idle {
			cols = append(cols, "CPU µs per connection opened")
		} else {
			cols = append(cols, "req/s", "p50 µs", "p99 µs", "allocs/req")
		}
		p("| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
		var notes []string
		for _, s := range servers {
			sum := findSummary(res, w.Name, s)
			if sum == nil {
				continue
			}
			name := s
			if s == ours {
				name = "**" + s + "**"
			}
			if sum.Value == nil {
				p("| %s | failed |%s\n", name, strings.Repeat(" |", len(cols)-2))
			} else {
				wins := "—"
				if sum.VsGnet != nil && s != refGnet {
					wins = fmt.Sprintf("%d/%d", sum.CheaperThanGnet, sum.VsGnet.N)
				}
				cells := []string{name, spread(sum.Value, 2-2*boolInt(idle)), ratioSpread(sum.VsGnet), ratioSpread(sum.VsFloor), wins}
				if withBaseline {
					vsBaseline := "—"
					if s == ours {
						vsBaseline = baselineSpreadCell(sum)
					}
					cells = append(cells, vsBaseline)
				}
				if idle {
					cells = append(cells, median(sum.CPUPerConn, 1))
				} else {
					cells = append(cells, median(sum.RPS, 0), median(sum.P50us, 0), median(sum.P99us, 0), median(sum.AllocsPerReq, 2))
				}
				p("| %s |\n", strings.Join(cells, " | "))
			}
			if sum.Errors > 0 {
				notes = append(notes, fmt.Sprintf("%s: %d load-tool errors over the rounds", s, sum.Errors))
			}
			for _, f := range sum.Failures {
				notes = append(notes, fmt.Sprintf("%s: %s", s, f))
			}
		}
		for _, n := range notes {
			p("\n- %s", n)
		}
		if len(notes) > 0 {
			p("\n")
		}
		p("\n")
	}

	p("## Servers\n\n| server | what |\n|---|---|\n")
	for _, s := range servers {
		p("| %s | %s |\n", s, res.Servers[s])
	}
	p("\n## Settings\n\n| setting | value |\n|---|---|\n")
	for _, s := range res.Settings {
		p("| %s | %s |\n", s.Key, strings.ReplaceAll(s.Value, "|", "\\|"))
	}
	p("\nRaw per-round data: `%s.csv` and `%s.json` beside this file; chart: `%s.png`.\n", res.Name, res.Name, res.Name)
	return b.String()
}

// orderedServers lists the servers that have rows, in table order (that of
// allServers).
func orderedServers(res *Results) []string {
	var out []string
	for _, name := range res.ServerOrder {
		for _, s := range res.Summary {
			if s.Server == name {
				out = append(out, name)
				break
			}
		}
	}
	return out
}

func findSummary(res *Results, workload, srv string) *Summary {
	for i := range res.Summary {
		if res.Summary[i].Workload == workload && res.Summary[i].Server == srv {
			return &res.Summary[i]
		}
	}
	return nil
}

func settingValue(res *Results, key string) string {
	for _, s := range res.Settings {
		if s.Key == key {
			if v, _, ok := strings.Cut(strings.TrimPrefix(s.Value, "taskset -c "), ","); ok {
				return v
			}
			return s.Value
		}
	}
	return "?"
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// num formats v with prec decimals and thousands separators.
func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "—"
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var out []byte
	for i, c := range []byte(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, c)
	}
	s = string(out)
	if frac != "" {
		s += "." + frac
	}
	if neg {
		s = "-" + s
	}
	return s
}

func median(s *Spread, prec int) string {
	if s == nil {
		return "—"
	}
	return num(s.Median, prec)
}

func spread(s *Spread, prec int) string {
	if s == nil {
		return "—"
	}
	if s.N == 1 {
		return num(s.Median, prec)
	}
	return fmt.Sprintf("%s [%s–%s]", num(s.Median, prec), num(s.Min, prec), num(s.Max, prec))
}

func ratio(s *Spread) string {
	if s == nil {
		return "—"
	}
	return num(s.Median, 2)
}

func ratioSpread(s *Spread) string { return spread(s, 2) }

// baselineCell is evio's summary cell against the baseline: the median
// ratio and the rounds evio was cheaper, of the rounds with both.
func baselineCell(sum *Summary) string {
	if sum == nil || sum.VsBaseline == nil {
		return "—"
	}
	return fmt.Sprintf("%s (%d/%d)", ratio(sum.VsBaseline), sum.CheaperThanBaseline, sum.VsBaseline.N)
}

// baselineSpreadCell is the same with the range over the rounds, for a
// workload's table.
func baselineSpreadCell(sum *Summary) string {
	if sum.VsBaseline == nil {
		return "—"
	}
	return fmt.Sprintf("%s (%d/%d)", ratioSpread(sum.VsBaseline), sum.CheaperThanBaseline, sum.VsBaseline.N)
}
