//go:build linux

package localdevice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// sshdPath is absolute because sshd re-executes itself for every connection.
const sshdPath = "/usr/sbin/sshd"

// commandWaitDelay bounds how long a command's output pipes may stay open after it exits.
// A process that a command leaves behind, such as one that sshd forks, can hold them forever.
const commandWaitDelay = 5 * time.Second

// requiredTools are the programs Start runs, with the Debian package that provides each.
var requiredTools = []struct{ path, pkg string }{
	{sshdPath, "openssh-server"},
	{"ip", "iproute2"},
	{"nsenter", "util-linux"},
	{"unshare", "util-linux"},
	{"mount", "mount"},
	{"sh", "dash"},
}

// checkHost returns an error naming what is missing to run a device on this machine.
func checkHost() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root, because a device needs network namespaces, a veth " +
			"pair and bind mounts; rerun as root, e.g. with sudo")
	}
	for _, tool := range requiredTools {
		if _, err := exec.LookPath(tool.path); err != nil {
			return fmt.Errorf("%s not found: install the %s package", tool.path, tool.pkg)
		}
	}
	return nil
}

// run runs a command in its own process group and returns its standard output. The error
// contains the command line and the tail of standard error. Cancelling ctx kills the group.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group ID is the child's PID because of Setpgid.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = commandWaitDelay

	if err := cmd.Run(); err != nil {
		line := strings.Join(append([]string{name}, args...), " ")
		if detail := lastLines(stderr.String(), 5); detail != "" {
			return stdout.Bytes(), fmt.Errorf("run %s: %w: %s", line, err, detail)
		}
		return stdout.Bytes(), fmt.Errorf("run %s: %w", line, err)
	}
	return stdout.Bytes(), nil
}

// Exec runs argv inside the device's network and mount namespaces, where /var/lib/lxc and
// /var/lib/iotfleet are the device's own, and returns its standard output. The command runs
// directly as root with the caller's environment, not through SSH.
func (d *Device) Exec(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("exec on device %q: empty command", d.Name)
	}
	pid := d.liveSSHD()
	if pid == 0 {
		return nil, fmt.Errorf("exec on device %q: sshd is not running; start the device", d.Name)
	}
	out, err := run(ctx, "nsenter", enterArgs(pid, argv)...)
	if err != nil {
		return out, fmt.Errorf("exec on device %q: %w", d.Name, err)
	}
	return out, nil
}

// enterArgs returns nsenter's arguments that run argv in the namespaces of process pid.
func enterArgs(pid int, argv []string) []string {
	args := []string{"--target", fmt.Sprint(pid), "--net", "--mount", "--"}
	return append(args, argv...)
}

// lastLines returns the last n non-empty lines of text, joined by "; ".
func lastLines(text string, n int) string {
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// sleepContext waits for d or until ctx is done, whichever comes first.
func sleepContext(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
