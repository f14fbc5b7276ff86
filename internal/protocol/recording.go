package protocol

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Operations on syscall recordings. A recording lives in <state_dir>/recordings/<name>/ as
// result.json, the RecordingResult of its last successful run.
const (
	// OpRecordingRun runs a container's workload RecordingRunParams.Runs times under the
	// recording mechanism that RecordingRunParams.Mechanism selects, replaces the recording's
	// result with the union of those runs and returns RecordingState. It fails with
	// CodeNotFound when the container does not exist, with CodeConflict when the container is
	// in the wrong state for the workload, and with CodeInvalid when MechanismEBPF was asked
	// for and cannot record on the device.
	OpRecordingRun = "recording.run"

	// OpRecordingGet returns the RecordingState, or CodeNotFound when the recording does not
	// exist.
	OpRecordingGet = "recording.get"

	// OpRecordingDelete removes the recording's folder and returns RecordingDeleteResult. A
	// missing recording is not an error.
	OpRecordingDelete = "recording.delete"
)

// Recording mechanisms: RecordingRunParams.Mechanism requests one, RecordingResult.Mechanism
// reports the one used.
const (
	// MechanismAuto, or an empty Mechanism, lets the helper probe the kernel and use
	// MechanismEBPF where it loads, MechanismPtrace otherwise.
	MechanismAuto = "auto"

	// MechanismEBPF counts calls in the kernel with a BPF program on the sys_enter raw
	// tracepoint, which counts only the tasks in the workload's cgroup v2 and below it.
	MechanismEBPF = "ebpf"

	// MechanismPtrace is a tracer that follows every process of the workload, with a seccomp
	// filter that stops each of them at every syscall entry.
	MechanismPtrace = "ptrace"
)

// ValidMechanisms lists the values RecordingRunParams.Mechanism accepts besides "".
var ValidMechanisms = []string{MechanismAuto, MechanismEBPF, MechanismPtrace}

// Workload kinds of a recording.
const (
	// WorkloadStart starts the stopped container in the foreground, records it for
	// DurationSeconds and stops it.
	WorkloadStart = "start"

	// WorkloadCommand attaches Command to the running container and records it until it exits.
	WorkloadCommand = "command"
)

// Outcomes of one recording run.
const (
	// RunExited is a workload that ended by itself before the duration or timeout.
	RunExited = "exited"

	// RunStopped is a started container that the helper stopped after DurationSeconds.
	RunStopped = "stopped"

	// RunTimedOut is a workload that the helper killed at TimeoutSeconds.
	RunTimedOut = "timed_out"
)

// Bounds of RecordingRunParams.
const (
	MaxRecordingRuns           = 20
	MaxRecordingSeconds        = 3600
	DefaultRecordingTimeout    = 300
	recordingStopAllowance     = 30
	maxRecordingCommandLength  = 64
	maxRecordingArgumentLength = 4096
)

// RecordingNamePattern is the form of a recording name: a DNS label, as for profiles, so that
// it is also a safe folder name.
var RecordingNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateRecordingName returns an error unless name matches RecordingNamePattern.
func ValidateRecordingName(name string) error {
	if !RecordingNamePattern.MatchString(name) {
		return fmt.Errorf("invalid recording name %q: use 1 to 63 lowercase letters, digits and '-', "+
			"starting and ending with a letter or digit", name)
	}
	return nil
}

// RecordingName is the params of OpRecordingGet and OpRecordingDelete.
type RecordingName struct {
	Name string `json:"name"`
}

// RecordingRunParams is the params of OpRecordingRun. Exactly one of DurationSeconds and
// Command is set: DurationSeconds records WorkloadStart, Command records WorkloadCommand.
type RecordingRunParams struct {
	Name      string `json:"name"`
	Container string `json:"container"`

	// DurationSeconds is how long each run keeps the started container running before the
	// helper stops it. The container may stop earlier by itself.
	DurationSeconds int `json:"duration_seconds,omitempty"`

	// Command is the argv that each run attaches to the running container.
	Command []string `json:"command,omitempty"`

	// Runs is how many times the workload runs; the result is the union. Zero means 1.
	Runs int `json:"runs,omitempty"`

	// TimeoutSeconds bounds one run, including the stop of a started container. The helper
	// kills a workload that is still running then. Zero means DurationSeconds plus 30 for
	// WorkloadStart and DefaultRecordingTimeout for WorkloadCommand.
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`

	// Mechanism is one of ValidMechanisms; "" means MechanismAuto.
	Mechanism string `json:"mechanism,omitempty"`
}

// Workload returns WorkloadStart or WorkloadCommand.
func (p RecordingRunParams) Workload() string {
	if len(p.Command) > 0 {
		return WorkloadCommand
	}
	return WorkloadStart
}

// RunCount returns Runs with the default applied.
func (p RecordingRunParams) RunCount() int {
	if p.Runs == 0 {
		return 1
	}
	return p.Runs
}

// Timeout returns TimeoutSeconds with the default applied.
func (p RecordingRunParams) Timeout() time.Duration {
	seconds := p.TimeoutSeconds
	switch {
	case seconds != 0:
	case p.Workload() == WorkloadStart:
		seconds = p.DurationSeconds + recordingStopAllowance
	default:
		seconds = DefaultRecordingTimeout
	}
	return time.Duration(seconds) * time.Second
}

// Validate checks everything but the container name, which the helper checks as it does for
// container operations.
func (p RecordingRunParams) Validate() error {
	if err := ValidateRecordingName(p.Name); err != nil {
		return err
	}
	if (p.DurationSeconds == 0) == (len(p.Command) == 0) {
		return fmt.Errorf("recording %q: set exactly one of duration_seconds (record the container's "+
			"start) and command (record a command attached to the running container)", p.Name)
	}
	if p.DurationSeconds < 0 || p.DurationSeconds > MaxRecordingSeconds {
		return fmt.Errorf("recording %q: duration_seconds %d is out of range: use 1 to %d",
			p.Name, p.DurationSeconds, MaxRecordingSeconds)
	}
	if p.Runs < 0 || p.Runs > MaxRecordingRuns {
		return fmt.Errorf("recording %q: runs %d is out of range: use 1 to %d", p.Name, p.Runs, MaxRecordingRuns)
	}
	if p.TimeoutSeconds < 0 || p.TimeoutSeconds > MaxRecordingSeconds+recordingStopAllowance {
		return fmt.Errorf("recording %q: timeout_seconds %d is out of range: use 1 to %d",
			p.Name, p.TimeoutSeconds, MaxRecordingSeconds+recordingStopAllowance)
	}
	if p.TimeoutSeconds != 0 && p.TimeoutSeconds <= p.DurationSeconds {
		return fmt.Errorf("recording %q: timeout_seconds %d must exceed duration_seconds %d, "+
			"because the timeout also bounds the container's stop", p.Name, p.TimeoutSeconds, p.DurationSeconds)
	}
	if p.Mechanism != "" && !slices.Contains(ValidMechanisms, p.Mechanism) {
		return fmt.Errorf("recording %q: unknown mechanism %q: use one of %s",
			p.Name, p.Mechanism, strings.Join(ValidMechanisms, ", "))
	}
	return validateRecordingCommand(p.Name, p.Command)
}

func validateRecordingCommand(name string, command []string) error {
	if len(command) > maxRecordingCommandLength {
		return fmt.Errorf("recording %q: command has %d arguments, more than the maximum of %d",
			name, len(command), maxRecordingCommandLength)
	}
	for i, arg := range command {
		if len(arg) > maxRecordingArgumentLength {
			return fmt.Errorf("recording %q: command argument %d is longer than %d bytes",
				name, i, maxRecordingArgumentLength)
		}
	}
	if len(command) > 0 && command[0] == "" {
		return fmt.Errorf("recording %q: command[0] is empty: name the program to run", name)
	}
	return nil
}

// RecordingState is the result of OpRecordingRun and OpRecordingGet.
type RecordingState struct {
	Result RecordingResult `json:"result"`

	// SHA256 is the hex SHA-256 of result.json as stored on the device.
	SHA256 string `json:"sha256"`
}

// RecordingResult is the content of result.json: the syscalls that every process of the
// workload made, joined over all runs.
type RecordingResult struct {
	Name      string `json:"name"`
	Container string `json:"container"`

	// Mechanism is MechanismEBPF or MechanismPtrace.
	Mechanism string `json:"mechanism"`

	// Arch is the device's native seccomp ABI, such as "x86_64".
	Arch string `json:"arch"`

	// Kernel is the device's kernel release (uname -r).
	Kernel string `json:"kernel"`

	// Workload is WorkloadStart or WorkloadCommand; DurationSeconds or Command is the one set.
	Workload        string   `json:"workload"`
	DurationSeconds int      `json:"duration_seconds,omitempty"`
	Command         []string `json:"command,omitempty"`

	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`

	Runs []RecordingRun `json:"runs"`

	// Syscalls maps each ABI that the workload used ("x86_64", "x86", "x32", "arm64", "arm")
	// to its syscalls, sorted by name.
	Syscalls map[string][]RecordedSyscall `json:"syscalls"`

	// Unknown lists the syscall numbers that the device's tables have no name for, so no
	// profile can allow them by name.
	Unknown []UnknownSyscall `json:"unknown"`

	Coverage RecordingCoverage `json:"coverage"`
}

// RecordingRun describes one run of the workload.
type RecordingRun struct {
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`

	// Outcome is RunExited, RunStopped or RunTimedOut.
	Outcome string `json:"outcome"`

	// ExitCode is the exit code of lxc-start or lxc-attach, 128 plus the signal number when a
	// signal ended it.
	ExitCode int `json:"exit_code"`

	// Processes counts processes and threads. Under MechanismPtrace it counts those the tracer
	// followed, LXC's own included. Under MechanismEBPF it counts the workload's from its exec on.
	Processes int `json:"processes"`

	// Calls counts the recorded syscalls.
	Calls uint64 `json:"calls"`
}

// RecordedSyscall is one syscall of one ABI.
type RecordedSyscall struct {
	Name string `json:"name"`

	// Count is how often the workload called it, over all runs.
	Count uint64 `json:"count"`

	// Runs counts the runs that called it at least once.
	Runs int `json:"runs"`
}

// UnknownSyscall is a syscall number that has no name in the ABI's table.
type UnknownSyscall struct {
	// Arch is the ABI, or the hex audit architecture ("0x40000028") for an ABI without a table.
	Arch   string `json:"arch"`
	Number uint64 `json:"number"`
	Count  uint64 `json:"count"`
}

// RecordingCoverage tells how settled the union is. Syscalls that only some runs make, such as
// those of a language runtime's timers, show in SometimesNames; a last run that still added
// names suggests that more runs would add more.
type RecordingCoverage struct {
	Runs int `json:"runs"`

	// Names counts the distinct (ABI, name) pairs of the union.
	Names int `json:"names"`

	// EveryRunNames counts the pairs that every run made.
	EveryRunNames int `json:"every_run_names"`

	// SometimesNames lists the pairs that only some runs made, as "abi:name", sorted.
	SometimesNames []string `json:"sometimes_names"`

	// AddedByLastRun counts the pairs that the last run made and no run before it.
	AddedByLastRun int `json:"added_by_last_run"`
}

// RecordingDeleteResult is the result of OpRecordingDelete.
type RecordingDeleteResult struct {
	Deleted bool `json:"deleted"`
}
