package initspec

import (
	"strings"
	"syscall"
)

// The hold protocol lets the eBPF recorder select a workload's cgroup before the workload makes
// its first syscall. The helper sets HoldEnv in the init's environment. The init then handles
// HoldSignal, renames itself to HoldName and waits. The helper finds it by name and token,
// selects its cgroup and sends HoldSignal, and the init goes on to exec the workload.
const (
	// HoldEnv names the environment variable whose value, a token of the run, makes the init
	// wait before it execs the workload.
	HoldEnv = "IOTFLEET_RECORDING_HOLD"

	// HoldName is the process name (comm) of a waiting init. The init sets it only once it
	// handles HoldSignal: a Go program drops a SIGUSR1 that arrives before that.
	HoldName = "iotfleet-held"

	// HoldSignal releases a waiting init. SIGTERM, SIGINT and SIGPWR end it instead.
	HoldSignal = syscall.SIGUSR1
)

// ExecFlag, as the init's first argument, makes it exec the arguments after it with its own
// environment instead of the spec's workload: the form in which lxc-attach runs it for a
// recorded command.
const ExecFlag = "--exec"

// WithoutHold returns env without its HoldEnv entries, so the workload does not inherit them.
func WithoutHold(env []string) []string {
	kept := make([]string, 0, len(env))
	for _, entry := range env {
		if !strings.HasPrefix(entry, HoldEnv+"=") {
			kept = append(kept, entry)
		}
	}
	return kept
}
