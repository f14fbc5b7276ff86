//go:build linux

package record_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestRecordCommand(t *testing.T) {
	d := startDevice(t)
	// The container's own workload calls sync, which the recorded command never does.
	d.createContainer("busy", true, "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sync; sleep 0.1; done")

	for _, mechanism := range mechanisms(t) {
		t.Run(mechanism, func(t *testing.T) {
			d := d.forTest(t)
			state := d.record(protocol.RecordingRunParams{
				Name: "ls-" + mechanism, Container: "busy", Command: []string{"sh", "-c", shellWorkload},
				Mechanism: mechanism,
			})

			result := state.Result
			if result.Mechanism != mechanism || result.Workload != protocol.WorkloadCommand {
				t.Errorf("mechanism %q, workload %q; want %s and command", result.Mechanism, result.Workload, mechanism)
			}
			if run := result.Runs[0]; run.Outcome != protocol.RunExited || run.ExitCode != 0 {
				t.Errorf("run = %+v, want the command to exit with 0", run)
			}
			recorded := names(state, result.Arch)
			for _, want := range []string{"execve", "getdents64", "wait4"} {
				if recorded[want] == 0 {
					t.Errorf("%s not recorded for the command and its children; recorded %v", want, keys(recorded))
				}
			}
			// sync is the container's own workload; setns is lxc-attach's before it executes the
			// command.
			for _, other := range []string{"sync", "setns"} {
				if recorded[other] != 0 {
					t.Errorf("recorded %s, which the command does not call", other)
				}
			}
			checkNoRecordingCgroup(t, "busy")
			checkNoBPFHeld(t, d)
		})
	}
}

// checkNoRecordingCgroup fails the test when a cgroup that the eBPF recorder makes for a command
// is left below the container's cgroup v2.
func checkNoRecordingCgroup(t *testing.T, container string) {
	t.Helper()
	mount, err := cgroup.UnifiedMountPoint()
	if err != nil {
		return
	}
	for _, pattern := range []string{"*/iotfleet-recording-*", "*/*/iotfleet-recording-*", "*/*/*/iotfleet-recording-*"} {
		matches, _ := filepath.Glob(filepath.Join(mount, "lxc.payload."+container, pattern))
		if len(matches) > 0 {
			t.Errorf("recording cgroups left behind: %v", matches)
		}
	}
}

// checkNoBPFHeld fails the test when a process in the device's mount namespace, such as a
// helper or an LXC tool left running, still holds a BPF program, link or map. The kernel frees
// the recorder's programs once no process holds them, because the helper pins nothing.
func checkNoBPFHeld(t *testing.T, d *testDevice) {
	t.Helper()
	deviceNamespace, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", d.PID))
	if err != nil {
		t.Fatalf("read the device's mount namespace: %v", err)
	}
	processes, _ := filepath.Glob("/proc/[0-9]*")
	for _, process := range processes {
		if namespace, err := os.Readlink(process + "/ns/mnt"); err != nil || namespace != deviceNamespace {
			continue
		}
		fds, _ := filepath.Glob(process + "/fd/*")
		for _, fd := range fds {
			if target, err := os.Readlink(fd); err == nil && strings.HasPrefix(target, "anon_inode:bpf") {
				comm, _ := os.ReadFile(process + "/comm")
				t.Errorf("process %s (%s) holds %s", filepath.Base(process), strings.TrimSpace(string(comm)), target)
			}
		}
	}
}
