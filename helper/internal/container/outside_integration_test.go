package container_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestGetReflectsChangesOutsideTheHelper(t *testing.T) {
	d := startDevice(t)
	d.deleteOnCleanup("drift")
	d.apply(hardenedSpec("drift"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Stopped outside: get reports STOPPED.
	if out, err := d.Exec(ctx, "lxc-stop", "-P", "/var/lib/lxc", "-n", "drift", "-k"); err != nil {
		t.Fatalf("lxc-stop: %v: %s", err, out)
	}
	var state protocol.ContainerState
	d.do(protocol.OpContainerGet, protocol.ContainerName{Name: "drift"}, &state)
	if state.State != "STOPPED" || state.InitPID != 0 {
		t.Errorf("get after an outside stop = %s with init %d, want STOPPED without init", state.State, state.InitPID)
	}

	// Changed outside: the hashes differ.
	config := filepath.Join(d.lxcDir(), "drift", "config")
	data, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(config, append(data, "lxc.cap.keep = sys_admin\n"...), 0o640); err != nil {
		t.Fatal(err)
	}
	d.do(protocol.OpContainerGet, protocol.ContainerName{Name: "drift"}, &state)
	if state.ConfigSHA256 == state.AppliedConfigSHA256 {
		t.Error("config hash equals the applied hash after an outside change")
	}

	// An apply restores the configuration and starts the container again.
	applied := d.apply(hardenedSpec("drift"))
	if applied.State.State != "RUNNING" || applied.State.ConfigSHA256 != applied.State.AppliedConfigSHA256 {
		t.Errorf("apply after drift: state %s, hashes %s vs %s", applied.State.State,
			applied.State.ConfigSHA256, applied.State.AppliedConfigSHA256)
	}

	// Destroyed outside: get reports not found, and delete still cleans up.
	if out, err := d.Exec(ctx, "lxc-stop", "-P", "/var/lib/lxc", "-n", "drift", "-k"); err != nil {
		t.Fatalf("lxc-stop: %v: %s", err, out)
	}
	if err := os.Remove(config); err != nil {
		t.Fatal(err)
	}
	err = d.try(protocol.OpContainerGet, protocol.ContainerName{Name: "drift"}, nil)
	var protocolErr *protocol.Error
	if !errors.As(err, &protocolErr) || protocolErr.Code != protocol.CodeNotFound {
		t.Errorf("get after an outside destroy = %v, want not_found", err)
	}
}

func TestExecStdinTimeoutAndSeccomp(t *testing.T) {
	d := startDevice(t)
	policy := filepath.Join(t.TempDir(), "policy")
	// A denylist that makes mknod fail with EPERM, which busybox reports.
	if err := os.WriteFile(policy, []byte("2\ndenylist\nmknodat errno 1\nmknod errno 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := hardenedSpec("tools")
	spec.SeccompProfile = policy
	d.deleteOnCleanup("tools")
	d.apply(spec)

	var result protocol.ExecResult
	d.do(protocol.OpContainerExec, protocol.ExecParams{Name: "tools", Argv: []string{"cat"}, Stdin: []byte("via stdin\n")}, &result)
	if string(result.Stdout) != "via stdin\n" || result.ExitCode != 0 {
		t.Errorf("cat with stdin = exit %d, stdout %q", result.ExitCode, result.Stdout)
	}

	d.do(protocol.OpContainerExec, protocol.ExecParams{Name: "tools", Argv: []string{"sh", "-c", "echo out; echo err >&2; exit 3"}}, &result)
	if result.ExitCode != 3 || string(result.Stdout) != "out\n" || string(result.Stderr) != "err\n" {
		t.Errorf("exit 3 command = exit %d, stdout %q, stderr %q", result.ExitCode, result.Stdout, result.Stderr)
	}

	start := time.Now()
	d.do(protocol.OpContainerExec, protocol.ExecParams{Name: "tools", Argv: []string{"sleep", "30"}, TimeoutSeconds: 1}, &result)
	if result.Signal != "KILL" || time.Since(start) > 10*time.Second {
		t.Errorf("sleep 30 with a 1 s timeout: signal %q after %s, want KILL within seconds", result.Signal, time.Since(start))
	}

	status := d.exec("tools", "cat", "/proc/self/status")
	if !strings.Contains(status, "Seccomp:\t2\n") {
		t.Errorf("commands in the container run without a seccomp filter:\n%s", status)
	}
	if result := d.execResult("tools", "mknod", "/tmp/fifo", "p"); result.ExitCode == 0 {
		t.Error("mknod succeeded although the seccomp policy denies it")
	}
}

func TestUninstallAfterLastContainer(t *testing.T) {
	d := startDevice(t)
	d.apply(hardenedSpec("last"))
	d.do(protocol.OpContainerDelete, protocol.ContainerName{Name: "last"}, nil)

	var result protocol.UninstallResult
	if err := d.try(protocol.OpUninstall, nil, &result); err != nil || !result.Removed {
		t.Errorf("uninstall after the last delete = %+v, %v; want the state folder removed", result, err)
	}
}

func TestConcurrentAppliesOfDifferentContainers(t *testing.T) {
	d := startDevice(t)
	names := []string{"para", "parb", "parc"}
	errs := make(chan error, len(names))
	for _, name := range names {
		d.deleteOnCleanup(name)
		go func() {
			params, _ := json.Marshal(hardenedSpec(name))
			results, err := d.run(protocol.Call{Op: protocol.OpContainerApply, Params: params})
			if err == nil && results[0].Error != nil {
				err = results[0].Error
			}
			errs <- err
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Errorf("concurrent apply: %v", err)
		}
	}

	// Every container got its own range.
	starts := map[int]string{}
	for _, name := range names {
		var state protocol.ContainerState
		d.do(protocol.OpContainerGet, protocol.ContainerName{Name: name}, &state)
		if other, taken := starts[state.HostUIDStart]; taken {
			t.Errorf("%s and %s share host UID start %d", name, other, state.HostUIDStart)
		}
		starts[state.HostUIDStart] = name
	}
}
