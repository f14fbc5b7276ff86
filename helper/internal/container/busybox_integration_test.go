package container_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// hardenedSpec is a busybox container with every hardening option that the product sets.
func hardenedSpec(name string) protocol.ContainerSpec {
	return protocol.ContainerSpec{
		Name:           name,
		Rootfs:         protocol.RootfsBusybox,
		Running:        true,
		Autostart:      true,
		Capabilities:   []string{"net_bind_service"},
		NoNewPrivs:     true,
		ReadOnlyRootfs: true,
		Limits:         protocol.Limits{MemoryBytes: 64 << 20, Pids: 64},
		Files: []protocol.File{
			// Readable by all: exec runs as the container's root, which keeps only the
			// listed capabilities and so cannot read other users' private files.
			{Path: "/etc/app/app.conf", Content: []byte("level = 1\n"), Mode: 0o644, UID: 1000, GID: 1001},
		},
	}
}

func TestBusyboxContainerHardening(t *testing.T) {
	d := startDevice(t)
	spec := hardenedSpec("web")

	d.deleteOnCleanup("web")
	start := time.Now()
	applied := d.apply(spec)
	t.Logf("create+start of one busybox container: %s", time.Since(start).Round(time.Millisecond))

	state := applied.State
	if state.State != "RUNNING" || state.InitPID <= 0 {
		t.Fatalf("state = %s, init PID %d; want RUNNING with an init", state.State, state.InitPID)
	}
	if state.ConfigSHA256 == "" || state.ConfigSHA256 != state.AppliedConfigSHA256 {
		t.Errorf("config hash %q, applied %q; want equal and set", state.ConfigSHA256, state.AppliedConfigSHA256)
	}

	t.Run("idmap", func(t *testing.T) {
		fields := strings.Fields(d.exec("web", "cat", "/proc/self/uid_map"))
		want := []string{"0", strconv.Itoa(state.HostUIDStart), "65536"}
		if strings.Join(fields, " ") != strings.Join(want, " ") {
			t.Errorf("uid_map = %v, want %v", fields, want)
		}
		if state.HostUIDStart < 1000000 {
			t.Errorf("host UID start %d is below the pool start", state.HostUIDStart)
		}
	})
	t.Run("capabilities and no_new_privs", func(t *testing.T) {
		status := d.exec("web", "cat", "/proc/self/status")
		// net_bind_service is capability 10.
		for _, want := range []string{"CapEff:\t0000000000000400", "CapBnd:\t0000000000000400", "NoNewPrivs:\t1"} {
			if !strings.Contains(status, want+"\n") {
				t.Errorf("/proc/self/status lacks %q:\n%s", want, status)
			}
		}
	})
	t.Run("memory limit", func(t *testing.T) {
		// dd fills a 96 MiB buffer, past the 64 MiB limit; the kernel kills dd, not the container.
		result := d.execResult("web", "dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=1")
		if result.Signal != "KILL" {
			t.Errorf("dd past the memory limit: exit %d, signal %q, stderr %q; want it killed",
				result.ExitCode, result.Signal, result.Stderr)
		}
		if got := d.exec("web", "echo", "alive"); got != "alive\n" {
			t.Errorf("container after the OOM kill answered %q", got)
		}
	})
	t.Run("pids limit", func(t *testing.T) {
		// ash exits at the first failed fork, so the sleeps are short-lived and the test waits
		// for the container to have free PIDs again.
		script := `i=0; while [ $i -lt 100 ]; do sleep 2 & i=$((i+1)); done; echo all forked`
		result := d.execResult("web", "sh", "-c", script)
		if strings.Contains(string(result.Stdout), "all forked") || !strings.Contains(string(result.Stderr), "fork") {
			t.Errorf("100 forks under a limit of 64: stdout %q, stderr %q; want a fork error", result.Stdout, result.Stderr)
		}
		waitForExec(t, d, "web")
	})
	t.Run("devices", func(t *testing.T) {
		names := strings.Fields(d.exec("web", "ls", "-A", "/dev"))
		allowed := map[string]bool{
			".iotfleet": true, ".lxc-boot-id": true, "fd": true, "full": true, "null": true, "ptmx": true, "pts": true,
			"random": true, "stderr": true, "stdin": true, "stdout": true, "tty": true, "urandom": true, "zero": true,
		}
		for _, name := range names {
			if !allowed[name] {
				t.Errorf("/dev holds %q, which is not on the allow list", name)
			}
		}
		checkDeviceCgroup(t, "web")
	})
	t.Run("read-only rootfs", func(t *testing.T) {
		result := d.execResult("web", "touch", "/new-file")
		if result.ExitCode == 0 || !strings.Contains(string(result.Stderr), "Read-only") {
			t.Errorf("touch /new-file: exit %d, stderr %q; want a read-only error", result.ExitCode, result.Stderr)
		}
		d.exec("web", "touch", "/tmp/scratch")
	})
	t.Run("proc and sys flags", func(t *testing.T) {
		mounts := d.exec("web", "cat", "/proc/self/mountinfo")
		for _, target := range []string{"/proc", "/sys"} {
			options := mountOptions(mounts, target)
			for _, flag := range []string{"nosuid", "nodev", "noexec"} {
				if !strings.Contains(","+options+",", ","+flag+",") {
					t.Errorf("%s is mounted with %q, which lacks %s", target, options, flag)
				}
			}
		}
	})
	t.Run("files", func(t *testing.T) {
		got := d.exec("web", "stat", "-c", "%u %g %a", "/etc/app/app.conf")
		if got != "1000 1001 644\n" {
			t.Errorf("stat /etc/app/app.conf = %q, want 1000 1001 644", got)
		}
		if content := d.exec("web", "cat", "/etc/app/app.conf"); content != "level = 1\n" {
			t.Errorf("content = %q", content)
		}
	})
	t.Run("no apparmor key", func(t *testing.T) {
		config, err := os.ReadFile(filepath.Join(d.lxcDir(), "web", "config"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat("/sys/module/apparmor/parameters/enabled"); errors.Is(err, os.ErrNotExist) &&
			strings.Contains(string(config), "lxc.apparmor") {
			t.Error("config sets lxc.apparmor on a host without AppArmor")
		}
	})
}

// checkDeviceCgroup compares the container's device cgroup with the allow list, where the
// device controller is a v1 hierarchy.
func checkDeviceCgroup(t *testing.T, name string) {
	t.Helper()
	leftovers, err := cgroup.Leftovers(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range leftovers {
		data, err := os.ReadFile(filepath.Join(dir, "devices.list"))
		if err != nil || !strings.Contains(dir, "lxc.payload.") {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		sort.Strings(lines)
		want := append([]string(nil), cgroup.AllowedDevices...)
		sort.Strings(want)
		if strings.Join(lines, ";") != strings.Join(want, ";") {
			t.Errorf("%s/devices.list = %v, want %v", dir, lines, want)
		}
		return
	}
	t.Log("no v1 device cgroup found; the device rules are a BPF program on this host")
}

// mountOptions returns the per-mount options of target in a mountinfo table.
func mountOptions(mountinfo, target string) string {
	for _, line := range strings.Split(mountinfo, "\n") {
		fields := strings.Fields(line)
		if len(fields) > 5 && fields[4] == target {
			return fields[5]
		}
	}
	return ""
}

func TestBusyboxContainerUpdate(t *testing.T) {
	d := startDevice(t)
	spec := hardenedSpec("app")
	d.deleteOnCleanup("app")
	first := d.apply(spec)

	// A file change is written in place, without a restart.
	spec.Files[0].Content = []byte("level = 2\n")
	second := d.apply(spec)
	if second.Restarted || second.State.InitPID != first.State.InitPID {
		t.Errorf("file update restarted the container (restarted %v, init %d -> %d)",
			second.Restarted, first.State.InitPID, second.State.InitPID)
	}
	if got := d.exec("app", "cat", "/etc/app/app.conf"); got != "level = 2\n" {
		t.Errorf("file after update = %q", got)
	}

	// A memory limit is changed live.
	spec.Limits.MemoryBytes = 96 << 20
	third := d.apply(spec)
	if third.Restarted {
		t.Error("a memory limit change restarted the container")
	}
	checkCgroupValue(t, "app", "memory.limit_in_bytes", strconv.Itoa(96<<20))

	// A capability change needs a restart.
	spec.Capabilities = []string{"net_bind_service", "chown"}
	fourth := d.apply(spec)
	if !fourth.Restarted || fourth.State.InitPID == third.State.InitPID {
		t.Errorf("capability change: restarted %v, init %d -> %d; want a restart",
			fourth.Restarted, third.State.InitPID, fourth.State.InitPID)
	}
	if status := d.exec("app", "cat", "/proc/self/status"); !strings.Contains(status, "CapEff:\t0000000000000401\n") {
		t.Errorf("CapEff after the update is not chown+net_bind_service:\n%s", status)
	}

	// A new command needs a restart, because the init runs it only at start.
	spec.Command = []string{"sleep", "1000"}
	commanded := d.apply(spec)
	if !commanded.Restarted {
		t.Error("a command change did not restart the container")
	}
	if cmdline := d.exec("app", "cat", "/proc/1/cmdline"); cmdline != "sleep\x001000\x00" {
		t.Errorf("/proc/1/cmdline after the command change = %q", cmdline)
	}
	spec.Command = nil

	// A new idmap size moves the container to a new range, with its files.
	spec.IdmapSize = 2 * 65536
	fifth := d.apply(spec)
	if !fifth.Restarted || fifth.State.IdmapSize != 2*65536 {
		t.Errorf("idmap size change: restarted %v, size %d; want a restart with 131072 IDs", fifth.Restarted, fifth.State.IdmapSize)
	}
	uidMap := strings.Fields(d.exec("app", "cat", "/proc/self/uid_map"))
	if want := []string{"0", strconv.Itoa(fifth.State.HostUIDStart), "131072"}; strings.Join(uidMap, " ") != strings.Join(want, " ") {
		t.Errorf("uid_map after the size change = %v, want %v", uidMap, want)
	}
	if got := d.exec("app", "stat", "-c", "%u %g", "/etc/app/app.conf", "/etc/passwd"); got != "1000 1001\n0 0\n" {
		t.Errorf("owners after the range moved = %q, want the same IDs inside", got)
	}

	// Running false stops it, and get reports it stopped.
	spec.Running = false
	if stopped := d.apply(spec); stopped.State.State != "STOPPED" {
		t.Errorf("state after running=false = %s", stopped.State.State)
	}
}

// checkCgroupValue reads a cgroup file of the running container from the host.
func checkCgroupValue(t *testing.T, name, file, want string) {
	t.Helper()
	leftovers, err := cgroup.Leftovers(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range leftovers {
		if data, err := os.ReadFile(filepath.Join(dir, file)); err == nil && strings.Contains(dir, "lxc.payload.") {
			if got := strings.TrimSpace(string(data)); got != want {
				t.Errorf("%s/%s = %s, want %s", dir, file, got, want)
			}
			return
		}
	}
	t.Logf("no cgroup file %s found for %s; layout differs from this check", file, name)
}

func TestBusyboxCommandWorkload(t *testing.T) {
	d := startDevice(t)
	spec := hardenedSpec("job")
	// The shell records what the init gave it and then replaces itself with sleep.
	spec.Command = []string{"/bin/sh", "-c", `echo "$GREETING" > env; pwd >> env; exec sleep 1000`}
	spec.Environment = map[string]string{"GREETING": "hello  world"}
	spec.User, spec.Group = 1000, 1000
	spec.WorkingDir = "/tmp"
	d.deleteOnCleanup("job")
	d.apply(spec)

	cmdline := d.exec("job", "cat", "/proc/1/cmdline")
	if cmdline != "sleep\x001000\x00" {
		t.Errorf("/proc/1/cmdline = %q, want the argv that the command execs", cmdline)
	}
	status := d.exec("job", "cat", "/proc/1/status")
	if !strings.Contains(status, "Uid:\t1000\t1000\t1000\t1000\n") || !strings.Contains(status, "Gid:\t1000\t1000\t1000\t1000\n") {
		t.Errorf("init does not run as 1000:1000:\n%s", status)
	}
	if env := d.exec("job", "cat", "/tmp/env"); env != "hello  world\n/tmp\n" {
		t.Errorf("the command saw environment and working folder %q, want \"hello  world\" and /tmp", env)
	}
}

func TestDeleteLeavesNothing(t *testing.T) {
	d := startDevice(t)
	created := d.apply(hardenedSpec("gone")).State
	line := fmt.Sprintf("root:%d:%d\n", created.HostUIDStart, created.IdmapSize)
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		if data := d.readFile(file); !strings.Contains(data, line) {
			t.Errorf("%s lacks %q while the container exists:\n%s", file, line, data)
		}
	}

	var result protocol.ContainerDeleteResult
	d.do(protocol.OpContainerDelete, protocol.ContainerName{Name: "gone"}, &result)
	if !result.Deleted {
		t.Error("delete reported Deleted false for an existing container")
	}
	for _, path := range []string{filepath.Join(d.lxcDir(), "gone"), filepath.Join(d.stateDir(), "containers", "gone")} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after delete", path)
		}
	}
	if leftovers, _ := cgroup.Leftovers("gone"); len(leftovers) > 0 {
		t.Errorf("cgroups left after delete: %v", leftovers)
	}
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		if data := d.readFile(file); strings.Contains(data, line) {
			t.Errorf("%s still has %q after delete", file, line)
		}
	}
	pool, _ := os.ReadFile(filepath.Join(d.stateDir(), "idmap.json"))
	if strings.Contains(string(pool), `"gone"`) {
		t.Errorf("idmap pool still lists the container: %s", pool)
	}
	images, _ := os.ReadDir(filepath.Join(d.stateDir(), "images"))
	if len(images) != 0 {
		t.Errorf("images folder still holds %v after the last container was deleted", images)
	}

	err := d.try(protocol.OpContainerGet, protocol.ContainerName{Name: "gone"}, nil)
	var protocolErr *protocol.Error
	if !errors.As(err, &protocolErr) || protocolErr.Code != protocol.CodeNotFound {
		t.Errorf("get after delete = %v, want not_found", err)
	}
	d.do(protocol.OpContainerDelete, protocol.ContainerName{Name: "gone"}, &result)
	if result.Deleted {
		t.Error("second delete reported Deleted true")
	}
}

func TestPerContainerStorage(t *testing.T) {
	d := startDevice(t)
	d.deleteOnCleanup("first")
	d.apply(hardenedSpec("first"))

	before := diskUsage(t, d.Dir)
	d.deleteOnCleanup("second")
	start := time.Now()
	state := d.apply(hardenedSpec("second")).State
	t.Logf("create+start of a busybox container once the base exists: %s", time.Since(start).Round(time.Millisecond))
	added := diskUsage(t, d.Dir) - before

	t.Logf("one more busybox container adds %d KiB on disk (rootfs_bytes reports %d KiB)", added/1024, state.RootfsBytes/1024)
	t.Logf("anonymous resident memory: monitor %d KiB (PID %d's parent), init %d KiB", residentKiB(t, parentPID(t, state.InitPID)),
		state.InitPID, residentKiB(t, state.InitPID))
	if added > 508*1024 {
		t.Errorf("a busybox container adds %d KiB, more than the budget of 508 KiB", added/1024)
	}
	if state.RootfsBytes <= 0 || state.RootfsBytes > added+4096 {
		t.Errorf("rootfs_bytes = %d, want a positive size no larger than what the container added (%d)", state.RootfsBytes, added)
	}
}

func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	out, err := runCommand("du", "-sk", "--", dir)
	if err != nil {
		t.Fatalf("du: %v", err)
	}
	kib, err := strconv.ParseInt(strings.Fields(out)[0], 10, 64)
	if err != nil {
		t.Fatalf("parse du output %q: %v", out, err)
	}
	return kib * 1024
}

func runCommand(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %v: %w: %s", name, args, err, out)
	}
	return string(out), nil
}

// waitForExec retries a trivial command until the container can fork again.
func waitForExec(t *testing.T, d *device, name string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := d.try(protocol.OpContainerExec, protocol.ExecParams{Name: name, Argv: []string{"true"}}, nil)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still cannot run commands: %v", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// residentKiB returns the anonymous resident memory of a host process: what it alone costs,
// as file pages such as the code of the binary are shared.
func residentKiB(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of PID %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if value, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kib, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(value), " kB"))
			return kib
		}
	}
	return 0
}

// parentPID returns the parent of a host process: the LXC monitor for a container's init.
func parentPID(t *testing.T, pid int) int {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("read stat of PID %d: %v", pid, err)
	}
	// The command name in parentheses may contain spaces; the parent PID follows it.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	parent, _ := strconv.Atoi(fields[1])
	return parent
}
