//go:build linux

package record_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

const shellWorkload = "ls /; cat /etc/passwd | wc -l"

func TestRecordContainerStart(t *testing.T) {
	d := startDevice(t)
	d.createContainer("shell", false, "/bin/sh", "-c", shellWorkload)

	state := d.record(protocol.RecordingRunParams{Name: "shell", Container: "shell", DurationSeconds: 30, Runs: 2})

	result := state.Result
	if result.Mechanism != protocol.MechanismPtrace || result.Workload != protocol.WorkloadStart {
		t.Errorf("mechanism %q, workload %q; want ptrace and start", result.Mechanism, result.Workload)
	}
	if len(result.Runs) != 2 || result.Coverage.Runs != 2 {
		t.Fatalf("runs = %+v, coverage %+v; want 2 runs", result.Runs, result.Coverage)
	}
	for i, run := range result.Runs {
		if run.Outcome != protocol.RunExited || run.Calls == 0 {
			t.Errorf("run %d = %+v; want the workload to exit by itself after recorded calls", i+1, run)
		}
	}
	native := result.Arch
	recorded := names(state, native)
	// getdents64 comes from ls and wait4 from the shell, both children of the container's init.
	for _, want := range []string{"execve", "getdents64", "wait4"} {
		if recorded[want] == 0 {
			t.Errorf("%s:%s not recorded; recorded %v", native, want, keys(recorded))
		}
	}
	if recorded["pipe"] == 0 && recorded["pipe2"] == 0 {
		t.Errorf("neither pipe nor pipe2 recorded for the shell's pipeline; recorded %v", keys(recorded))
	}
	// LXC's own setup before the init's exec is not the workload's.
	for _, setup := range []string{"pivot_root", "mount", "unshare"} {
		if recorded[setup] != 0 {
			t.Errorf("recorded %s, which only LXC calls before it executes the container's init", setup)
		}
	}

	t.Run("stored", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(d.Dir, "iotfleet", "recordings", "shell", "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != state.SHA256 {
			t.Errorf("sha256 of result.json %x, want %s", sum, state.SHA256)
		}
		var got protocol.RecordingState
		d.do(protocol.OpRecordingGet, protocol.RecordingName{Name: "shell"}, &got)
		if got.SHA256 != state.SHA256 || len(got.Result.Syscalls[native]) != len(result.Syscalls[native]) {
			t.Errorf("get returned sha256 %s with %d names, want %s with %d", got.SHA256,
				len(got.Result.Syscalls[native]), state.SHA256, len(result.Syscalls[native]))
		}
	})
	t.Run("compared with strace", func(t *testing.T) {
		compareWithStrace(t, d, recorded)
	})
	t.Run("delete", func(t *testing.T) {
		var deleted protocol.RecordingDeleteResult
		d.do(protocol.OpRecordingDelete, protocol.RecordingName{Name: "shell"}, &deleted)
		if !deleted.Deleted {
			t.Error("delete reported nothing deleted")
		}
		err := d.call(protocol.OpRecordingGet, protocol.RecordingName{Name: "shell"}, nil)
		if err == nil || err.Code != protocol.CodeNotFound {
			t.Errorf("get after delete = %v, want not_found", err)
		}
	})
}

// compareWithStrace runs the workload under strace -f, chrooted into the container's rootfs
// in a mount namespace of its own, and logs the names that only one of the two saw. strace also sees the
// chroot and exec steps that the container's init does not make, and iotfleet-init's own calls
// are missing from it.
func compareWithStrace(t *testing.T, d *testDevice, recorded map[string]uint64) {
	if _, err := exec.LookPath("strace"); err != nil {
		t.Skip("strace is missing")
	}
	// The container's /bin is a bind mount of the shared busybox base, which LXC makes at start.
	bins, _ := filepath.Glob(filepath.Join(d.Dir, "iotfleet", "images", "*", "bin"))
	if len(bins) != 1 {
		t.Fatalf("found busybox bin folders %v, want one", bins)
	}
	out := filepath.Join(t.TempDir(), "strace.out")
	script := `mount --bind "$1" "$2/bin" && exec strace -f -qq -o "$3" chroot "$2" /bin/sh -c "$4"`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
		bins[0], d.rootfs("shell"), out, shellWorkload)
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strace: %v\n%s", err, output)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	straced := stracedNames(string(data))
	var onlyStrace, onlyRecorded []string
	for name := range straced {
		if recorded[name] == 0 {
			onlyStrace = append(onlyStrace, name)
		}
	}
	for name := range recorded {
		if !straced[name] {
			onlyRecorded = append(onlyRecorded, name)
		}
	}
	sort.Strings(onlyStrace)
	sort.Strings(onlyRecorded)
	t.Logf("strace -f saw %d names, the recording %d; only strace: %v; only the recording: %v",
		len(straced), len(recorded), onlyStrace, onlyRecorded)
	for _, name := range onlyStrace {
		t.Errorf("strace saw %s in the workload, the recording did not", name)
	}
}

// stracedNames returns the syscall names in strace -f output, leaving out those of the first
// process before it executes /bin/sh: the host's chroot, which is not part of the workload.
func stracedNames(output string) map[string]bool {
	line := regexp.MustCompile(`^(\d+)\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]`)
	names := map[string]bool{}
	first, inWorkload := "", false
	for _, text := range strings.Split(output, "\n") {
		m := line.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		if first == "" {
			first = m[1]
		}
		if m[1] == first && !inWorkload {
			inWorkload = strings.Contains(text, `execve("/bin/sh"`)
			if !inWorkload {
				continue
			}
		}
		names[m[2]] = true
	}
	return names
}

func TestRecordCompatProgram(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skipf("the i386 compat ABI exists only on x86_64, not on %s", runtime.GOARCH)
	}
	d := startDevice(t)
	d.createContainer("compat", false, "/compat")
	program := buildCompat(t)
	if err := os.WriteFile(filepath.Join(d.rootfs("compat"), "compat"), program, 0o755); err != nil {
		t.Fatalf("copy the i386 program into the rootfs: %v", err)
	}

	state := d.record(protocol.RecordingRunParams{Name: "compat", Container: "compat", DurationSeconds: 30})

	x86 := names(state, "x86")
	if x86["getppid"] < 5 {
		t.Errorf("x86:getppid counted %d times, want at least 5; x86 names %v", x86["getppid"], keys(x86))
	}
	if names(state, "x86_64")["execve"] == 0 {
		t.Errorf("x86_64:execve of iotfleet-init not recorded")
	}
}

// buildCompat builds a static i386 program that calls getppid 5 times.
func buildCompat(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	source := "package main\n\nimport \"syscall\"\n\nfunc main() {\n\tfor i := 0; i < 5; i++ {\n\t\tsyscall.Getppid()\n\t}\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module compat\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", "compat", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=386", "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build i386 program: %v\n%s", err, output)
	}
	data, err := os.ReadFile(filepath.Join(dir, "compat"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRecordHungStartTimesOut(t *testing.T) {
	d := startDevice(t)
	// PID 1 ignores SIGTERM, so lxc-stop waits its full grace and the timeout comes first.
	d.createContainer("hung", false, "/bin/sh", "-c", "trap '' TERM; ls /; sleep 1000")

	start := time.Now()
	state := d.record(protocol.RecordingRunParams{Name: "hung", Container: "hung", DurationSeconds: 1, TimeoutSeconds: 4})
	elapsed := time.Since(start)

	if run := state.Result.Runs[0]; run.Outcome != protocol.RunTimedOut {
		t.Errorf("outcome %q, want %q", run.Outcome, protocol.RunTimedOut)
	}
	if elapsed > 20*time.Second {
		t.Errorf("recording took %s, want the 4 s timeout plus cleanup", elapsed)
	}
	if names(state, state.Result.Arch)["getdents64"] == 0 {
		t.Error("calls before the timeout were not kept")
	}
	var container protocol.ContainerState
	d.do(protocol.OpContainerGet, protocol.ContainerName{Name: "hung"}, &container)
	if container.State != "STOPPED" {
		t.Errorf("container state %s after the timeout, want STOPPED", container.State)
	}
	leftovers, err := cgroup.Leftovers("hung")
	if err != nil {
		t.Fatal(err)
	}
	if len(leftovers) > 0 {
		t.Errorf("cgroups left behind: %v", leftovers)
	}
	checkNoProcess(t, "sleep\x001000")
	checkNoProcess(t, "lxc-start\x00-F\x00-n\x00hung")
}

func TestRecordHungCommandTimesOut(t *testing.T) {
	d := startDevice(t)
	d.createContainer("idle", true)

	state := d.record(protocol.RecordingRunParams{
		Name: "cmd", Container: "idle", Command: []string{"sleep", "999"}, TimeoutSeconds: 2,
	})

	if run := state.Result.Runs[0]; run.Outcome != protocol.RunTimedOut {
		t.Errorf("outcome %q, want %q", run.Outcome, protocol.RunTimedOut)
	}
	if names(state, state.Result.Arch)["nanosleep"] == 0 && names(state, state.Result.Arch)["clock_nanosleep"] == 0 {
		t.Errorf("sleep's nanosleep not recorded: %v", keys(names(state, state.Result.Arch)))
	}
	checkNoProcess(t, "sleep\x00999")
	var container protocol.ContainerState
	d.do(protocol.OpContainerGet, protocol.ContainerName{Name: "idle"}, &container)
	if container.State != "RUNNING" {
		t.Errorf("container state %s after the command's timeout, want RUNNING", container.State)
	}
}

func TestRecordRejectsWrongState(t *testing.T) {
	d := startDevice(t)
	d.createContainer("up", true)

	err := d.call(protocol.OpRecordingRun, protocol.RecordingRunParams{Name: "r", Container: "up", DurationSeconds: 1}, nil)
	if err == nil || err.Code != protocol.CodeConflict {
		t.Errorf("start recording of a running container = %v, want conflict", err)
	}
	err = d.call(protocol.OpRecordingRun, protocol.RecordingRunParams{Name: "r", Container: "absent", DurationSeconds: 1}, nil)
	if err == nil || err.Code != protocol.CodeNotFound {
		t.Errorf("recording of a missing container = %v, want not_found", err)
	}
}

// checkNoProcess fails the test when a process whose command line contains cmdline still runs.
func checkNoProcess(t *testing.T, cmdline string) {
	t.Helper()
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, entry := range entries {
		data, err := os.ReadFile(entry)
		if err == nil && strings.Contains(string(data), cmdline) {
			t.Errorf("process %s (%q) is left behind", filepath.Base(filepath.Dir(entry)),
				strings.ReplaceAll(string(data), "\x00", " "))
		}
	}
}

func keys(set map[string]uint64) []string {
	list := make([]string, 0, len(set))
	for name := range set {
		list = append(list, name)
	}
	sort.Strings(list)
	return list
}
