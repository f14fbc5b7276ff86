//go:build linux

package record_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/record"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// helperTimeout bounds one helper request of these tests.
const helperTimeout = 3 * time.Minute

var (
	buildOnce sync.Once
	buildDir  string
	helperBin string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// testDevice is a local device with the helper under test installed.
type testDevice struct {
	*localdevice.Device
	t *testing.T
}

// startDevice skips the test unless this machine can run LXC containers as root, and starts a
// local device that the test stops when it ends.
func startDevice(t *testing.T) *testDevice {
	t.Helper()
	if testing.Short() {
		t.Skip("starts LXC containers on a local device; skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a local device and LXC containers")
	}
	record.SkipUnderEmulation(t)
	for _, tool := range []string{"/usr/sbin/sshd", "nsenter", "lxc-start", "lxc-attach", "lxc-stop"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: install the lxc and openssh-server packages", tool)
		}
	}
	helper := buildHelper(t)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := localdevice.Start(ctx, localdevice.Options{Name: fmt.Sprintf("rec%d", rand.IntN(1e6)), Root: t.TempDir()})
	if err != nil {
		t.Fatalf("start local device: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Stop(ctx); err != nil {
			t.Errorf("stop local device: %v", err)
		}
	})
	bin := filepath.Join(d.Dir, "iotfleet", "bin")
	data, err := os.ReadFile(helper)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "iotfleet-helper"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return &testDevice{Device: d, t: t}
}

// buildHelper builds the helper once per test binary. It embeds the iotfleet-init that
// `make helpers` leaves in internal/initbin.
func buildHelper(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "iotfleet-record-test-")
		if buildErr != nil {
			return
		}
		moduleRoot, _ := filepath.Abs("../..")
		cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, "iotfleet-helper"), ".")
		cmd.Dir = moduleRoot
		if output, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build helper: %v\n%s", err, output)
			return
		}
		helperBin = filepath.Join(buildDir, "iotfleet-helper")
	})
	if buildErr != nil {
		t.Fatalf("build helper: %v", buildErr)
	}
	return helperBin
}

// forTest returns d reporting to t, for use inside a subtest of the test that started d.
func (d *testDevice) forTest(t *testing.T) *testDevice {
	return &testDevice{Device: d.Device, t: t}
}

// call runs op in one helper request inside the device and decodes its data into out. It
// returns the call's error result and fails the test on any other error.
func (d *testDevice) call(op string, params, out any) *protocol.Error {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	_, err := d.CallHelper(ctx, op, params, out)
	var helperErr *protocol.Error
	if errors.As(err, &helperErr) {
		return helperErr
	}
	if err != nil {
		d.t.Fatal(err)
	}
	return nil
}

// do is call that fails the test on an error result.
func (d *testDevice) do(op string, params, out any) {
	d.t.Helper()
	if err := d.call(op, params, out); err != nil {
		d.t.Fatalf("%s: %v", op, err)
	}
}

// createContainer creates a stopped busybox container that runs command, and deletes it when
// the test ends.
func (d *testDevice) createContainer(name string, running bool, command ...string) protocol.ContainerState {
	d.t.Helper()
	spec := protocol.ContainerSpec{
		Name: name, Rootfs: protocol.RootfsBusybox, Running: running, Command: command,
		NoNewPrivs: true, Limits: protocol.Limits{MemoryBytes: 128 << 20, Pids: 64},
	}
	var applied protocol.ContainerApplyResult
	d.do(protocol.OpContainerApply, spec, &applied)
	d.t.Cleanup(func() {
		if err := d.call(protocol.OpContainerDelete, protocol.ContainerName{Name: name}, nil); err != nil {
			d.t.Errorf("delete container %s: %v", name, err)
		}
	})
	return applied.State
}

// record runs a recording and fails the test on an error result.
func (d *testDevice) record(params protocol.RecordingRunParams) protocol.RecordingState {
	d.t.Helper()
	var state protocol.RecordingState
	start := time.Now()
	d.do(protocol.OpRecordingRun, params, &state)
	d.t.Logf("recording %s: %d run(s) in %s", params.Name, len(state.Result.Runs), time.Since(start).Round(time.Millisecond))
	return state
}

// mechanisms returns the recording mechanisms to test. The eBPF one is left out, with the
// reason in the log, where this machine cannot load its programs.
func mechanisms(t *testing.T) []string {
	t.Helper()
	list := []string{protocol.MechanismPtrace}
	if err := features.HaveProgramType(ebpf.RawTracepoint); err != nil {
		t.Logf("testing ptrace only: the kernel cannot load BPF raw tracepoint programs: %v", err)
		return list
	}
	if _, err := cgroup.UnifiedMountPoint(); err != nil {
		t.Logf("testing ptrace only: %v", err)
		return list
	}
	return append(list, protocol.MechanismEBPF)
}

// rootfs returns the container's rootfs folder on this machine.
func (d *testDevice) rootfs(name string) string {
	return filepath.Join(d.Dir, "lxc", name, "rootfs")
}

// names returns the recorded syscall names of abi as a set.
func names(state protocol.RecordingState, abi string) map[string]uint64 {
	set := map[string]uint64{}
	for _, s := range state.Result.Syscalls[abi] {
		set[s.Name] = s.Count
	}
	return set
}
