package record

import (
	"sort"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// RunCounts is the syscall counts of one run.
type RunCounts struct {
	Run    protocol.RecordingRun
	Counts map[Call]uint64
}

type syscallKey struct{ abi, name string }

type unknownKey struct {
	abi    string
	number uint64
}

// union collects the runs' calls by name.
type union struct {
	counts  map[syscallKey]uint64
	runs    map[syscallKey]int
	unknown map[unknownKey]uint64
}

// Merge fills result's Runs, Syscalls, Unknown and Coverage from runs, in run order.
func Merge(result *protocol.RecordingResult, runs []RunCounts) {
	u := union{counts: map[syscallKey]uint64{}, runs: map[syscallKey]int{}, unknown: map[unknownKey]uint64{}}
	addedByLast := 0
	result.Runs = make([]protocol.RecordingRun, 0, len(runs))
	for i, run := range runs {
		added := u.add(run.Counts)
		if i == len(runs)-1 {
			addedByLast = added
		}
		result.Runs = append(result.Runs, run.Run)
	}
	result.Syscalls = u.syscalls()
	result.Unknown = u.unknownList()
	result.Coverage = u.coverage(len(runs), addedByLast)
}

// add joins one run and returns how many (ABI, name) pairs it made that no earlier run did.
func (u *union) add(counts map[Call]uint64) int {
	seen := map[syscallKey]bool{}
	for call, count := range counts {
		abi, name, ok := call.Name()
		if !ok {
			u.unknown[unknownKey{abi, call.Number}] += count
			continue
		}
		key := syscallKey{abi, name}
		u.counts[key] += count
		seen[key] = true
	}
	added := 0
	for key := range seen {
		if u.runs[key] == 0 {
			added++
		}
		u.runs[key]++
	}
	return added
}

func (u *union) syscalls() map[string][]protocol.RecordedSyscall {
	byABI := map[string][]protocol.RecordedSyscall{}
	for key, count := range u.counts {
		byABI[key.abi] = append(byABI[key.abi], protocol.RecordedSyscall{
			Name: key.name, Count: count, Runs: u.runs[key],
		})
	}
	for _, list := range byABI {
		sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	}
	return byABI
}

func (u *union) unknownList() []protocol.UnknownSyscall {
	list := make([]protocol.UnknownSyscall, 0, len(u.unknown))
	for key, count := range u.unknown {
		list = append(list, protocol.UnknownSyscall{Arch: key.abi, Number: key.number, Count: count})
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Arch != list[j].Arch {
			return list[i].Arch < list[j].Arch
		}
		return list[i].Number < list[j].Number
	})
	return list
}

func (u *union) coverage(runs, addedByLast int) protocol.RecordingCoverage {
	c := protocol.RecordingCoverage{Runs: runs, Names: len(u.counts), AddedByLastRun: addedByLast,
		SometimesNames: []string{}}
	for key, n := range u.runs {
		if n == runs {
			c.EveryRunNames++
		} else {
			c.SometimesNames = append(c.SometimesNames, key.abi+":"+key.name)
		}
	}
	sort.Strings(c.SometimesNames)
	return c
}
