//go:build linux

package localdevice

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// requireHost skips the test unless it can start devices: root, sshd and the ssh client.
func requireHost(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("local devices need root for network namespaces and mounts; run the tests as root")
	}
	if err := checkHost(); err != nil {
		t.Skipf("cannot run local devices here: %v", err)
	}
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("ssh client not found: install the openssh-client package")
	}
}

// testName returns a device name that is unique to this test run, so that parallel runs and
// other users of the machine do not collide.
func testName(t *testing.T, suffix string) string {
	t.Helper()
	random := make([]byte, 2)
	if _, err := rand.Read(random); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(random) + "-" + suffix
}

// startDevice starts a device and registers a Stop for the end of the test.
func startDevice(t *testing.T, ctx context.Context, root, name string) *Device {
	t.Helper()
	d, err := Start(ctx, Options{Name: name, Root: root})
	if err != nil {
		t.Fatalf("Start(%q): %v", name, err)
	}
	t.Cleanup(func() {
		if err := d.Stop(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return d
}

// sshRun runs command on the device through the system ssh client, pinning the device's host
// key with knownHosts, and returns the combined output.
func sshRun(ctx context.Context, d *Device, knownHosts, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-F", "/dev/null",
		"-i", d.ClientKeyPath,
		"-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile="+knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=5",
		"-p", strconv.Itoa(d.Port),
		d.User+"@"+d.Address(), command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeKnownHosts writes lines to a new known_hosts file and returns its path.
func writeKnownHosts(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startBackgroundSleep starts a detached sleep inside the device and returns a pidfd on it.
func startBackgroundSleep(t *testing.T, ctx context.Context, d *Device) pidHandle {
	t.Helper()
	out, err := d.Exec(ctx, "sh", "-c", "sleep 600 </dev/null >/dev/null 2>&1 & echo $!")
	if err != nil {
		t.Fatalf("start background sleep: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("background sleep PID %q: %v", out, err)
	}
	h, err := openPID(pid)
	if err != nil {
		t.Fatalf("background sleep: %v", err)
	}
	t.Cleanup(h.close)
	return h
}

// assertExited fails unless the process has exited; a zombie counts as exited.
func assertExited(t *testing.T, what string, h pidHandle) {
	t.Helper()
	if running := waitExit(context.Background(), []pidHandle{h}, 0); len(running) > 0 {
		t.Errorf("%s (PID %d) is still running after Stop", what, h.pid)
	}
}

// assertRemoved fails if anything of the device is left on the machine.
func assertRemoved(t *testing.T, d *Device) {
	t.Helper()
	if _, err := os.Lstat(d.netnsPath()); err == nil {
		t.Errorf("network namespace file %s still exists", d.netnsPath())
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if fields := strings.Fields(line); len(fields) > 0 && fields[0] == d.Namespace {
			t.Errorf("ip netns list still shows %s", d.Namespace)
		}
	}
	if _, err := net.InterfaceByName(d.HostVeth); err == nil {
		t.Errorf("host veth %s still exists", d.HostVeth)
	}
	if _, err := os.Lstat(d.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("device folder %s still exists (Lstat error: %v)", d.Dir, err)
	}
}

func TestTwoDevicesAtOnce(t *testing.T) {
	requireHost(t)
	ctx := context.Background()
	root := t.TempDir()
	names := []string{testName(t, "a"), testName(t, "b")}

	devices := make([]*Device, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() { devices[i], errs[i] = Start(ctx, Options{Name: name, Root: root}) })
	}
	wg.Wait()
	for i, d := range devices {
		if d != nil {
			t.Cleanup(func() { _ = d.Stop(context.Background()) })
		}
		if errs[i] != nil {
			t.Fatalf("Start(%q): %v", names[i], errs[i])
		}
	}
	a, b := devices[0], devices[1]
	if a.IP == b.IP || a.Namespace == b.Namespace || a.HostPublicKey == b.HostPublicKey {
		t.Fatalf("devices share an address, namespace or host key: %+v and %+v", a, b)
	}

	sleeps := make([]pidHandle, len(devices))
	sshdPIDs := make([]pidHandle, len(devices))
	for i, d := range devices {
		checkDevice(t, ctx, d)
		sleeps[i] = startBackgroundSleep(t, ctx, d)
		h, err := openPID(d.PID)
		if err != nil {
			t.Fatalf("sshd of %s: %v", d.Name, err)
		}
		t.Cleanup(h.close)
		sshdPIDs[i] = h
	}

	// The wrong host key must be rejected, which proves the pinning is real.
	wrongKey := writeKnownHosts(t, a.Address()+" "+b.HostPublicKey)
	if out, err := sshRun(ctx, a, wrongKey, "true"); err == nil {
		t.Errorf("ssh to %s accepted device %s's host key; output: %s", a.Name, b.Name, out)
	}

	for i, d := range devices {
		if err := d.Stop(ctx); err != nil {
			t.Fatalf("Stop(%s): %v", d.Name, err)
		}
		assertRemoved(t, d)
		assertExited(t, "sshd of "+d.Name, sshdPIDs[i])
		assertExited(t, "background sleep on "+d.Name, sleeps[i])
		if err := d.Stop(ctx); err != nil {
			t.Errorf("second Stop(%s): %v", d.Name, err)
		}
	}
}

// checkDevice checks over SSH and through Exec that the device runs in its own namespaces
// with its own /var/lib/lxc.
func checkDevice(t *testing.T, ctx context.Context, d *Device) {
	t.Helper()

	// A marker in the device's lxc folder must show up in /var/lib/lxc on that device only.
	marker := "marker-" + d.Name
	if err := os.WriteFile(filepath.Join(d.lxcDir(), marker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	knownHosts := writeKnownHosts(t, d.KnownHostsLine())
	out, err := sshRun(ctx, d, knownHosts, "ls /var/lib/lxc")
	if err != nil {
		t.Fatalf("ssh to %s: %v; output: %s", d.Name, err, out)
	}
	if got := strings.TrimSpace(out); got != marker {
		t.Errorf("ls /var/lib/lxc over ssh on %s = %q, want %q", d.Name, got, marker)
	}
	if _, err := os.Stat(filepath.Join(LXCPath, marker)); err == nil {
		t.Errorf("marker %s is visible in the host's %s", marker, LXCPath)
	}

	out, err = sshRun(ctx, d, knownHosts, "cat /proc/self/mountinfo")
	if err != nil {
		t.Fatalf("ssh to %s: %v", d.Name, err)
	}
	if !strings.Contains(out, d.lxcDir()+" "+LXCPath+" ") {
		t.Errorf("mountinfo on %s has no bind mount of %s over %s:\n%s", d.Name, d.lxcDir(), LXCPath, out)
	}

	// Exec runs in the device's network namespace, where eth0 has the device's address.
	addr, err := d.Exec(ctx, "ip", "-o", "-4", "addr", "show", "dev", d.DeviceVeth)
	if err != nil {
		t.Fatalf("Exec on %s: %v", d.Name, err)
	}
	if !strings.Contains(string(addr), " "+d.Address()+"/24 ") {
		t.Errorf("Exec ip addr on %s = %q, want address %s", d.Name, addr, d.Address())
	}
	list, err := d.Exec(ctx, "ls", LXCPath)
	if err != nil {
		t.Fatalf("Exec on %s: %v", d.Name, err)
	}
	if got := strings.TrimSpace(string(list)); got != marker {
		t.Errorf("Exec ls %s on %s = %q, want %q", LXCPath, d.Name, got, marker)
	}
}

func TestStopRemovesContainer(t *testing.T) {
	requireHost(t)
	for _, tool := range []string{"lxc-create", "lxc-start", "lxc-info", "busybox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: install the lxc and busybox-static packages", tool)
		}
	}
	ctx := context.Background()
	d := startDevice(t, ctx, t.TempDir(), testName(t, "lxc"))

	// The container has no network, because this machine has no lxcbr0 bridge.
	config := filepath.Join(t.TempDir(), "lxc.conf")
	if err := os.WriteFile(config, []byte("lxc.net.0.type = empty\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	container := "c" + d.Name
	lxc := func(tool string, args ...string) string {
		t.Helper()
		argv := append([]string{tool, "-P", LXCPath, "-n", container}, args...)
		out, err := d.Exec(ctx, argv...)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		return strings.TrimSpace(string(out))
	}
	lxc("lxc-create", "-t", "busybox", "-f", config)
	lxc("lxc-start")
	if state := lxc("lxc-info", "-s", "-H"); state != "RUNNING" {
		t.Fatalf("container state inside the device = %q, want RUNNING", state)
	}
	pid, err := strconv.Atoi(lxc("lxc-info", "-p", "-H"))
	if err != nil {
		t.Fatalf("container init PID: %v", err)
	}
	init, err := openPID(pid)
	if err != nil {
		t.Fatalf("container init: %v", err)
	}
	defer init.close()
	if _, err := os.Stat(filepath.Join(d.lxcDir(), container, "rootfs")); err != nil {
		t.Fatalf("container rootfs is not in the device's folder: %v", err)
	}

	if err := d.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertExited(t, "container init", init)
	assertRemoved(t, d)
	cgroups, err := filepath.Glob("/sys/fs/cgroup/*/lxc.payload." + container)
	if err != nil {
		t.Fatal(err)
	}
	unified, _ := filepath.Glob("/sys/fs/cgroup/lxc.payload." + container)
	if leftovers := append(cgroups, unified...); len(leftovers) > 0 {
		t.Errorf("container cgroups left behind: %v", leftovers)
	}
}

func TestStopAfterCrash(t *testing.T) {
	requireHost(t)
	ctx := context.Background()
	root := t.TempDir()
	d := startDevice(t, ctx, root, testName(t, "crsh"))
	sleep := startBackgroundSleep(t, ctx, d)

	// Simulate a crash: sshd dies and the state file is lost.
	if err := syscall.Kill(d.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-d.exited
	if err := os.Remove(d.statePath()); err != nil {
		t.Fatal(err)
	}
	if d.Running() {
		t.Fatal("Running() = true after sshd was killed")
	}

	if err := StopName(ctx, root, d.Name); err != nil {
		t.Fatalf("StopName: %v", err)
	}
	assertRemoved(t, d)
	assertExited(t, "background sleep", sleep)
}

func TestStartRejectsRunningName(t *testing.T) {
	requireHost(t)
	ctx := context.Background()
	root := t.TempDir()
	d := startDevice(t, ctx, root, testName(t, "dup"))

	_, err := Start(ctx, Options{Name: d.Name, Root: root})
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second Start error = %v, want ErrAlreadyRunning", err)
	}
	if !d.Running() {
		t.Error("the first device stopped running after the rejected Start")
	}

	loaded, err := Load(root, d.Name)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if loaded.PID != d.PID || loaded.IP != d.IP || loaded.HostPublicKey != d.HostPublicKey {
		t.Errorf("Load = %+v, want the started device %+v", loaded, d)
	}
	listed, err := List(root)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(listed) != 1 || listed[0].Name != d.Name {
		t.Errorf("List = %v, want only %s", listed, d.Name)
	}
}

func TestStartReplacesLeftovers(t *testing.T) {
	requireHost(t)
	ctx := context.Background()
	root := t.TempDir()
	first := startDevice(t, ctx, root, testName(t, "left"))
	sleep := startBackgroundSleep(t, ctx, first)
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited

	second := startDevice(t, ctx, root, first.Name)
	assertExited(t, "background sleep of the crashed device", sleep)
	if second.PID == first.PID || second.HostPublicKey == first.HostPublicKey {
		t.Errorf("second start reused the crashed device's sshd or host key")
	}
	out, err := sshRun(ctx, second, writeKnownHosts(t, second.KnownHostsLine()), "echo ok")
	if err != nil || strings.TrimSpace(out) != "ok" {
		t.Errorf("ssh to restarted device: %v; output: %s", err, out)
	}
}

func TestExecRejectsStoppedDevice(t *testing.T) {
	d := &Device{Name: "gone", Namespace: "iotf-gone", PID: 0}
	_, err := d.Exec(context.Background(), "true")
	if err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Exec on a stopped device: error = %v, want one that says it is not running", err)
	}
}

func TestWaitReadyReportsSSHDExit(t *testing.T) {
	d, err := newDevice(t.TempDir(), "exit")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.logPath(), []byte("fatal: Bad configuration option\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	close(exited)
	d.exited = exited

	err = d.waitReady(context.Background())
	if err == nil || !strings.Contains(err.Error(), "Bad configuration option") {
		t.Errorf("waitReady error = %v, want one with the tail of sshd.log", err)
	}
}

func ExampleDevice_KnownHostsLine() {
	d := &Device{Port: 22, HostPublicKey: "ssh-ed25519 AAAAC3Nza"}
	d.IP = mustAddr("10.213.7.2")
	fmt.Println(d.KnownHostsLine())
	// Output: 10.213.7.2 ssh-ed25519 AAAAC3Nza
}

// TestStartCancelledCleansUp cancels Start at several points of its work; whatever step the
// cancellation hits, nothing of the device may be left behind.
func TestStartCancelledCleansUp(t *testing.T) {
	requireHost(t)
	root := t.TempDir()
	for _, timeout := range []time.Duration{0, 5, 15, 30, 45, 60, 80} {
		name := testName(t, "c"+strconv.Itoa(int(timeout)))
		ctx, cancel := context.WithTimeout(context.Background(), timeout*time.Millisecond)
		d, err := Start(ctx, Options{Name: name, Root: root})
		cancel()
		if err == nil {
			t.Logf("Start finished within %d ms", timeout)
			if err := d.Stop(context.Background()); err != nil {
				t.Fatalf("Stop: %v", err)
			}
		}
		leftover, newErr := newDevice(root, name)
		if newErr != nil {
			t.Fatal(newErr)
		}
		assertRemoved(t, leftover)
	}
}

func TestStopAfterNamespaceDeleted(t *testing.T) {
	requireHost(t)
	ctx := context.Background()
	d := startDevice(t, ctx, t.TempDir(), testName(t, "ns"))
	sleep := startBackgroundSleep(t, ctx, d)
	sshd, err := openPID(d.PID)
	if err != nil {
		t.Fatal(err)
	}
	defer sshd.close()

	// Deleting the name keeps the namespace alive while sshd and the sleep are inside it.
	if out, err := exec.Command("ip", "netns", "delete", d.Namespace).CombinedOutput(); err != nil {
		t.Fatalf("ip netns delete: %v: %s", err, out)
	}
	if !d.Running() {
		t.Fatal("Running() = false after only the namespace's name was deleted")
	}

	if err := d.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertRemoved(t, d)
	assertExited(t, "sshd", sshd)
	assertExited(t, "background sleep", sleep)
}
