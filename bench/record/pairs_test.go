package main

import (
	"slices"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestCompare(t *testing.T) {
	workload := pairRuns{{"x86_64", "read"}: 2, {"x86_64", "tgkill"}: 1, {"x86", "mmap2"}: 2}
	all := pairRuns{{"x86_64", "read"}: 2, {"x86_64", "tgkill"}: 1, {"x86", "mmap2"}: 2, {"x86_64", "futex"}: 2}
	recorded := pairRuns{
		{"x86_64", "read"}: 2, {"x86", "mmap2"}: 1, {"x86_64", "futex"}: 2,
		{"x86_64", "sched_yield"}: 1, {"x86", "brk"}: 2,
	}

	c := compare(workload, all, recorded, 2)

	if c.common != 2 {
		t.Errorf("common = %d, want 2", c.common)
	}
	if want := []pair{{"x86_64", "tgkill"}}; !slices.Equal(c.missed, want) {
		t.Errorf("missed = %v, want %v", c.missed, want)
	}
	if want := []pair{{"x86", "brk"}, {"x86_64", "sched_yield"}}; !slices.Equal(c.extra, want) {
		t.Errorf("extra = %v, want %v", c.extra, want)
	}
	if want := []pair{{"x86_64", "futex"}}; !slices.Equal(c.initOnly, want) {
		t.Errorf("initOnly = %v, want %v", c.initOnly, want)
	}
}

func TestFormatPairsMarksSomeRuns(t *testing.T) {
	seen := pairRuns{{"x86_64", "read"}: 3, {"x86_64", "tgkill"}: 1}

	got := formatPairs([]pair{{"x86_64", "read"}, {"x86_64", "tgkill"}}, seen, 3)

	want := []string{"x86_64:read", "x86_64:tgkill~"}
	if !slices.Equal(got, want) {
		t.Errorf("formatPairs = %v, want %v", got, want)
	}
}

func TestPairRunsAdd(t *testing.T) {
	runs := pairRuns{}
	runs.add(map[pair]uint64{{"x86_64", "read"}: 5, {"x86_64", "write"}: 0})
	runs.add(map[pair]uint64{{"x86_64", "read"}: 1})

	if runs[pair{"x86_64", "read"}] != 2 {
		t.Errorf("read seen in %d runs, want 2", runs[pair{"x86_64", "read"}])
	}
	if _, ok := runs[pair{"x86_64", "write"}]; ok {
		t.Error("write with a count of 0 was added")
	}
}

func TestRecordedPairs(t *testing.T) {
	result := protocol.RecordingResult{
		Syscalls: map[string][]protocol.RecordedSyscall{
			"x86_64": {{Name: "read", Count: 4, Runs: 1}},
			"x86":    {{Name: "mmap2", Count: 2, Runs: 1}},
		},
		Unknown: []protocol.UnknownSyscall{{Arch: "x86_64", Number: 999, Count: 1}},
	}

	counts, unknown := recordedPairs(result)

	if counts[pair{"x86_64", "read"}] != 4 || counts[pair{"x86", "mmap2"}] != 2 || len(counts) != 2 {
		t.Errorf("counts = %v, want x86_64:read 4 and x86:mmap2 2", counts)
	}
	if !slices.Equal(unknown, []string{"x86_64:#999"}) {
		t.Errorf("unknown = %v, want [x86_64:#999]", unknown)
	}
}

func TestUnnamedPairs(t *testing.T) {
	runs := pairRuns{{"x86", "mmap2"}: 1, {"x86_64", "mmap2"}: 1, {"x86_64", "syscall_0x1b4"}: 1, {"x86_64", "read"}: 1}

	got := unnamedPairs(runs)

	want := []pair{{"x86_64", "mmap2"}, {"x86_64", "syscall_0x1b4"}}
	if !slices.Equal(got, want) {
		t.Errorf("unnamedPairs = %v, want %v", got, want)
	}
}

func TestUsedMechanism(t *testing.T) {
	tests := []struct {
		requested string
		used      []string
		want      string
	}{
		{"ptrace", []string{"ptrace"}, "ptrace"},
		{"ebpf", nil, "ebpf"},
		{"ebpf", []string{"ptrace"}, "ebpf -> ptrace"},
		{"auto", []string{"ebpf", "ptrace"}, "auto -> ebpf/ptrace"},
	}
	for _, tt := range tests {
		if got := usedMechanism(tt.requested, tt.used); got != tt.want {
			t.Errorf("usedMechanism(%q, %v) = %q, want %q", tt.requested, tt.used, got, tt.want)
		}
	}
}
