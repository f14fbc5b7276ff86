package main

import (
	"slices"
	"strings"
	"testing"
)

func TestOverheadSummaryAndRatio(t *testing.T) {
	o := newOverhead([]string{untraced, "ptrace"})
	for _, ns := range []int64{300, 100, 200} {
		if err := o.add(untraced, "", []loopResult{{Name: "getppid", Calls: 10, ElapsedNS: ns * 10}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []int64{4000, 1000, 3000, 2000} {
		if err := o.add("ptrace", "ptrace", []loopResult{{Name: "getppid", Calls: 2, ElapsedNS: ns * 2}}); err != nil {
			t.Fatal(err)
		}
	}

	median, low, high, ok := o.summary(untraced, "getppid")
	if !ok || median != 200 || low != 100 || high != 300 {
		t.Errorf("untraced summary = %v (%v-%v) %v, want 200 (100-300)", median, low, high, ok)
	}
	median, _, _, _ = o.summary("ptrace", "getppid")
	if median != 2500 {
		t.Errorf("ptrace median of an even count = %v, want 2500", median)
	}
	ratio, ok := o.ratio("ptrace", "getppid")
	if !ok || ratio != 12.5 {
		t.Errorf("ratio = %v %v, want 12.5", ratio, ok)
	}
	if _, ok := o.ratio("ptrace", "read-write"); ok {
		t.Error("ratio of a loop without samples reported ok")
	}
	if !slices.Equal(o.used["ptrace"], []string{"ptrace"}) {
		t.Errorf("used = %v, want [ptrace]", o.used["ptrace"])
	}
}

func TestOverheadAddRejectsEmptyLoops(t *testing.T) {
	o := newOverhead([]string{untraced})
	tests := []struct {
		name  string
		loops []loopResult
		want  string
	}{
		{"no loops", nil, "no loops"},
		{"no calls", []loopResult{{Name: "getppid", Calls: 0, ElapsedNS: 5}}, "0 calls"},
		{"no time", []loopResult{{Name: "getppid", Calls: 5, ElapsedNS: 0}}, "in 0 ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := o.add(untraced, "", tt.loops)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("add error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestRunOrderRotates(t *testing.T) {
	columns := []string{untraced, "ptrace", "ebpf"}
	tests := []struct {
		repeat int
		want   []string
	}{
		{0, []string{untraced, "ptrace", "ebpf"}},
		{1, []string{"ptrace", "ebpf", untraced}},
		{5, []string{"ebpf", untraced, "ptrace"}},
	}
	for _, tt := range tests {
		if got := runOrder(columns, tt.repeat); !slices.Equal(got, tt.want) {
			t.Errorf("runOrder(repeat %d) = %v, want %v", tt.repeat, got, tt.want)
		}
	}
}
