//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/container"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/record"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// cleanupDeadline bounds how long a helper whose client went away may take to end a recording
// and exit. Its cleanup waits up to 5 s for the LXC monitor after killing the container's init,
// and up to 5 s for each leftover cgroup to empty.
const cleanupDeadline = 20 * time.Second

// longRecording keeps the container running far beyond the test, so only a helper that
// notices its lost client ends it in time.
const longRecording = 600

// TestServeCleansUpAfterDisconnect starts a long recording, takes the helper's client away
// mid-run in the ways an SSH session ends, and checks that the helper stops the workload and
// leaves the device as the previous recording left it.
func TestServeCleansUpAfterDisconnect(t *testing.T) {
	d := startDisconnectDevice(t)
	name := fmt.Sprintf("drop%d", rand.IntN(1e6))
	d.createContainer(name)
	short := protocol.RecordingRunParams{Name: name, Container: name, DurationSeconds: 1}
	d.do(protocol.OpRecordingRun, short, nil)
	resultPath := filepath.Join(record.Store{StateDir: d.stateDir()}.Dir(name), "result.json")
	previous, err := os.ReadFile(resultPath)
	if err != nil {
		t.Fatalf("read result of the first recording: %v", err)
	}

	long := short
	long.DurationSeconds = longRecording
	for _, drop := range []struct {
		name  string
		start func(t *testing.T, d *disconnectDevice, request []byte) *helperSession
	}{
		{"output pipes closed", startOverPipes},
		{"ssh client killed", startOverSSH(killClient)},
		{"ssh session killed", startOverSSH(killSSHSession)},
	} {
		passed := t.Run(drop.name, func(t *testing.T) {
			t.Cleanup(func() { removeCgroups(t, name) })
			session := drop.start(t, d, d.request(protocol.OpRecordingRun, long))
			waitForWorkload(t, name)

			session.drop(t)
			start := time.Now()
			if !waitGone(session.helperPID, cleanupDeadline) {
				t.Fatalf("helper %d still runs %s after its client went away; left behind:\n%s",
					session.helperPID, cleanupDeadline, describeLeftovers(name))
			}
			t.Logf("helper exited %s after the drop", time.Since(start).Round(10*time.Millisecond))

			d.checkClean(t, name)
			if current, err := os.ReadFile(resultPath); err != nil || !bytes.Equal(current, previous) {
				t.Errorf("result.json changed or is unreadable (%v); want the first recording's result kept", err)
			}
		})
		if !passed {
			// The next recording cannot start from what a failed drop leaves behind.
			return
		}
	}

	// The locks are free and the container starts again.
	var after protocol.RecordingState
	d.do(protocol.OpRecordingRun, short, &after)
	if len(after.Result.Runs) != 1 || after.Result.Runs[0].Outcome != protocol.RunStopped {
		t.Errorf("recording after the drops = %+v, want one stopped run", after.Result.Runs)
	}
}

// helperSession is a recording request in flight.
type helperSession struct {
	helperPID int
	// drop takes the client away as the session's end does.
	drop func(t *testing.T)
}

// startOverPipes runs the helper through nsenter with pipes as its standard output and error,
// and drops the client by closing their read ends, which is what sshd does when the session
// ends. nsenter without --fork execs the helper, so the child is the helper itself.
func startOverPipes(t *testing.T, d *disconnectDevice, request []byte) *helperSession {
	stdoutRead, stdoutWrite := pipe(t)
	stderrRead, stderrWrite := pipe(t)
	cmd := exec.Command("nsenter", "--target", strconv.Itoa(d.PID), "--net", "--mount", "--",
		d.helperPath(), protocol.ServeCommand)
	cmd.Stdin = bytes.NewReader(request)
	cmd.Stdout, cmd.Stderr = stdoutWrite, stderrWrite
	startCommand(t, cmd)
	stdoutWrite.Close()
	stderrWrite.Close()
	return &helperSession{
		helperPID: cmd.Process.Pid,
		drop: func(t *testing.T) {
			stdoutRead.Close()
			stderrRead.Close()
		},
	}
}

// startOverSSH returns a start function that runs the helper through the OpenSSH client, as
// the provider's command line does, and drops the session with kill.
func startOverSSH(kill func(t *testing.T, client *exec.Cmd, helperPID int)) func(
	*testing.T, *disconnectDevice, []byte) *helperSession {
	return func(t *testing.T, d *disconnectDevice, request []byte) *helperSession {
		if _, err := exec.LookPath("ssh"); err != nil {
			t.Skip("ssh is missing: install the openssh-client package")
		}
		knownHosts := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(knownHosts, []byte(d.KnownHostsLine()+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ssh", "-i", d.ClientKeyPath, "-p", strconv.Itoa(d.Port),
			"-o", "UserKnownHostsFile="+knownHosts, "-o", "StrictHostKeyChecking=yes",
			"-o", "BatchMode=yes", d.User+"@"+d.Address(),
			d.helperPath()+" "+protocol.ServeCommand)
		cmd.Stdin = bytes.NewReader(request)
		output, err := os.Create(filepath.Join(t.TempDir(), "ssh-output"))
		if err != nil {
			t.Fatal(err)
		}
		defer output.Close()
		cmd.Stdout, cmd.Stderr = output, output
		startCommand(t, cmd)
		helperPID := waitForHelper(t, d.PID, output.Name())
		return &helperSession{helperPID: helperPID, drop: func(t *testing.T) { kill(t, cmd, helperPID) }}
	}
}

// killClient kills the ssh client, which closes its TCP connection.
func killClient(t *testing.T, client *exec.Cmd, _ int) {
	if err := client.Process.Kill(); err != nil {
		t.Fatalf("kill ssh client: %v", err)
	}
}

// killSSHSession kills the device's sshd process that serves the session, the helper's
// parent, as when that process crashes or the device's sshd is restarted.
func killSSHSession(t *testing.T, _ *exec.Cmd, helperPID int) {
	parent, err := parentPID(helperPID)
	if err != nil {
		t.Fatalf("find the helper's sshd: %v", err)
	}
	if err := syscall.Kill(parent, syscall.SIGKILL); err != nil {
		t.Fatalf("kill sshd session process %d: %v", parent, err)
	}
}

// startCommand starts cmd in its own process group and, when the test ends, kills the
// command and the helper if they are still running.
func startCommand(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	waited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(waited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-waited
	})
}

// waitForHelper returns the PID of the helper that the device's sshd (sshdPID) started. The
// ssh client writes to the file outputPath.
func waitForHelper(t *testing.T, sshdPID int, outputPath string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, pid := range processes() {
			if strings.Contains(commandLine(pid), "iotfleet-helper") && descendsFrom(pid, sshdPID) {
				t.Cleanup(func() { killHelper(t, pid) })
				return pid
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	output, _ := os.ReadFile(outputPath)
	t.Fatalf("the helper did not start over SSH; ssh output: %s", output)
	return 0
}

// killHelper kills a helper that outlived the test, so that the device can be stopped. Its
// traced processes die with it (PTRACE_O_EXITKILL), but a killed LXC monitor leaves cgroups
// behind, which removeCgroups removes.
func killHelper(t *testing.T, pid int) {
	if waitGone(pid, 0) {
		return
	}
	t.Logf("killing helper %d left from the test", pid)
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(pid, 10*time.Second)
}

func pipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	read, write, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		read.Close()
		write.Close()
	})
	return read, write
}

// disconnectDevice is a local device with the helper under test installed.
type disconnectDevice struct {
	*localdevice.Device
	t *testing.T
}

// startDisconnectDevice skips the test unless this machine can run LXC containers as root, and
// starts a local device with a fresh build of the helper that the test stops when it ends.
func startDisconnectDevice(t *testing.T) *disconnectDevice {
	t.Helper()
	if testing.Short() {
		t.Skip("starts LXC containers on a local device; skipped in -short mode")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a local device and LXC containers")
	}
	for _, tool := range []string{"/usr/sbin/sshd", "nsenter", "lxc-start", "lxc-stop"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: install the lxc and openssh-server packages", tool)
		}
	}
	probe := exec.Command("true")
	probe.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWNS}
	if err := probe.Run(); err != nil {
		t.Skipf("cannot create namespaces here (%v), so no container can start", err)
	}
	binary := filepath.Join(t.TempDir(), "iotfleet-helper")
	if output, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("build helper: %v\n%s", err, output)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	device, err := localdevice.Start(ctx, localdevice.Options{
		Name: fmt.Sprintf("hup%d", rand.IntN(1e6)), Root: t.TempDir(),
	})
	if err != nil {
		t.Fatalf("start local device: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := device.Stop(ctx); err != nil {
			t.Errorf("stop local device: %v", err)
		}
	})
	d := &disconnectDevice{Device: device, t: t}
	installed := filepath.Join(d.stateDir(), state.BinFolder, "iotfleet-helper")
	if err := os.MkdirAll(filepath.Dir(installed), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(binary, installed); err != nil {
		t.Fatalf("install helper: %v", err)
	}
	return d
}

// stateDir returns the path of the device's state folder outside the device.
func (d *disconnectDevice) stateDir() string {
	return filepath.Join(d.Dir, "iotfleet")
}

// helperPath returns the helper's path inside the device.
func (d *disconnectDevice) helperPath() string {
	return filepath.Join(localdevice.StateDir, state.BinFolder, "iotfleet-helper")
}

// request encodes a request with one call of op.
func (d *disconnectDevice) request(op string, params any) []byte {
	d.t.Helper()
	raw, err := json.Marshal(params)
	if err != nil {
		d.t.Fatal(err)
	}
	request, err := json.Marshal(protocol.Request{
		Version: protocol.Version, StateDir: localdevice.StateDir, LXCPath: localdevice.LXCPath,
		Calls: []protocol.Call{{ID: 1, Op: op, Params: raw}},
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return request
}

// do runs op in one helper request inside the device, fails the test when the call fails and
// decodes its data into out unless out is nil.
func (d *disconnectDevice) do(op string, params, out any) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(d.PID), "--net", "--mount", "--",
		d.helperPath(), protocol.ServeCommand)
	cmd.Stdin = bytes.NewReader(d.request(op, params))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		d.t.Fatalf("run helper %s: %v\nstderr: %s", op, err, stderr.String())
	}
	var response protocol.Response
	if err := json.Unmarshal(stdout.Bytes(), &response); err != nil || len(response.Results) != 1 {
		d.t.Fatalf("decode %s response %q: %v", op, stdout.String(), err)
	}
	if err := response.Results[0].Error; err != nil {
		d.t.Fatalf("%s: %v", op, err)
	}
	if out != nil {
		if err := json.Unmarshal(response.Results[0].Data, out); err != nil {
			d.t.Fatalf("decode %s result: %v", op, err)
		}
	}
}

// createContainer creates a stopped busybox container without a command, whose init exits at
// once on lxc-stop, and deletes it when the test ends.
func (d *disconnectDevice) createContainer(name string) {
	d.t.Helper()
	d.do(protocol.OpContainerApply, protocol.ContainerSpec{
		Name: name, Rootfs: protocol.RootfsBusybox, NoNewPrivs: true,
		Limits: protocol.Limits{MemoryBytes: 128 << 20, Pids: 64},
	}, nil)
	d.t.Cleanup(func() { d.do(protocol.OpContainerDelete, protocol.ContainerName{Name: name}, nil) })
}

// checkClean checks that container name is stopped with no process or cgroup left, and that
// nothing holds the locks that a recording of it takes.
func (d *disconnectDevice) checkClean(t *testing.T, name string) {
	t.Helper()
	if pids := cgroupProcesses(name); len(pids) > 0 {
		t.Errorf("processes %v of container %s still run", pids, name)
	}
	if dirs, err := cgroup.Leftovers(name); err != nil || len(dirs) > 0 {
		t.Errorf("cgroups of container %s = %v (error %v), want none", name, dirs, err)
	}
	var got protocol.ContainerState
	d.do(protocol.OpContainerGet, protocol.ContainerName{Name: name}, &got)
	if got.State != "STOPPED" {
		t.Errorf("container %s is %s, want STOPPED", name, got.State)
	}
	locks := []string{
		filepath.Join(d.stateDir(), state.LockFile),
		container.Paths{StateDir: d.stateDir(), Name: name}.Lock(),
		record.Store{StateDir: d.stateDir()}.LockPath(name),
	}
	for _, path := range locks {
		lock, err := lockfile.Acquire(context.Background(), path, lockfile.Exclusive, time.Second)
		if err != nil {
			t.Errorf("lock %s: %v; want it free", path, err)
			continue
		}
		lock.Release()
	}
}

// removeCgroups removes the cgroups of container name that a killed LXC monitor leaves
// behind, also those with the "-N" suffix that LXC picks while the plain name is taken.
func removeCgroups(t *testing.T, name string) {
	var dirs []string
	for _, pattern := range []string{"lxc.*." + name, "lxc.*." + name + "-*"} {
		for _, parent := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/*"} {
			matches, _ := filepath.Glob(filepath.Join(parent, pattern))
			dirs = append(dirs, matches...)
		}
	}
	for _, dir := range dirs {
		if err := cgroup.Remove(dir); err != nil {
			t.Errorf("remove cgroup left by the test: %v", err)
		}
	}
}

// waitForWorkload waits until the container's init has replaced the copy of lxc-start that
// LXC forks for it, which is when the tracer starts counting its calls.
func waitForWorkload(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, pid := range cgroupProcesses(name) {
			if line := commandLine(pid); line != "" && !strings.Contains(line, "lxc-start") {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the init of container %s did not start within a minute", name)
}

// describeLeftovers lists the processes and cgroups of container name.
func describeLeftovers(name string) string {
	var text strings.Builder
	for _, pid := range cgroupProcesses(name) {
		fmt.Fprintf(&text, "process %d: %s\n", pid, commandLine(pid))
	}
	dirs, _ := cgroup.Leftovers(name)
	fmt.Fprintf(&text, "cgroups: %v", dirs)
	return text.String()
}

// cgroupProcesses returns the processes in a cgroup that LXC made for container name: its
// payload (the container's processes) or its monitor (lxc-start).
func cgroupProcesses(name string) []int {
	var found []int
	for _, pid := range processes() {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil {
			continue
		}
		for _, segment := range strings.FieldsFunc(string(data), func(r rune) bool { return r == '/' || r == '\n' }) {
			if segment == "lxc.payload."+name || segment == "lxc.monitor."+name {
				found = append(found, pid)
				break
			}
		}
	}
	return found
}

// processes returns the PIDs in /proc.
func processes() []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, entry := range entries {
		if pid, err := strconv.Atoi(entry.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

func commandLine(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
}

// processStatus returns the state letter and the parent PID from /proc/PID/stat.
func processStatus(pid int) (byte, int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name in parentheses may contain spaces, so the fields start after the last ')'.
	fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(fields) < 2 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %q", pid, data)
	}
	parent, err := strconv.Atoi(fields[1])
	return fields[0][0], parent, err
}

func parentPID(pid int) (int, error) {
	_, parent, err := processStatus(pid)
	return parent, err
}

// descendsFrom reports whether process ancestor is an ancestor of process pid.
func descendsFrom(pid, ancestor int) bool {
	for pid > 1 {
		parent, err := parentPID(pid)
		if err != nil {
			return false
		}
		if parent == ancestor {
			return true
		}
		pid = parent
	}
	return false
}

// waitGone waits up to timeout for process pid to exit and reports whether it did. A zombie
// counts as gone.
func waitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		status, _, err := processStatus(pid)
		if errors.Is(err, fs.ErrNotExist) || status == 'Z' {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}
