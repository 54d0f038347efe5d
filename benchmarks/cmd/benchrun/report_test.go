package main

import (
	"math"
	"strings"
	"testing"
)

func TestSummarizePairsInsideRounds(t *testing.T) {
	s := func(round int, srv string, cpu float64) Sample {
		return Sample{Round: round, Workload: "http", Server: srv, CPUPerReq: cpu, RPS: 1, P50us: 1, P99us: 2}
	}
	samples := []Sample{
		s(1, ours, 9), s(1, refGnet, 10), s(1, refFloor, 6),
		s(2, ours, 22), s(2, refGnet, 20), s(2, refFloor, 11),
		s(3, ours, 8), s(3, refGnet, 10), s(3, refFloor, 8),
		{Round: 4, Workload: "http", Server: ours, Failed: "boom"}, s(4, refGnet, 10),
	}
	sum := summarize(samples, "http", ours)
	if sum.Value.N != 3 || sum.Value.Median != 9 {
		t.Fatalf("value %+v", sum.Value)
	}
	if sum.VsGnet.Median != 0.9 || sum.VsGnet.Min != 0.8 || sum.VsGnet.Max != 1.1 {
		t.Fatalf("vs gnet %+v", sum.VsGnet)
	}
	if sum.CheaperThanGnet != 2 {
		t.Fatalf("cheaper in %d rounds, want 2", sum.CheaperThanGnet)
	}
	if sum.VsFloor.Median != 1.5 {
		t.Fatalf("vs floor %+v", sum.VsFloor)
	}
	if len(sum.Failures) != 1 || !strings.Contains(sum.Failures[0], "boom") {
		t.Fatalf("failures %v", sum.Failures)
	}
}

func TestSpreadMedianEven(t *testing.T) {
	if m := spreadOf([]float64{4, 1, 3, 2}).Median; m != 2.5 {
		t.Fatalf("median %v", m)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{1234567.891: "1,234,567.89", 12.5: "12.50", -1000: "-1,000.00"} {
		if got := num(v, 2); got != want {
			t.Errorf("num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSummarizeAgainstBaseline(t *testing.T) {
	s := func(round int, srv string, cpu float64) Sample {
		return Sample{Round: round, Workload: "echo", Server: srv, CPUPerReq: cpu, RPS: 1, P50us: 1, P99us: 2}
	}
	// Round 1: evio 20% cheaper than its baseline; round 2: 10% dearer.
	samples := []Sample{
		s(1, ours, 8), s(1, refBaseline, 10), s(1, refGnet, 10), s(1, refFloor, 4),
		s(2, ours, 11), s(2, refBaseline, 10), s(2, refGnet, 10), s(2, refFloor, 5),
	}
	sum := summarize(samples, "echo", ours)
	if sum.VsBaseline == nil || sum.VsBaseline.N != 2 {
		t.Fatalf("vs baseline %+v, want 2 rounds", sum.VsBaseline)
	}
	if got, want := sum.VsBaseline.Median, (0.8+1.1)/2; math.Abs(got-want) > 1e-12 {
		t.Fatalf("vs baseline median %v, want %v", got, want)
	}
	if sum.VsBaseline.Min != 0.8 || math.Abs(sum.VsBaseline.Max-1.1) > 1e-12 {
		t.Fatalf("vs baseline range %+v, want 0.8-1.1", sum.VsBaseline)
	}
	if sum.CheaperThanBaseline != 1 {
		t.Fatalf("cheaper than the baseline in %d rounds, want 1", sum.CheaperThanBaseline)
	}
	// The baseline is evio's reference only; the other ratios are as before.
	if math.Abs(sum.VsGnet.Median-(0.8+1.1)/2) > 1e-12 || sum.CheaperThanGnet != 1 {
		t.Fatalf("vs gnet %+v, cheaper %d", sum.VsGnet, sum.CheaperThanGnet)
	}
	if g := summarize(samples, "echo", refGnet); g.VsBaseline != nil || g.CheaperThanBaseline != 0 {
		t.Fatalf("gnet has a baseline ratio: %+v", g.VsBaseline)
	}

	res := &Results{Name: "t", Mode: "quick", ServerOrder: []string{ours, refBaseline, refGnet, refFloor},
		Servers:   map[string]string{refBaseline: "this library at revision abc1234 (BASELINE)"},
		Workloads: []WorkloadInfo{{Name: "echo"}}}
	for _, srv := range res.ServerOrder {
		res.Summary = append(res.Summary, summarize(samples, "echo", srv))
	}
	md := markdown(res)
	for _, want := range []string{
		"| workload | evio | evio-baseline | evio ÷ baseline | gnet | c-floor |",
		" | 0.95 (1/2) |",
		"| cheaper than gnet | ÷ baseline | req/s |",
		"| 0.95 [0.80–1.10] (1/2) |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestMarkdownWithoutBaseline(t *testing.T) {
	res := &Results{Name: "t", Mode: "quick", ServerOrder: []string{ours, refGnet},
		Workloads: []WorkloadInfo{{Name: "echo"}},
		Summary: []Summary{summarize([]Sample{
			{Round: 1, Workload: "echo", Server: ours, CPUPerReq: 9},
			{Round: 1, Workload: "echo", Server: refGnet, CPUPerReq: 10},
		}, "echo", ours)}}
	if md := markdown(res); strings.Contains(md, "baseline") {
		t.Fatalf("a run without a baseline mentions one:\n%s", md)
	}
}
