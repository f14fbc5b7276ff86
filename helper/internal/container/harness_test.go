package container_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Where the helper is installed on a device, and how long one helper run may take.
const (
	deviceHelper  = localdevice.StateDir + "/bin/iotfleet-helper"
	helperTimeout = 2 * time.Minute
)

// device is a local test device with the freshly built helper installed.
type device struct {
	*localdevice.Device
	t *testing.T
}

var (
	buildOnce   sync.Once
	buildDir    string
	builtHelper string
	buildErr    error
)

// TestMain removes the helper that the integration tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// requireContainers skips the test unless this machine can run LXC containers.
func requireContainers(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts LXC containers on a local device; skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a local device and LXC containers")
	}
	// qemu-user, which runs the cross-built tests, cannot create namespaces.
	probe := exec.Command("true")
	probe.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS}
	if err := probe.Run(); err != nil {
		t.Skipf("cannot create namespaces here (%v), so containers cannot start", err)
	}
	for _, tool := range []string{"/usr/sbin/sshd", "nsenter", "lxc-info"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: run `make deps`", tool)
		}
	}
}

// buildHelper builds iotfleet-init and the helper once per test binary.
func buildHelper(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "iotfleet-helper-test-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		moduleRoot, _ := filepath.Abs("../..")
		// `make helper-test` builds the init first; a plain `go test` builds it here.
		initOut := filepath.Join(moduleRoot, "internal/initbin/bin", runtime.GOARCH, "iotfleet-init.gz")
		if _, err := os.Stat(initOut); err != nil {
			if buildErr = buildInit(moduleRoot, dir, initOut); buildErr != nil {
				return
			}
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "iotfleet-helper"), ".")
		cmd.Dir = moduleRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build helper: %v\n%s", err, out)
			return
		}
		builtHelper = filepath.Join(dir, "iotfleet-helper")
	})
	if buildErr != nil {
		t.Fatalf("build helper: %v", buildErr)
	}
	return builtHelper
}

// buildInit builds iotfleet-init in dir and writes it gzip-compressed to out, as `make
// helpers` does.
func buildInit(moduleRoot, dir, out string) error {
	binary := filepath.Join(dir, "iotfleet-init")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binary, "./cmd/iotfleet-init")
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build iotfleet-init: %v\n%s", err, output)
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	var compressed bytes.Buffer
	writer, _ := gzip.NewWriterLevel(&compressed, gzip.BestCompression)
	if _, err := writer.Write(data); err != nil {
		return err
	}
	if err := writer.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, compressed.Bytes(), 0o644)
}

// startDevice starts a local device with the helper installed and stops it when the test ends.
func startDevice(t *testing.T) *device {
	t.Helper()
	requireContainers(t)
	helper := buildHelper(t)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("ct%d", rand.IntN(1e8))
	d, err := localdevice.Start(ctx, localdevice.Options{Name: name, Root: t.TempDir()})
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

	checkSysfsVisible(t, d)

	bin := filepath.Join(d.Dir, "iotfleet", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(helper)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "iotfleet-helper"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return &device{Device: d, t: t}
}

// checkSysfsVisible fails the test when the device's /sys has mounts over folders other than
// /sys/fs/cgroup. The kernel then refuses a new sysfs in a user namespace, because it would
// show what those mounts hide, so no unprivileged container can start on the device.
func checkSysfsVisible(t *testing.T, d *localdevice.Device) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	mountinfo, err := d.Exec(ctx, "cat", "/proc/self/mountinfo")
	if err != nil {
		t.Fatalf("read the device's mounts: %v", err)
	}
	for _, line := range strings.Split(string(mountinfo), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		target := fields[4]
		if strings.HasPrefix(target, "/sys/") && target != "/sys/fs/cgroup" && !strings.HasPrefix(target, "/sys/fs/cgroup/") {
			t.Fatalf("the local device mounts %s over its /sys, so unprivileged containers cannot mount "+
				"sysfs there (EPERM); give the device a fresh sysfs on /sys with /sys/fs/cgroup moved back on it", target)
		}
	}
}

// stateDir and lxcDir return the device's state folder and LXC path on this machine.
func (d *device) stateDir() string { return filepath.Join(d.Dir, "iotfleet") }
func (d *device) lxcDir() string   { return filepath.Join(d.Dir, "lxc") }

// call runs one helper request with the given calls inside the device and returns the results.
func (d *device) call(calls ...protocol.Call) []protocol.Result {
	d.t.Helper()
	results, err := d.run(calls...)
	if err != nil {
		d.t.Fatal(err)
	}
	return results
}

// run is call for goroutines: it returns errors instead of failing the test.
func (d *device) run(calls ...protocol.Call) ([]protocol.Result, error) {
	for i := range calls {
		calls[i].ID = i + 1
	}
	request, err := json.Marshal(protocol.Request{
		Version: protocol.Version, StateDir: localdevice.StateDir, LXCPath: localdevice.LXCPath, Calls: calls,
	})
	if err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(d.PID), "--net", "--mount", "--",
		deviceHelper, protocol.ServeCommand)
	cmd.Stdin = bytes.NewReader(request)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("run helper: %v\nstderr: %s", err, stderr.String())
	}

	var response protocol.Response
	if err := json.Unmarshal(stdout.Bytes(), &response); err != nil {
		return nil, fmt.Errorf("decode response %q: %v", stdout.String(), err)
	}
	if response.Error != nil {
		return nil, fmt.Errorf("request failed: %v", response.Error)
	}
	return response.Results, nil
}

// do runs one call and decodes its data into out, failing the test on an error result.
func (d *device) do(op string, params, out any) {
	d.t.Helper()
	if err := d.try(op, params, out); err != nil {
		d.t.Fatalf("%s: %v", op, err)
	}
}

// try runs one call and returns its error result as a *protocol.Error.
func (d *device) try(op string, params, out any) error {
	d.t.Helper()
	raw, err := json.Marshal(params)
	if err != nil {
		d.t.Fatal(err)
	}
	result := d.call(protocol.Call{Op: op, Params: raw})[0]
	if result.Error != nil {
		return result.Error
	}
	if out != nil {
		if err := json.Unmarshal(result.Data, out); err != nil {
			d.t.Fatalf("decode %s result: %v", op, err)
		}
	}
	return nil
}

func (d *device) apply(spec protocol.ContainerSpec) protocol.ContainerApplyResult {
	d.t.Helper()
	var result protocol.ContainerApplyResult
	d.do(protocol.OpContainerApply, spec, &result)
	return result
}

// exec runs argv in the container and fails the test unless it exits 0.
func (d *device) exec(name string, argv ...string) string {
	d.t.Helper()
	result := d.execResult(name, argv...)
	if result.ExitCode != 0 {
		d.t.Fatalf("exec %q in %s: exit %d, signal %q, stderr %q", argv, name, result.ExitCode, result.Signal, result.Stderr)
	}
	return string(result.Stdout)
}

func (d *device) execResult(name string, argv ...string) protocol.ExecResult {
	d.t.Helper()
	var result protocol.ExecResult
	d.do(protocol.OpContainerExec, protocol.ExecParams{Name: name, Argv: argv, TimeoutSeconds: 60}, &result)
	return result
}

// readFile returns the content of a file as the device sees it. Local devices have their own
// /etc/subuid and /etc/subgid, mounted over the host's.
func (d *device) readFile(path string) string {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data, err := d.Exec(ctx, "cat", path)
	if err != nil {
		d.t.Fatalf("read %s on the device: %v", path, err)
	}
	return string(data)
}

// deleteOnCleanup deletes the container when the test ends, before the device stops.
func (d *device) deleteOnCleanup(name string) {
	d.t.Cleanup(func() {
		var result protocol.ContainerDeleteResult
		if err := d.try(protocol.OpContainerDelete, protocol.ContainerName{Name: name}, &result); err != nil {
			d.t.Errorf("delete %s: %v", name, err)
		}
	})
}
