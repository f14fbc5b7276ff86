package seccomp

import "slices"

// RuntimeStage is a step of LXC's work that runs under the container's seccomp filter. LXC
// loads the filter before its last start steps, so every profile must allow what those steps
// call. Otherwise the LXC monitor blocks forever, waiting for a handshake.
type RuntimeStage string

const (
	// StageLXCStart is lxc-start from loading the filter to executing the container's init.
	StageLXCStart RuntimeStage = "lxc-start"
	// StageLXCStartDaemonized is what lxc-start adds when it runs without -F.
	StageLXCStartDaemonized RuntimeStage = "lxc-start-daemonized"
	// StageLXCAttach is lxc-attach from loading the filter to executing the attached command.
	StageLXCAttach RuntimeStage = "lxc-attach"
)

// RuntimeBaseSet is the syscalls one stage made after its filter was loaded, on the ABI they
// were measured on.
type RuntimeBaseSet struct {
	Stage        RuntimeStage
	MeasuredArch Arch
	Syscalls     []string
}

// runtimeBaseSets were measured with LXC 5.0.2 on Debian 12 x86_64 by tracing lxc-start -F and
// lxc-attach of a busybox container and keeping the calls made after the filter was loaded.
//
// NOTE: the calls of the busybox init itself, and the sets on arm64 and arm (where for
// example dup2 and newfstatat do not exist), are not measured yet.
var runtimeBaseSets = []RuntimeBaseSet{
	{
		Stage:        StageLXCStart,
		MeasuredArch: ArchX86_64,
		Syscalls: []string{
			"capget", "close", "execve", "fchmod", "fchown", "getuid", "newfstatat", "openat",
			"read", "sendmsg", "sendto", "setgroups", "setsid", "write",
		},
	},
	{
		Stage:        StageLXCStartDaemonized,
		MeasuredArch: ArchX86_64,
		Syscalls:     []string{"dup2", "dup3"},
	},
	{
		Stage:        StageLXCAttach,
		MeasuredArch: ArchX86_64,
		Syscalls:     []string{"close", "execve", "setresgid", "setresuid"},
	},
}

// RuntimeBaseSets returns a copy of the measured sets.
func RuntimeBaseSets() []RuntimeBaseSet {
	sets := make([]RuntimeBaseSet, len(runtimeBaseSets))
	for i, set := range runtimeBaseSets {
		set.Syscalls = slices.Clone(set.Syscalls)
		sets[i] = set
	}
	return sets
}
