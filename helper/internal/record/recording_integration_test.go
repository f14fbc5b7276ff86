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

// shellWorkload sleeps only when its echo to standard output succeeds.
const shellWorkload = "ls /; cat /etc/passwd | wc -l; echo listed && sleep 0.01"

func TestRecordContainerStart(t *testing.T) {
	d := startDevice(t)
	d.createContainer("shell", false, "/bin/sh", "-c", shellWorkload)

	recorded := map[string]map[string]uint64{}
	for _, mechanism := range mechanisms(t) {
		t.Run(mechanism, func(t *testing.T) {
			recorded[mechanism] = checkShellRecording(t, d.forTest(t), mechanism)
		})
	}
	// The eBPF recorder counts from the workload's exec, ptrace from the exec of
	// iotfleet-init before it, so ptrace records every name that eBPF records.
	ebpfNames, ptraceNames := recorded[protocol.MechanismEBPF], recorded[protocol.MechanismPtrace]
	if ebpfNames != nil && ptraceNames != nil {
		for name := range ebpfNames {
			if ptraceNames[name] == 0 {
				t.Errorf("eBPF recorded %s, which ptrace did not; ptrace recorded %v", name, keys(ptraceNames))
			}
		}
	}
}

// checkShellRecording records shellWorkload with mechanism, checks the result and returns the
// recorded native names.
func checkShellRecording(t *testing.T, d *testDevice, mechanism string) map[string]uint64 {
	name := "shell-" + mechanism
	state := d.record(protocol.RecordingRunParams{Name: name, Container: "shell", DurationSeconds: 30, Runs: 2,
		Mechanism: mechanism})

	result := state.Result
	if result.Mechanism != mechanism || result.Workload != protocol.WorkloadStart {
		t.Errorf("mechanism %q, workload %q; want %s and start", result.Mechanism, result.Workload, mechanism)
	}
	if len(result.Runs) != 2 || result.Coverage.Runs != 2 {
		t.Fatalf("runs = %+v, coverage %+v; want 2 runs", result.Runs, result.Coverage)
	}
	for i, run := range result.Runs {
		if run.Outcome != protocol.RunExited || run.Calls == 0 || run.Processes < 2 {
			t.Errorf("run %d = %+v; want the workload to exit by itself after recorded calls of 2 or more processes", i+1, run)
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
	if recorded["nanosleep"] == 0 && recorded["clock_nanosleep"] == 0 {
		t.Errorf("no sleep recorded, so the workload's echo to standard output failed; recorded %v", keys(recorded))
	}
	// LXC's own setup before the init's exec is not the workload's.
	for _, setup := range []string{"pivot_root", "mount", "unshare"} {
		if recorded[setup] != 0 {
			t.Errorf("recorded %s, which only LXC calls before it executes the container's init", setup)
		}
	}

	t.Run("stored", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(d.Dir, "iotfleet", "recordings", name, "result.json"))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if hex.EncodeToString(sum[:]) != state.SHA256 {
			t.Errorf("sha256 of result.json %x, want %s", sum, state.SHA256)
		}
		var got protocol.RecordingState
		d.forTest(t).do(protocol.OpRecordingGet, protocol.RecordingName{Name: name}, &got)
		if got.SHA256 != state.SHA256 || len(got.Result.Syscalls[native]) != len(result.Syscalls[native]) {
			t.Errorf("get returned sha256 %s with %d names, want %s with %d", got.SHA256,
				len(got.Result.Syscalls[native]), state.SHA256, len(result.Syscalls[native]))
		}
	})
	t.Run("compared with strace", func(t *testing.T) {
		compareWithStrace(t, d, recorded)
	})
	t.Run("delete", func(t *testing.T) {
		d := d.forTest(t)
		var deleted protocol.RecordingDeleteResult
		d.do(protocol.OpRecordingDelete, protocol.RecordingName{Name: name}, &deleted)
		if !deleted.Deleted {
			t.Error("delete reported nothing deleted")
		}
		err := d.call(protocol.OpRecordingGet, protocol.RecordingName{Name: name}, nil)
		if err == nil || err.Code != protocol.CodeNotFound {
			t.Errorf("get after delete = %v, want not_found", err)
		}
	})
	checkNoBPFHeld(t, d)
	return recorded
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

	for _, mechanism := range mechanisms(t) {
		t.Run(mechanism, func(t *testing.T) {
			state := d.forTest(t).record(protocol.RecordingRunParams{Name: "compat-" + mechanism, Container: "compat",
				DurationSeconds: 30, Mechanism: mechanism})

			x86 := names(state, "x86")
			if x86["getppid"] < 5 {
				t.Errorf("x86:getppid counted %d times, want at least 5; x86 names %v", x86["getppid"], keys(x86))
			}
			if names(state, "x86_64")["execve"] == 0 {
				t.Errorf("x86_64:execve of the workload not recorded")
			}
			if names(state, "x86_64")["getppid"] != 0 {
				t.Errorf("x86_64:getppid recorded, which only the i386 program calls, under x86")
			}
		})
	}
}

// buildCompat builds a static i386 program that calls getppid 5 times.
func buildCompat(t *testing.T) []byte {
	t.Helper()
	source := "package main\n\nimport \"syscall\"\n\nfunc main() {\n\tfor i := 0; i < 5; i++ {\n\t\tsyscall.Getppid()\n\t}\n}\n"
	return buildGo(t, source, "386")
}

// buildGo builds a static Go program for goarch from source and returns the binary.
func buildGo(t *testing.T, source, goarch string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module workload\n\ngo 1.21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", "workload", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s program: %v\n%s", goarch, err, output)
	}
	data, err := os.ReadFile(filepath.Join(dir, "workload"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRecordHungStartTimesOut(t *testing.T) {
	d := startDevice(t)
	// PID 1 ignores SIGTERM, so lxc-stop waits its full grace and the timeout comes first.
	d.createContainer("hung", false, "/bin/sh", "-c", "trap '' TERM; ls /; sleep 1000")

	for _, mechanism := range mechanisms(t) {
		t.Run(mechanism, func(t *testing.T) {
			d := d.forTest(t)
			start := time.Now()
			state := d.record(protocol.RecordingRunParams{Name: "hung-" + mechanism, Container: "hung",
				DurationSeconds: 1, TimeoutSeconds: 4, Mechanism: mechanism})
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
			checkNoBPFHeld(t, d)
		})
	}
}

func TestRecordHungCommandTimesOut(t *testing.T) {
	d := startDevice(t)
	d.createContainer("idle", true)

	for _, mechanism := range mechanisms(t) {
		t.Run(mechanism, func(t *testing.T) {
			d := d.forTest(t)
			state := d.record(protocol.RecordingRunParams{
				Name: "cmd-" + mechanism, Container: "idle", Command: []string{"sleep", "999"}, TimeoutSeconds: 2,
				Mechanism: mechanism,
			})

			if run := state.Result.Runs[0]; run.Outcome != protocol.RunTimedOut {
				t.Errorf("outcome %q, want %q", run.Outcome, protocol.RunTimedOut)
			}
			recorded := names(state, state.Result.Arch)
			if recorded["nanosleep"] == 0 && recorded["clock_nanosleep"] == 0 {
				t.Errorf("sleep's nanosleep not recorded: %v", keys(recorded))
			}
			checkNoProcess(t, "sleep\x00999")
			var container protocol.ContainerState
			d.do(protocol.OpContainerGet, protocol.ContainerName{Name: "idle"}, &container)
			if container.State != "RUNNING" {
				t.Errorf("container state %s after the command's timeout, want RUNNING", container.State)
			}
			checkNoRecordingCgroup(t, "idle")
			checkNoBPFHeld(t, d)
		})
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
