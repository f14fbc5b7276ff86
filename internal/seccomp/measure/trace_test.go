//go:build linux

package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseTraceJoinsResumedCalls(t *testing.T) {
	trace := "10 1.000001 read(3,  <unfinished ...>\n" +
		"11 1.000002 getpid() = 11\n" +
		"10 1.000003 <... read resumed>\"x\", 1) = 1\n" +
		"10 1.000004 --- SIGCHLD {si_signo=SIGCHLD} ---\n" +
		"not a trace line\n"
	calls, unparsed, err := parseTrace(strings.NewReader(trace))
	if err != nil {
		t.Fatal(err)
	}
	if len(unparsed) != 1 || unparsed[0] != "not a trace line" {
		t.Errorf("unparsed = %q; want the one line that is not a call", unparsed)
	}
	if len(calls) != 2 {
		t.Fatalf("calls = %+v; want read and getpid", calls)
	}
	if calls[0].name != "read" || calls[0].text != `read(3, "x", 1) = 1` {
		t.Errorf("first call = %q %q; want the joined read", calls[0].name, calls[0].text)
	}
	if calls[0].micros != 1_000_001 {
		t.Errorf("micros = %d; want 1000001", calls[0].micros)
	}
}

func TestCallReturned(t *testing.T) {
	cases := []struct {
		text string
		want int64
		ok   bool
	}{
		{"close(6) = 0", 0, true},
		{"vfork() = 2 /* 419 in strace's PID NS */", 419, true},
		{`execve("/x", ["/x"], 0x1 /* 6 vars */) = -1 EACCES (Permission denied)`, -1, true},
		{"exit_group(0) = ?", 0, false},
	}
	for _, c := range cases {
		got, ok := call{text: c.text}.returned()
		if got != c.want || ok != c.ok {
			t.Errorf("returned(%q) = %d, %v; want %d, %v", c.text, got, ok, c.want, c.ok)
		}
	}
}

func TestStageSets(t *testing.T) {
	f, err := os.Open("testdata/start.trace")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls, unparsed, err := parseTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(unparsed) != 0 {
		t.Errorf("unparsed = %q; want none", unparsed)
	}
	sets := stageSets(calls, 1764869475_000000)

	want := map[string][]string{
		// The filter loads in PID 374: its earlier getpid and the failed probe do not count,
		// and neither does the monitor, PID 368.
		stageBeforeExec: {"close", "execve", "setsid", "write"},
		// After the execve: init, and the child it vforked, which starts before vfork returns.
		stageAfterExec: {"execve", "exit_group", "rt_sigreturn", "vfork"},
		stageStop:      {"reboot", "restart_syscall"},
	}
	for stage, names := range want {
		got := sortedKeys(sets[stage])
		if !slices.Equal(got, names) {
			t.Errorf("stage %s = %v; want %v", stage, got, names)
		}
	}
	if len(sets) != len(want) {
		t.Errorf("stages = %v; want only %v", sets, want)
	}
}

func TestStageSetsWithoutFilter(t *testing.T) {
	calls, _, err := parseTrace(strings.NewReader("5 1.000000 getpid() = 5\n5 1.000001 execve(\"/x\") = 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sets := stageSets(calls, 0); len(sets) != 0 {
		t.Errorf("stages of an unfiltered trace = %v; want none", sets)
	}
}

func sortedKeys(set map[string]bool) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
