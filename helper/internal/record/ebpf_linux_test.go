//go:build linux

package record

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// TestEBPFCountsChildCgroup runs the getppid loop in a cgroup of its own with the programs
// attached, checks the count and logs the cost per call against an unrecorded run.
func TestEBPFCountsChildCgroup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program and measures it; skipped in -short mode")
	}
	arch := nativeArch(t)
	counter := loadForTest(t, arch)
	program := buildProgram(t, loopSource, runtime.GOARCH)
	const calls = 200000

	untraced, err := exec.Command(program, strconv.Itoa(calls)).CombinedOutput()
	if err != nil {
		t.Fatalf("run unrecorded: %v\n%s", err, untraced)
	}

	dir := testCgroup(t)
	if err := counter.selectCgroup(dir); err != nil {
		t.Fatal(err)
	}
	if err := counter.attach(); err != nil {
		t.Fatal(err)
	}
	cgroupFD, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cgroupFD)
	cmd := exec.Command(program, strconv.Itoa(calls))
	// CLONE_INTO_CGROUP starts the child in the cgroup, so its exec opens the gate.
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cgroupFD}
	recorded, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run recorded: %v\n%s", err, recorded)
	}

	trace, err := counter.trace()
	if err != nil {
		t.Fatal(err)
	}
	var getppid uint64
	for call, count := range trace.Counts {
		if _, name, _ := call.Name(); name == "getppid" {
			getppid += count
		}
	}
	if getppid < calls {
		t.Errorf("counted %d getppid calls, want at least %d", getppid, calls)
	}
	if trace.Processes < 2 {
		t.Errorf("processes = %d, want the program and its Go runtime threads", trace.Processes)
	}
	t.Logf("getppid: %s ns per call unrecorded, %s ns recorded with eBPF", strings.TrimSpace(string(untraced)),
		strings.TrimSpace(string(recorded)))
}

// BenchmarkSysEnter times a getppid call untraced and with a program on sys_enter: one that does
// nothing, which is the least that the recorder can cost, and the recorder's, for a task outside
// the selected cgroup and for one in it. It needs root.
func BenchmarkSysEnter(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root to load BPF programs")
	}
	arch, _, err := kernelArch()
	if err != nil {
		b.Skip(err)
	}
	counter, err := loadEBPF(arch)
	if err != nil {
		b.Fatal(err)
	}
	defer counter.Close()

	// The gate opens at an exec, which the benchmark does not make.
	if err := counter.collection.Maps[gateMapName].Put(uint32(0), gateValue{State: gateOpen}); err != nil {
		b.Fatal(err)
	}
	noop, err := ebpf.NewProgram(counter.abi.program("iotf_noop", exitInstructions()))
	if err != nil {
		b.Fatal(err)
	}
	defer noop.Close()

	mount, err := cgroup.UnifiedMountPoint()
	if err != nil {
		b.Skip(err)
	}
	own, err := cgroup.UnifiedDir(mount, os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	recorder := counter.collection.Programs[sysEnterProgName]
	cases := []struct {
		name     string
		program  *ebpf.Program
		selected string
	}{
		{"untraced", nil, ""},
		{"noop_program", noop, ""},
		{"task_outside_selection", recorder, testCgroup(b)},
		{"selected_task", recorder, own},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			if c.selected != "" {
				if err := counter.selectCgroup(c.selected); err != nil {
					b.Fatal(err)
				}
			}
			benchmarkGetppid(b, c.program)
		})
	}
}

// benchmarkGetppid times getppid with program attached to sys_enter, or with none for nil.
func benchmarkGetppid(b *testing.B, program *ebpf.Program) {
	if program != nil {
		attached, err := link.AttachRawTracepoint(link.RawTracepointOptions{Name: "sys_enter", Program: program})
		if err != nil {
			b.Fatal(err)
		}
		defer attached.Close()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for b.Loop() {
		unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	}
}

// TestEBPFCompatAfterExec makes a 64-bit process in the selected cgroup exec an i386 program,
// on one CPU, so the verdict cached for the process before the exec would count the program's
// calls under x86_64 unless the exec invalidates it.
func TestEBPFCompatAfterExec(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program; skipped in -short mode")
	}
	if runtime.GOARCH != "amd64" {
		t.Skipf("the i386 compat ABI exists only on x86_64, not on %s", runtime.GOARCH)
	}
	counter := loadForTest(t, nativeArch(t))
	program := buildProgram(t, loopSource, "386")
	dir := testCgroup(t)
	if err := counter.selectCgroup(dir); err != nil {
		t.Fatal(err)
	}
	if err := counter.attach(); err != nil {
		t.Fatal(err)
	}

	const calls = 1000
	cmd := exec.Command(program, strconv.Itoa(calls))
	runPinned(t, func() {
		cgroupFD := openCgroup(t, dir)
		defer unix.Close(cgroupFD)
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: cgroupFD}
		if output, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("run the i386 program: %v\n%s", err, output)
		}
	})

	trace, err := counter.trace()
	if err != nil {
		t.Fatal(err)
	}
	for call, count := range trace.Counts {
		if abi, name, _ := call.Name(); abi == string(seccomp.ArchX86_64) && name != "execve" {
			t.Errorf("counted x86_64:%s %d times, which only the i386 program made", name, count)
		}
	}
	if n := namedCount(trace, "getppid"); n < calls {
		t.Errorf("counted %d getppid calls, want at least %d", n, calls)
	}
}

// TestEBPFCountsTaskMovedIntoCgroup moves a process into the selected cgroup while it calls
// getppid on one CPU, each call caching its verdict, and lets it exec the getppid loop right
// after. The exec opens the gate, and so the loop is counted, only if the verdict cached before
// the move is invalidated. A fork or exec elsewhere on the machine in the microseconds between
// the move and the exec invalidates it too. So the test can pass without the invalidation at
// the move, but it failed in 10 of 10 runs without it on the build VM.
func TestEBPFCountsTaskMovedIntoCgroup(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs; skipped in -short mode")
	}
	counter := loadForTest(t, nativeArch(t))
	loop := buildProgram(t, loopSource, runtime.GOARCH)
	spinner := buildProgram(t, spinnerSource, runtime.GOARCH)
	flags := sharedFlags(t)
	dir := testCgroup(t)
	if err := counter.selectCgroup(dir); err != nil {
		t.Fatal(err)
	}
	if err := counter.attach(); err != nil {
		t.Fatal(err)
	}

	const calls = 1000
	cmd := exec.Command(spinner, flags.path, loop, strconv.Itoa(calls))
	runPinned(t, func() {
		if err := cmd.Start(); err != nil {
			t.Fatalf("start the spinning program: %v", err)
		}
	})
	// The program spins until released, so a test that fails before the release kills it.
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	flags.waitReady(t)
	procs := filepath.Join(dir, "cgroup.procs")
	if err := os.WriteFile(procs, []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
		t.Fatalf("move the spinning program into %s: %v", dir, err)
	}
	flags.release()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run the spinning program: %v", err)
	}

	trace, err := counter.trace()
	if err != nil {
		t.Fatal(err)
	}
	if n := namedCount(trace, "getppid"); n < calls {
		t.Errorf("counted %d getppid calls, want at least %d", n, calls)
	}
}

// spinnerSource maps the file in its first argument, sets the file's second word to 1, and
// calls getppid until the first word is not 0. Then it execs the program in its second
// argument with the arguments after it.
const spinnerSource = `package main

import (
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The gate follows the executing thread by its ID, which an exec on another thread than the
// main one changes to the process ID.
func init() {
	runtime.LockOSThread()
}

func main() {
	file, err := os.OpenFile(os.Args[1], os.O_RDWR, 0)
	if err != nil {
		panic(err)
	}
	shared, err := syscall.Mmap(int(file.Fd()), 0, 8, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		panic(err)
	}
	release := (*uint32)(unsafe.Pointer(&shared[0]))
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&shared[4])), 1)
	for atomic.LoadUint32(release) == 0 {
		syscall.Getppid()
	}
	panic(syscall.Exec(os.Args[2], os.Args[2:], nil))
}
`

// spinnerFlags is the file that the test shares with the spinnerSource program.
type spinnerFlags struct {
	path   string
	shared []byte
}

func sharedFlags(t *testing.T) *spinnerFlags {
	t.Helper()
	path := filepath.Join(t.TempDir(), "flags")
	if err := os.WriteFile(path, make([]byte, 8), 0o600); err != nil {
		t.Fatal(err)
	}
	file, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	shared, err := unix.Mmap(int(file.Fd()), 0, 8, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Munmap(shared) })
	return &spinnerFlags{path: path, shared: shared}
}

// waitReady waits until the program spins.
func (f *spinnerFlags) waitReady(t *testing.T) {
	t.Helper()
	ready := (*uint32)(unsafe.Pointer(&f.shared[4]))
	deadline := time.Now().Add(10 * time.Second)
	for atomic.LoadUint32(ready) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the spinning program did not start within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// release makes the program exec.
func (f *spinnerFlags) release() {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&f.shared[0])), 1)
}

// runPinned runs start on a thread bound to one CPU, so the processes that it starts inherit
// that CPU and keep to one CPU's verdict cache.
func runPinned(t *testing.T, start func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &all); err != nil {
		t.Fatal(err)
	}
	for cpu := 0; cpu < len(all)*64; cpu++ {
		if all.IsSet(cpu) {
			one.Set(cpu)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unix.SchedSetaffinity(0, &all); err != nil {
			t.Error(err)
		}
	}()
	start()
}

func openCgroup(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// namedCount returns the count of the calls named name, under any ABI.
func namedCount(trace Trace, name string) uint64 {
	var sum uint64
	for call, count := range trace.Counts {
		if _, callName, _ := call.Name(); callName == name {
			sum += count
		}
	}
	return sum
}

// testCgroup creates an empty cgroup v2 below the test's own and removes it when the test ends.
func testCgroup(t testing.TB) string {
	t.Helper()
	mount, err := cgroup.UnifiedMountPoint()
	if err != nil {
		t.Skip(err)
	}
	parent, err := cgroup.UnifiedDir(mount, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "iotf-record-test-"+strconv.Itoa(os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("create test cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := cgroup.Remove(dir); err != nil {
			t.Error(err)
		}
	})
	return dir
}
