package main

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParseStraceLine(t *testing.T) {
	tests := []struct {
		name string
		text string
		want straceLine
	}{
		{
			name: "complete call",
			text: `12 openat(AT_FDCWD, "/etc/passwd", O_RDONLY) = 3`,
			want: straceLine{pid: 12, kind: lineCall, name: "openat", result: "3"},
		},
		{
			name: "result in quoted text",
			text: `12 write(1, "x) = 7\n", 6)           = 6`,
			want: straceLine{pid: 12, kind: lineCall, name: "write", result: "6"},
		},
		{
			name: "error result",
			text: `12 prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, 0xf7f9e000) = -1 EINVAL (Invalid argument)`,
			want: straceLine{pid: 12, kind: lineCall, name: "prctl", result: "-1"},
		},
		{
			name: "unfinished clone into a new PID namespace",
			text: `12 clone3({flags=CLONE_NEWNS|CLONE_NEWPID, exit_signal=SIGCHLD}, 88 <unfinished ...>`,
			want: straceLine{pid: 12, kind: lineCall, name: "clone3", unfinished: true, newPIDNamespace: true},
		},
		{
			name: "resumed with translated PID",
			text: `13  <... clone resumed>, tls=0x2c9589bf4890) = 3 /* 9988 in strace's PID NS */`,
			want: straceLine{pid: 13, kind: lineResumed, name: "clone", result: "3", hostPID: "9988"},
		},
		{
			name: "resumed with padding",
			text: `13 <... execve resumed>)             = 0`,
			want: straceLine{pid: 13, kind: lineResumed, name: "execve", result: "0"},
		},
		{
			name: "resumed and unfinished again",
			text: `14 <... nanosleep resumed> <unfinished ...>) = ?`,
			want: straceLine{pid: 14, kind: lineResumed, name: "nanosleep", result: "?"},
		},
		{
			name: "32-bit mode",
			text: `13 [ Process PID=13 runs in 32 bit mode. ]`,
			want: straceLine{pid: 13, kind: lineMode, abi: "x86"},
		},
		{
			name: "64-bit mode",
			text: `13 [ Process PID=13 runs in 64 bit mode. ]`,
			want: straceLine{pid: 13, kind: lineMode, abi: "x86_64"},
		},
		{
			name: "superseded thread",
			text: `13 +++ superseded by execve in pid 15 +++`,
			want: straceLine{pid: 13, kind: lineSignal},
		},
		{
			name: "undecoded call",
			text: `1596  ???( <unfinished ...>`,
			want: straceLine{pid: 1596, kind: lineCall, name: "???", unfinished: true},
		},
		{
			name: "signal",
			text: `12 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED} ---`,
			want: straceLine{pid: 12, kind: lineSignal},
		},
		{
			name: "exit",
			text: `12 +++ exited with 0 +++`,
			want: straceLine{pid: 12, kind: lineSignal},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStraceLine(tt.text)
			if !ok {
				t.Fatalf("parseStraceLine(%q) rejected the line", tt.text)
			}
			if got != tt.want {
				t.Errorf("parseStraceLine(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
	}
}

func TestParseStraceLineRejects(t *testing.T) {
	for _, text := range []string{
		"",
		"strace: Process 12 attached",
		"12 [ Process PID=12 runs in 16 bit mode. ]",
		"12 ???",
	} {
		if got, ok := parseStraceLine(text); ok {
			t.Errorf("parseStraceLine(%q) = %+v, want a rejection", text, got)
		}
	}
}

// containerStart is strace output of a container start in the shape that lxc-start -F
// produces. The monitor (100) clones the init (101) into a new PID namespace. A helper
// process runs with PID 105 before the workload reuses that PID. The init executes a 64-bit
// program that executes a 32-bit one, whose threads and children follow.
const containerStart = `100 execve("/usr/bin/lxc-start", ["lxc-start", "-F"], 0x7ffd /* 35 vars */) = 0
100 clone3({flags=CLONE_NEWUSER, exit_signal=SIGCHLD}, 88) = 105
105 execve("/usr/bin/newuidmap", ["newuidmap"], 0x55 /* 44 vars */) = 0
105 setuid(0)                          = 0
105 exit_group(0)                      = ?
100 clone3({flags=CLONE_PIDFD|CLONE_NEWPID, exit_signal=SIGCHLD}, 88 <unfinished ...>
101 mount("proc", "/proc", "proc", 0, NULL) = 0
100 <... clone3 resumed> => {pidfd=[43]}, 88) = 101
101 execve("/missing", ["/missing"], 0x55 /* 1 var */) = -1 ENOENT (No such file or directory)
101 pivot_root(".", ".")               = 0
101 execve("/dev/.iotfleet/init", ["/dev/.iotfleet/init"], 0x55 /* 1 var */ <unfinished ...>
100 epoll_wait(5,  <unfinished ...>
101 <... execve resumed>)             = 0
101 clone(child_stack=0x2c95, flags=CLONE_VM|CLONE_THREAD <unfinished ...>
102 gettid()                           = 2 /* 102 in strace's PID NS */
101 <... clone resumed>, tls=0x2c9589bf4890) = 2 /* 102 in strace's PID NS */
102 futex(0x8, FUTEX_WAIT, 0, NULL <unfinished ...>
101 execve("/bench/threads", ["/bench/threads"], 0x36 /* 1 var */ <unfinished ...>
102 <... futex resumed>)              = ?
101 <... execve resumed>)             = 0
101 [ Process PID=101 runs in 32 bit mode. ]
101 mmap2(NULL, 262144, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0xf7f9e000
101 clone(child_stack=0x94, flags=CLONE_VM|CLONE_THREAD) = 3 /* 103 in strace's PID NS */
103 set_thread_area({entry_number=12}) = 0
103 execve("/bench/tool", ["/bench/tool"], 0x36 /* 1 var */ <unfinished ...>
101 +++ superseded by execve in pid 103 +++
101 <... execve resumed>)             = 0
101 ???( <unfinished ...>
101 [ Process PID=101 runs in 64 bit mode. ]
101 arch_prctl(ARCH_SET_FS, 0x5f)      = 0
101 vfork( <unfinished ...>
105 [ Process PID=105 runs in 32 bit mode. ]
105 getppid()                          = 1
101 <... vfork resumed>)               = 4 /* 105 in strace's PID NS */
105 --- SIGTERM {si_signo=SIGTERM} ---
105 exit_group(0)                      = ?
100 <... epoll_wait resumed>[], 128, 0) = 0
100 wait4(101, NULL, 0, NULL)          = 101
`

func TestPairsAfterExec(t *testing.T) {
	trace, err := parseStrace(strings.NewReader(containerStart+"garbage\n"), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	// The workload: the 32-bit program and its thread, which inherits the mode without a
	// mark, then 64-bit again after the thread's execve, which strace ends under the leader's
	// PID. Of the reused PID 105 only the vfork child counts, not the earlier newuidmap.
	workload := map[pair]uint64{
		{"x86", "mmap2"}:           1,
		{"x86", "clone"}:           1,
		{"x86", "set_thread_area"}: 1,
		{"x86", "execve"}:          1,
		{"x86_64", "arch_prctl"}:   1,
		{"x86_64", "vfork"}:        1,
		{"x86", "getppid"}:         1,
		{"x86", "exit_group"}:      1,
	}
	// From iotfleet-init on: also its thread, its clone and its execve of the workload.
	all := maps.Clone(workload)
	all[pair{"x86_64", "gettid"}] = 1
	all[pair{"x86_64", "futex"}] = 1
	all[pair{"x86_64", "clone"}] = 1
	all[pair{"x86_64", "execve"}] = 1

	for _, tt := range []struct {
		exec int
		want map[pair]uint64
	}{{workloadExec, workload}, {initExec, all}} {
		got, undecoded, err := trace.pairsAfterExec(tt.exec)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, tt.want) {
			t.Errorf("pairs after execve %d:\n got %v\nwant %v", tt.exec, sortedPairs(got), sortedPairs(tt.want))
		}
		if undecoded != 1 {
			t.Errorf("undecoded calls after execve %d = %d, want 1", tt.exec, undecoded)
		}
	}
	if len(trace.unparsed) != 1 || trace.unparsed[0] != "garbage" {
		t.Errorf("unparsed lines %q, want [garbage]", trace.unparsed)
	}
}

func TestResumedMatchesPendingName(t *testing.T) {
	output := "100 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>\n" +
		"100 <... wait4 resumed>, NULL, 0, NULL) = 101\n"
	trace, err := parseStrace(strings.NewReader(output), "x86_64")
	if err != nil {
		t.Fatal(err)
	}
	if len(trace.creators) != 0 {
		t.Errorf("creators = %v, want none: wait4's result is not clone's", trace.creators)
	}
}

func TestPairsAfterExecErrors(t *testing.T) {
	tests := []struct {
		name   string
		output string
		want   string
	}{
		{
			name:   "no new PID namespace",
			output: "100 clone3({flags=CLONE_NEWUSER}, 88) = 101\n101 execve(\"/init\", [], 0x5) = 0\n",
			want:   "no clone with CLONE_NEWPID",
		},
		{
			name:   "init never executed",
			output: "100 clone3({flags=CLONE_NEWPID}, 88) = 101\n101 execve(\"/init\", [], 0x5) = -1 ENOENT (No such file)\n",
			want:   "it made 0",
		},
		{
			name:   "init executed no workload",
			output: "100 clone3({flags=CLONE_NEWPID}, 88) = 101\n101 execve(\"/init\", [], 0x5) = 0\n",
			want:   "execve number 2 of the container's init (PID 101) in strace output: it made 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trace, err := parseStrace(strings.NewReader(tt.output), "x86_64")
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = trace.pairsAfterExec(workloadExec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("pairsAfterExec() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func sortedPairs(counts map[pair]uint64) []string {
	var list []string
	for p, n := range counts {
		list = append(list, p.String()+"="+strings.Repeat("|", int(n)))
	}
	slices.Sort(list)
	return list
}
