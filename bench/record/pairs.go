package main

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// pair is one syscall of one ABI, with the ABI named as in protocol.RecordingResult.Syscalls.
type pair struct {
	abi  string
	name string
}

func (p pair) String() string {
	return p.abi + ":" + p.name
}

func comparePairs(a, b pair) int {
	return cmp.Or(cmp.Compare(a.abi, b.abi), cmp.Compare(a.name, b.name))
}

// pairRuns maps each pair that a tool saw to the number of runs in which it saw it.
type pairRuns map[pair]int

// add counts one run's pairs.
func (r pairRuns) add(counts map[pair]uint64) {
	for p, n := range counts {
		if n > 0 {
			r[p]++
		}
	}
}

// recordedPairs returns the call counts of a recording result by pair, and the syscall
// numbers that the helper had no name for, as "abi:#number".
func recordedPairs(result protocol.RecordingResult) (map[pair]uint64, []string) {
	counts := map[pair]uint64{}
	for abi, syscalls := range result.Syscalls {
		for _, s := range syscalls {
			counts[pair{abi: abi, name: s.Name}] += s.Count
		}
	}
	var unknown []string
	for _, u := range result.Unknown {
		unknown = append(unknown, fmt.Sprintf("%s:#%d", u.Arch, u.Number))
	}
	slices.Sort(unknown)
	return counts, unknown
}

// comparison holds the differences between a recorder's pairs and strace's. strace's pairs
// come in two sets: those of the workload, after iotfleet-init executed it, and those from
// LXC's execve of iotfleet-init on, which add iotfleet-init's own calls. A recorder may start
// at either point, so a pair counts as missed only when the workload made it, and as extra
// only when neither made it.
type comparison struct {
	runs int
	// workload, all and recorded map pairs to the number of runs that made them.
	workload, all, recorded pairRuns

	// missed holds the workload's pairs that the recorder did not report, extra the recorded
	// pairs that strace did not see, and initOnly the recorded pairs that only iotfleet-init
	// made.
	missed, extra, initOnly []pair
	// common counts the workload's pairs that the recorder reported.
	common int
}

func compare(workload, all, recorded pairRuns, runs int) comparison {
	c := comparison{runs: runs, workload: workload, all: all, recorded: recorded}
	for p := range workload {
		if _, ok := recorded[p]; ok {
			c.common++
		} else {
			c.missed = append(c.missed, p)
		}
	}
	for p := range recorded {
		_, inWorkload := workload[p]
		_, inAll := all[p]
		switch {
		case !inAll:
			c.extra = append(c.extra, p)
		case !inWorkload:
			c.initOnly = append(c.initOnly, p)
		}
	}
	for _, list := range [][]pair{c.missed, c.extra, c.initOnly} {
		slices.SortFunc(list, comparePairs)
	}
	return c
}

// formatPairs lists pairs as "abi:name", with a "~" after each pair that only some of the runs
// made, because such a difference may come from timing rather than from the tool.
func formatPairs(pairs []pair, seen pairRuns, runs int) []string {
	formatted := make([]string, 0, len(pairs))
	for _, p := range pairs {
		text := p.String()
		if seen[p] < runs {
			text += "~"
		}
		formatted = append(formatted, text)
	}
	return formatted
}

// unnamedPairs returns the pairs whose name is missing from the ABI's syscall table, such as
// strace's "syscall_0x1b4" or a name that strace spells differently from the kernel headers.
// A recorder reports numbers by the table's names, so these can never match.
func unnamedPairs(runs pairRuns) []pair {
	var unnamed []pair
	for _, p := range slices.SortedFunc(maps.Keys(runs), comparePairs) {
		if _, ok := seccomp.Lookup(seccomp.Arch(p.abi), p.name); !ok {
			unnamed = append(unnamed, p)
		}
	}
	return unnamed
}

// usedMechanism names the mechanism of a set of results: the requested one, or for example
// "ebpf -> ptrace" when the results name others.
func usedMechanism(requested string, used []string) string {
	if len(used) == 0 || (len(used) == 1 && used[0] == requested) {
		return requested
	}
	return requested + " -> " + strings.Join(used, "/")
}
