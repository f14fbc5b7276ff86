package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// straceArgs are the strace options of a reference run, followed by "-o FILE" and the
// command. --quiet=attach,exit hides the attach and exit lines but keeps the
// "[ Process PID=N runs in 32 bit mode. ]" marks, which -qq would hide too: without them an
// i386 call cannot be distinguished from an x86_64 call of the same name. --pidns-translation prints
// the host's PID for every process, so the PIDs that clone returns inside the container
// match the PIDs at the start of the child's lines.
var straceArgs = []string{"-f", "--pidns-translation", "--quiet=attach,exit"}

// straceModes maps strace's names of a process's syscall mode (strace 6.1, x86_64 and
// aarch64 builds) to the recorder's ABI names.
var straceModes = map[string]string{
	"64 bit":  "x86_64",
	"32 bit":  "x86",
	"x32":     "x32",
	"AArch64": "arm64",
	"32-bit":  "arm",
}

// undecodedName is strace's name for a call whose number it could not read, such as that of
// a thread that another thread's execve ends.
const undecodedName = "???"

// forkCalls create a process or thread and return its PID.
var forkCalls = map[string]bool{"clone": true, "clone3": true, "fork": true, "vfork": true}

var (
	linePattern       = regexp.MustCompile(`^(\d+)\s+(.*)$`)
	modePattern       = regexp.MustCompile(`^\[ Process PID=\d+ runs in (.+) mode\. \]$`)
	resumedPattern    = regexp.MustCompile(`^<\.\.\. ([A-Za-z0-9_]+) resumed>`)
	callPattern       = regexp.MustCompile(`^([A-Za-z0-9_]+|\?\?\?)\(`)
	resultPattern     = regexp.MustCompile(`\)\s+= (-?\d+|0x[0-9a-f]+|\?)`)
	translatedPattern = regexp.MustCompile(`= -?\d+ /\* (\d+) in strace's PID NS \*/`)
)

type lineKind int

const (
	lineCall    lineKind = iota // a syscall entry, complete or "<unfinished ...>"
	lineResumed                 // "<... name resumed>": the end of an unfinished call
	lineMode                    // "[ Process PID=N runs in M mode. ]"
	lineSignal                  // "--- SIGCHLD ... ---" and "+++ superseded by execve ... +++"
)

// straceLine is one line of strace -f output.
type straceLine struct {
	pid  int
	kind lineKind
	// name is the syscall of lineCall and lineResumed.
	name string
	// unfinished marks a lineCall whose result comes on a later lineResumed.
	unfinished bool
	// newPIDNamespace marks a lineCall whose flags contain CLONE_NEWPID.
	newPIDNamespace bool
	// result is the return value, "" when the line has none.
	result string
	// hostPID is the PID from a "/* N in strace's PID NS */" note, or "".
	hostPID string
	// abi is the ABI of lineMode.
	abi string
}

// parseStraceLine parses one line. It returns false for a line in no known form.
func parseStraceLine(text string) (straceLine, bool) {
	m := linePattern.FindStringSubmatch(text)
	if m == nil {
		return straceLine{}, false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil {
		return straceLine{}, false
	}
	line, rest := straceLine{pid: pid}, m[2]
	switch {
	case strings.HasPrefix(rest, "[ Process PID="):
		mode := modePattern.FindStringSubmatch(rest)
		if mode == nil || straceModes[mode[1]] == "" {
			return straceLine{}, false
		}
		line.kind, line.abi = lineMode, straceModes[mode[1]]
	case strings.HasPrefix(rest, "+++ ") || strings.HasPrefix(rest, "--- "):
		line.kind = lineSignal
	case resumedPattern.MatchString(rest):
		line.kind, line.name = lineResumed, resumedPattern.FindStringSubmatch(rest)[1]
		line.result, line.hostPID = parseResult(rest)
	case callPattern.MatchString(rest):
		line.kind, line.name = lineCall, callPattern.FindStringSubmatch(rest)[1]
		line.unfinished = strings.HasSuffix(rest, "<unfinished ...>")
		line.newPIDNamespace = strings.Contains(rest, "CLONE_NEWPID")
		if !line.unfinished {
			line.result, line.hostPID = parseResult(rest)
		}
	default:
		return straceLine{}, false
	}
	return line, true
}

// parseResult returns the last "= value" after a closing parenthesis, because the arguments
// before it may contain quoted text of any kind.
func parseResult(rest string) (result, hostPID string) {
	matches := resultPattern.FindAllStringSubmatch(rest, -1)
	if len(matches) == 0 {
		return "", ""
	}
	if note := translatedPattern.FindStringSubmatch(rest); note != nil {
		hostPID = note[1]
	}
	return matches[len(matches)-1][1], hostPID
}

// straceTrace is the strace output of one container start.
type straceTrace struct {
	lines []straceLine
	// abis holds the ABI of each lineCall, indexed like lines.
	abis []string
	// creators maps a PID to the indexes of the lines whose clone, fork or vfork returned it,
	// in order: the kernel may reuse a PID within one trace.
	creators map[int][]int
	// execs maps a PID to the indexes of the lines that began its successful execve calls.
	execs map[int][]int
	// newPIDNamespace lists the processes created with CLONE_NEWPID, in order.
	newPIDNamespace []process
	// unparsed holds the lines in no known form.
	unparsed []string
}

// parseStrace reads strace -f output. Every process starts in its parent's mode, the first
// one in native's, and strace's mode marks switch a process to another.
func parseStrace(r io.Reader, native string) (*straceTrace, error) {
	t := &straceTrace{creators: map[int][]int{}, execs: map[int][]int{}}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for scanner.Scan() {
		line, ok := parseStraceLine(scanner.Text())
		if !ok {
			t.unparsed = append(t.unparsed, scanner.Text())
			continue
		}
		t.lines = append(t.lines, line)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read strace output: %w", err)
	}
	t.linkResults()
	t.assignABIs(native)
	return t, nil
}

// linkResults pairs each unfinished call with its resumed line and notes the processes that
// successful forks created and the successful execs. When a thread other than the leader
// executes, strace prints the end of its execve under the leader's PID, which has no
// unfinished execve, so that exec is not noted. Only a container init that executes from a
// thread would be affected, and LXC's init has no threads.
func (t *straceTrace) linkResults() {
	pending := map[int]int{}
	for i, line := range t.lines {
		switch line.kind {
		case lineCall:
			if line.unfinished {
				pending[line.pid] = i
			} else {
				t.complete(i, line)
			}
		case lineResumed:
			start, ok := pending[line.pid]
			if ok && t.lines[start].name == line.name {
				delete(pending, line.pid)
				t.complete(start, line)
			}
		}
	}
}

// complete records the result of the call that began at line start and ended on end.
func (t *straceTrace) complete(start int, end straceLine) {
	call := t.lines[start]
	switch {
	case (call.name == "execve" || call.name == "execveat") && end.result == "0":
		t.execs[end.pid] = append(t.execs[end.pid], start)
	case forkCalls[call.name]:
		child, err := strconv.Atoi(end.result)
		if end.hostPID != "" {
			child, err = strconv.Atoi(end.hostPID)
		}
		if err != nil || child <= 0 {
			return
		}
		t.creators[child] = append(t.creators[child], start)
		if call.newPIDNamespace {
			t.newPIDNamespace = append(t.newPIDNamespace, process{pid: child, creator: start})
		}
	}
}

// creator returns the index of the line that created the process with pid that was alive at
// line index, or -1 when the trace does not show its creation.
func (t *straceTrace) creator(pid, index int) int {
	found := -1
	for _, start := range t.creators[pid] {
		if start < index && start > found {
			found = start
		}
	}
	return found
}

// process identifies one process of a trace, because a PID may be reused.
type process struct {
	pid     int
	creator int
}

func (t *straceTrace) assignABIs(native string) {
	t.abis = make([]string, len(t.lines))
	current := map[process]string{}
	for i, line := range t.lines {
		p := process{line.pid, t.creator(line.pid, i)}
		if _, seen := current[p]; !seen {
			current[p] = native
			// The clone's line always comes before any line of the child it creates.
			if p.creator >= 0 {
				current[p] = t.abis[p.creator]
			}
		}
		if line.kind == lineMode {
			current[p] = line.abi
		}
		t.abis[i] = current[p]
	}
}

// Successful execve calls of the container's init, counted from 1.
const (
	// initExec is LXC's execve of the init, iotfleet-init.
	initExec = 1
	// workloadExec is iotfleet-init's execve of the workload.
	workloadExec = 2
)

// pairsAfterExec counts by (ABI, name) the calls that the container's init made after its
// nth successful execve, and every call of the processes and threads created after it. The
// execve itself and what came before it, such as LXC's steps, are left out. It also returns
// the number of those calls that strace could not decode.
func (t *straceTrace) pairsAfterExec(n int) (counts map[pair]uint64, undecoded int, err error) {
	init, execIndex, err := t.initExec(n)
	if err != nil {
		return nil, 0, err
	}
	selected := map[process]bool{}
	var selects func(pid, index int) bool
	selects = func(pid, index int) bool {
		p := process{pid, t.creator(pid, index)}
		if p == init {
			return index > execIndex
		}
		if known, ok := selected[p]; ok {
			return known
		}
		selected[p] = p.creator >= 0 && selects(t.lines[p.creator].pid, p.creator)
		return selected[p]
	}

	counts = map[pair]uint64{}
	for i, line := range t.lines {
		switch {
		case line.kind != lineCall || !selects(line.pid, i):
		case line.name == undecodedName:
			undecoded++
		default:
			counts[pair{abi: t.abis[i], name: line.name}]++
		}
	}
	return counts, undecoded, nil
}

// initExec returns the container's init, the first process created in a new PID namespace,
// and the index of the line that began its nth successful execve.
func (t *straceTrace) initExec(n int) (process, int, error) {
	if len(t.newPIDNamespace) == 0 {
		return process{}, 0, errors.New("find the container's init in strace output: no clone with CLONE_NEWPID")
	}
	init := t.newPIDNamespace[0]
	count := 0
	for _, index := range t.execs[init.pid] {
		if index < init.creator {
			continue
		}
		if count++; count == n {
			return init, index, nil
		}
	}
	return process{}, 0, fmt.Errorf("find execve number %d of the container's init (PID %d) in strace "+
		"output: it made %d", n, init.pid, count)
}
