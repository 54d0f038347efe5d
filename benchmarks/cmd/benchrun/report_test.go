package main

import (
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
