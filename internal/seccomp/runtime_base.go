package seccomp

import (
	"fmt"
	"slices"
)

// RuntimeStage is a step of a container's life that runs under its seccomp filter. LXC loads
// the filter before its last start steps, so every profile must allow what those steps call.
// Otherwise the LXC monitor blocks forever, waiting for a handshake.
type RuntimeStage string

const (
	// StageLXCStart is lxc-start from loading the filter to executing the container's init.
	StageLXCStart RuntimeStage = "lxc-start"
	// StageLXCStartDaemonized is what lxc-start adds when it runs without -F, as liblxc's start
	// from the helper does.
	StageLXCStartDaemonized RuntimeStage = "lxc-start-daemonized"
	// StageLXCAttach is lxc-attach from loading the filter to executing the attached command.
	StageLXCAttach RuntimeStage = "lxc-attach"
	// StageBusyboxInit is busybox init, as lxc-create -t busybox sets it up, from its execve
	// until it exits after lxc-stop, together with the processes it starts.
	StageBusyboxInit RuntimeStage = "busybox-init"
	// StageIotfleetInit is iotfleet-init, the helper's init, without a workload: from its
	// execve until it exits after lxc-stop. With a workload it execs that instead of idling.
	StageIotfleetInit RuntimeStage = "iotfleet-init"
)

// StageCompatFilterLoad is iotfleet-init loading the filter that refuses compat-ABI syscalls,
// after LXC's policy is in force and before it runs the workload.
const StageCompatFilterLoad RuntimeStage = "compat-filter-load"

// compatFilterLoad lists the calls with which iotfleet-init loads the compat-ABI filter:
// prctl(PR_SET_NO_NEW_PRIVS) and seccomp(SECCOMP_SET_MODE_FILTER). They are taken from that
// code (loadSeccompFilter in helper/cmd/iotfleet-init), not measured, because the measured
// runs used an init that loaded no filter.
var compatFilterLoad = RuntimeBaseSet{
	Stage:        StageCompatFilterLoad,
	MeasuredArch: ArchX86_64,
	Syscalls:     []string{"prctl", "seccomp"},
}

// RuntimeBaseSet is the syscalls one stage made after its filter was loaded, on the ABI they
// were measured on.
type RuntimeBaseSet struct {
	Stage        RuntimeStage
	MeasuredArch Arch
	Syscalls     []string
}

// RuntimeBaseSets returns a copy of the measured sets, which runtime_base_measured.go holds
// together with how, where and with which versions they were measured, and of the set that
// loading the compat-ABI filter adds.
func RuntimeBaseSets() []RuntimeBaseSet {
	all := append(slices.Clone(measuredRuntimeBase), compatFilterLoad)
	sets := make([]RuntimeBaseSet, len(all))
	for i, set := range all {
		set.Syscalls = slices.Clone(set.Syscalls)
		sets[i] = set
	}
	return sets
}

// RuntimeBase returns the sorted syscall names that a profile for the native ABI arch must
// allow so that LXC can start, attach to and stop its container and busybox init can run: the
// names of every measured set.
//
// On an ABI other than the one a set was measured on, each name is replaced by the names that
// arch's table has for the same job. These are the name itself where it exists, and its
// runtimeBaseEquivalents, because libcs on other ABIs reach the same kernel function through
// other syscalls (openat for open, dup3 for dup2, getuid32 for getuid). On x86, the socket
// calls become socketcall, the only way LXC can allow them there.
//
// NOTE: only the x86_64 sets are measured. The other ABIs get this mapping, which follows
// the syscall tables and the libc conventions named in runtimeBaseEquivalents but was not
// checked against a trace on those machines.
func RuntimeBase(arch Arch) ([]string, error) {
	if err := arch.validateNative(); err != nil {
		return nil, fmt.Errorf("runtime base: %w", err)
	}
	var names []string
	for _, set := range RuntimeBaseSets() {
		for _, name := range set.Syscalls {
			names = append(names, mapRuntimeName(name, set.MeasuredArch, arch)...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// mapRuntimeName returns the names on arch that do the work of name measured on measured.
func mapRuntimeName(name string, measured, arch Arch) []string {
	if arch == measured {
		return []string{name}
	}
	var names []string
	for _, candidate := range append([]string{name}, runtimeBaseEquivalents[name]...) {
		if _, ok := Lookup(arch, candidate); !ok {
			continue
		}
		if multiplexer, ok := x86Multiplexed[candidate]; ok && arch == ArchX86 {
			candidate = multiplexer
		}
		names = append(names, candidate)
	}
	return names
}

// runtimeBaseEquivalents maps measured x86_64 names to the syscalls that do the same work on
// other ABIs, where glibc, musl or busybox use those instead:
//   - the generic table of arm64 has only the *at and *3 forms of path and descriptor calls,
//     no alarm (libcs use setitimer) and no vfork (clone);
//   - 32-bit ABIs have 32-bit ID calls (getuid32), 64-bit file calls (fcntl64, fstatat64,
//     mmap2), and time64 variants that libcs built with a 64-bit time_t call first;
//   - the thread pointer is set by arch_prctl on x86_64, set_thread_area on x86 and set_tls on
//     arm, and needs no syscall on arm64.
//
// RuntimeBase adds an equivalent only where arch's table has it.
var runtimeBaseEquivalents = map[string][]string{
	"access":          {"faccessat", "faccessat2"},
	"alarm":           {"setitimer"},
	"arch_prctl":      {"set_thread_area", "set_tls"},
	"clock_nanosleep": {"clock_nanosleep_time64"},
	"dup2":            {"dup3"},
	"fchown":          {"fchown32"},
	"fcntl":           {"fcntl64"},
	"fstat":           {"fstat64", "statx"},
	"futex":           {"futex_time64"},
	"getegid":         {"getegid32"},
	"geteuid":         {"geteuid32"},
	"getgid":          {"getgid32"},
	"getuid":          {"getuid32"},
	"mmap":            {"mmap2"},
	"nanosleep":       {"clock_nanosleep_time64"},
	"newfstatat":      {"fstatat64", "statx"},
	"readlink":        {"readlinkat"},
	"rt_sigtimedwait": {"rt_sigtimedwait_time64"},
	"setgid":          {"setgid32"},
	"setgroups":       {"setgroups32"},
	"setresgid":       {"setresgid32"},
	"setresuid":       {"setresuid32"},
	"setuid":          {"setuid32"},
	"vfork":           {"clone"},
}

// runtimeBaseUnneeded lists, per ABI, the measured names whose work needs no syscall there:
// arm64 keeps the thread pointer in a register (tpidr_el0) that user space sets itself.
var runtimeBaseUnneeded = map[Arch][]string{
	ArchARM64: {"arch_prctl"},
}
