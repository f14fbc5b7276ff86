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

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
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

// testCgroup creates an empty cgroup v2 below the test's own and removes it when the test ends.
func testCgroup(t *testing.T) string {
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
