//go:build linux

package record

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// SkipUnderEmulation skips the test under qemu-user, which runs the cross-built tests but
// emulates neither ptrace nor the creation of namespaces for the programs it runs.
func SkipUnderEmulation(t *testing.T) {
	t.Helper()
	probe := exec.Command("true")
	probe.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS}
	if err := probe.Run(); err != nil {
		t.Skipf("cannot create namespaces here (%v), so nothing can be traced in containers", err)
	}
}

// requireTracing skips the test unless it can create PID namespaces and trace them.
func requireTracing(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a PID namespace and load a seccomp filter without no_new_privs")
	}
	SkipUnderEmulation(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) is missing")
	}
	if err := exec.Command(unshare, "--pid", "--fork", "true").Run(); err != nil {
		t.Skipf("cannot create a PID namespace here: %v", err)
	}
	return unshare
}

// traceInNamespace traces script run by sh as PID 1 of a new PID namespace, which
// SelectContainerInit selects as it selects a container's init.
func traceInNamespace(t *testing.T, unshare, script string) (Trace, map[string]uint64) {
	t.Helper()
	started, err := Start([]string{unshare, "--pid", "--fork", "--mount-proc", "/bin/sh", "-c", script},
		os.Stderr, SelectContainerInit)
	if err != nil {
		t.Fatalf("start trace: %v", err)
	}
	select {
	case <-started.Done():
	case <-time.After(time.Minute):
		started.KillAll()
		t.Fatal("traced script did not exit within a minute")
	}
	trace, err := started.Result()
	if err != nil {
		t.Fatalf("trace: %v", err)
	}
	names := map[string]uint64{}
	for call, count := range trace.Counts {
		abi, name, ok := call.Name()
		if !ok {
			t.Errorf("unnamed syscall %d of ABI %s", call.Number, abi)
			continue
		}
		names[abi+":"+name] += count
	}
	return trace, names
}

func TestTraceFollowsChildren(t *testing.T) {
	unshare := requireTracing(t)
	trace, names := traceInNamespace(t, unshare, "ls / >/dev/null; cat /etc/passwd | wc -l >/dev/null")
	native := nativeABI(t)

	if !trace.Status.Exited() || trace.Status.ExitStatus() != 0 {
		t.Errorf("unshare status = %v, want exit 0", trace.Status)
	}
	// getdents64 comes from ls, a child of the shell; pipe2 from the shell's pipeline; wait4
	// from the shell waiting for its children.
	for _, want := range []string{"getdents64", "pipe2", "execve", "wait4"} {
		if names[native+":"+want] == 0 {
			t.Errorf("trace lacks %s; recorded: %v", want, names)
		}
	}
	// unshare calls unshare(2) before it forks PID 1 of the namespace, so it is not selected.
	if names[native+":unshare"] != 0 {
		t.Errorf("trace counted unshare(2), which only the unselected parent calls")
	}
	if trace.Processes < 4 {
		t.Errorf("followed %d processes, want at least unshare, sh, ls, cat and wc", trace.Processes)
	}
}

// buildProgram builds a static Go program for goarch from source and returns its path.
func buildProgram(t *testing.T, source, goarch string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/main.go", []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/go.mod", []byte("module compat\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", dir+"/compat", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s program: %v\n%s", goarch, err, output)
	}
	return dir + "/compat"
}

// compatSource is a 32-bit program whose getppid calls are easy to tell apart.
const compatSource = `package main

import "syscall"

func main() {
	for i := 0; i < 5; i++ {
		syscall.Getppid()
	}
}
`

func TestTraceRecordsCompatABI(t *testing.T) {
	unshare := requireTracing(t)
	if runtime.GOARCH != "amd64" {
		t.Skipf("the i386 compat ABI exists only on x86_64, not on %s", runtime.GOARCH)
	}
	program := buildProgram(t, compatSource, "386")
	trace, names := traceInNamespace(t, unshare, "exec "+program)

	if !trace.Status.Exited() || trace.Status.ExitStatus() != 0 {
		t.Fatalf("unshare status = %v, want exit 0 (does this kernel run i386 programs?)", trace.Status)
	}
	if names["x86:getppid"] < 5 {
		t.Errorf("x86:getppid counted %d times, want at least 5; recorded: %v", names["x86:getppid"], names)
	}
	// The i386 program's first call after exec; on the x86_64 table, its number is another call.
	if names["x86:execve"] != 0 || names["x86_64:execve"] == 0 {
		t.Errorf("execve: x86 %d, x86_64 %d; want it under x86_64 only, where sh executed it",
			names["x86:execve"], names["x86_64:execve"])
	}
}

// nativeABI returns the seccomp ABI name of this machine.
func nativeABI(t *testing.T) string {
	t.Helper()
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		t.Fatal(err)
	}
	arch, err := seccomp.ArchForMachine(unix.ByteSliceToString(uts.Machine[:]))
	if err != nil {
		t.Skip(err)
	}
	return string(arch)
}

// loopSource calls getppid the number of times in its first argument and prints the
// nanoseconds per call.
const loopSource = `package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	start := time.Now()
	for i := 0; i < n; i++ {
		syscall.Getppid()
	}
	fmt.Fprintln(os.Stderr, time.Since(start).Nanoseconds()/int64(n))
}
`

func TestTraceOverhead(t *testing.T) {
	unshare := requireTracing(t)
	if testing.Short() {
		t.Skip("builds a program and measures it; skipped in -short mode")
	}
	program := buildProgram(t, loopSource, runtime.GOARCH)
	const calls = 200000

	untraced, err := exec.Command(program, strconv.Itoa(calls)).CombinedOutput()
	if err != nil {
		t.Fatalf("run untraced: %v\n%s", err, untraced)
	}
	tracedOutput := filepath.Join(t.TempDir(), "traced")
	file, err := os.Create(tracedOutput)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	started, err := Start([]string{unshare, "--pid", "--fork", program, strconv.Itoa(calls)}, file, SelectContainerInit)
	if err != nil {
		t.Fatal(err)
	}
	trace, err := started.Result()
	if err != nil {
		t.Fatal(err)
	}
	traced, _ := os.ReadFile(tracedOutput)
	var getppid uint64
	for call, count := range trace.Counts {
		if _, name, _ := call.Name(); name == "getppid" {
			getppid += count
		}
	}
	if getppid < calls {
		t.Errorf("counted %d getppid calls, want at least %d", getppid, calls)
	}
	t.Logf("getppid: %s ns per call untraced, %s ns traced", strings.TrimSpace(string(untraced)),
		strings.TrimSpace(string(traced)))
}
