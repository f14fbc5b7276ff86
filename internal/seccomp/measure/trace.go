//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Stage names of the calls that a trace records. Calls made before a process loads the seccomp
// filter, and calls of processes that never load it (the LXC monitor), belong to no stage.
const (
	// stageBeforeExec is a filtered process from loading the filter to its successful execve:
	// lxc-start's last steps before the container's init, or lxc-attach's before the command.
	stageBeforeExec = "before-exec"
	// stageAfterExec is the program that the filtered process executed, and its descendants,
	// until the stop time.
	stageAfterExec = "after-exec"
	// stageStop is stageAfterExec from the stop time on: what the container's init does while
	// lxc-stop shuts it down.
	stageStop = "stop"
)

// traceLine is one line of `strace -f -qq -ttt --decode-pids=pidns` output: a PID, a time in
// seconds since the epoch and the rest.
var traceLine = regexp.MustCompile(`^(\d+)\s+(\d+)\.(\d+)\s+(.*)$`)

var (
	callStart    = regexp.MustCompile(`^([a-z_][a-z0-9_]*)\(`)
	resumedStart = regexp.MustCompile(`^<\.\.\. ([a-z_][a-z0-9_]*) resumed>`)
	// returnValue matches the end of a finished call. With --decode-pids=pidns, strace adds the
	// child's PID in its own namespace when the returned PID belongs to another namespace.
	returnValue = regexp.MustCompile(`\) += (-?\d+)(?: /\* (\d+) in strace's PID NS \*/)?(?: .*)?$`)
)

const unfinishedSuffix = " <unfinished ...>"

// call is one system call of a trace, with unfinished and resumed lines joined.
type call struct {
	pid  int
	name string
	// micros is the time of entry, in microseconds since the epoch.
	micros int64
	text   string
}

// returned reports the call's return value, with a PID translated into strace's namespace.
func (c call) returned() (int64, bool) {
	m := returnValue.FindStringSubmatch(c.text)
	if m == nil {
		return 0, false
	}
	value := m[1]
	if m[2] != "" {
		value = m[2]
	}
	n, err := strconv.ParseInt(value, 10, 64)
	return n, err == nil
}

// loadsFilter reports whether the call installed a seccomp filter. libseccomp probes the kernel
// with a NULL program first, which fails; only a call that passes a program and returns 0
// counts.
func (c call) loadsFilter() bool {
	ret, ok := c.returned()
	if !ok || ret != 0 {
		return false
	}
	switch c.name {
	case "seccomp":
		return strings.HasPrefix(c.text, "seccomp(SECCOMP_SET_MODE_FILTER,") && strings.Contains(c.text, "filter=")
	case "prctl":
		return strings.HasPrefix(c.text, "prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER")
	}
	return false
}

// createsProcess reports whether the call may return a new process or thread ID.
func (c call) createsProcess() bool {
	switch c.name {
	case "clone", "clone3", "fork", "vfork":
		return true
	}
	return false
}

// parseTrace reads a trace and returns its calls in the order they were entered. Lines that
// are not calls (signals, exits) are skipped. It also returns the lines it could not read,
// such as strace's "???(" for a call whose number it could not fetch, which happens to a
// thread that another thread's exit_group kills as it enters a syscall.
func parseTrace(r io.Reader) (calls []call, unparsed []string, err error) {
	pending := make(map[int]int) // PID -> index in calls of its unfinished call
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for scanner.Scan() {
		m := traceLine.FindStringSubmatch(scanner.Text())
		if m == nil {
			unparsed = append(unparsed, scanner.Text())
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		micros, ok := parseMicros(m[2], m[3])
		rest := m[4]
		switch {
		case !ok:
			unparsed = append(unparsed, scanner.Text())
		case strings.HasPrefix(rest, "---"), strings.HasPrefix(rest, "+++"):
		case resumedStart.MatchString(rest):
			if i, ok := pending[pid]; ok {
				calls[i].text += rest[len(resumedStart.FindString(rest)):]
				delete(pending, pid)
			}
		case callStart.MatchString(rest):
			name := callStart.FindStringSubmatch(rest)[1]
			text, unfinished := strings.CutSuffix(rest, unfinishedSuffix)
			calls = append(calls, call{pid: pid, name: name, micros: micros, text: text})
			if unfinished {
				pending[pid] = len(calls) - 1
			}
		default:
			unparsed = append(unparsed, scanner.Text())
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, unparsed, fmt.Errorf("read trace: %w", err)
	}
	return calls, unparsed, nil
}

// parseMicros turns strace's -ttt time, seconds and a fraction of 6 digits, into microseconds.
func parseMicros(seconds, fraction string) (int64, bool) {
	s, err := strconv.ParseInt(seconds, 10, 64)
	if err != nil || len(fraction) != 6 {
		return 0, false
	}
	f, err := strconv.ParseInt(fraction, 10, 64)
	if err != nil {
		return 0, false
	}
	return s*1_000_000 + f, true
}

// stageSets sorts the calls of a trace into stages and returns the syscall names of each.
// A process joins stageBeforeExec when it loads a filter and moves to stageAfterExec at its
// first successful execve after that. A new process or thread starts in the stage its parent
// was in when it entered clone, fork or vfork, because it inherits the parent's filter. Calls in
// stageAfterExec at or after stopMicros (when non-zero) go to stageStop.
func stageSets(calls []call, stopMicros int64) map[string]map[string]bool {
	// A child often runs before its parent's clone returns, so the children are looked up
	// first and their stage is fixed when the parent enters the call.
	children := make(map[int]int) // index of a clone call -> PID of the child it created
	for i, c := range calls {
		if child, ok := c.returned(); ok && c.createsProcess() && child > 0 {
			children[i] = int(child)
		}
	}

	sets := make(map[string]map[string]bool)
	stage := make(map[int]string) // PID -> current stage; "" means unfiltered
	for i, c := range calls {
		current := stage[c.pid]
		if current != "" {
			recorded := current
			if current == stageAfterExec && stopMicros != 0 && c.micros >= stopMicros {
				recorded = stageStop
			}
			if sets[recorded] == nil {
				sets[recorded] = make(map[string]bool)
			}
			sets[recorded][c.name] = true
		}

		if child, ok := children[i]; ok {
			stage[child] = current
		}
		switch {
		case current == "" && c.loadsFilter():
			stage[c.pid] = stageBeforeExec
		case current == stageBeforeExec && c.name == "execve":
			if ret, ok := c.returned(); ok && ret == 0 {
				stage[c.pid] = stageAfterExec
			}
		}
	}
	return sets
}
