//go:build linux

package localdevice

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// stopTimeout bounds a Stop whose context has no deadline.
const stopTimeout = 2 * time.Minute

// containerTimeout bounds each LXC command that Stop runs.
const containerTimeout = 30 * time.Second

// bindScript runs in a new mount namespace: it bind-mounts $1 over $2 and execs the rest of
// its arguments.
const bindScript = `mount --bind "$1" "$2" && shift 2 && exec "$@"`

// StopName stops the named device in root ("" means DefaultRoot). Unlike Load followed by Stop,
// it also cleans up a device whose state file is missing or unreadable, because the names of
// its namespace, veth and folder follow from its name.
func StopName(ctx context.Context, root, name string) error {
	d, err := Load(root, name)
	if err != nil {
		d, err = newDevice(root, name)
		if err != nil {
			return fmt.Errorf("stop device: %w", err)
		}
	}
	return d.Stop(ctx)
}

// Stop removes the device: it stops and destroys the device's LXC containers from inside the
// device, ends every process in the device's namespaces, deletes the namespace and the veth
// pair, and then removes the folder. It is idempotent, and it also works on a device that a
// crash left half-built. It keeps the folder when an earlier step fails, so that the error can
// be investigated and Stop retried.
func (d *Device) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	sshdPID := d.liveSSHD()

	var errs []error
	if err := d.destroyContainers(ctx, sshdPID); err != nil {
		errs = append(errs, err)
	}
	if err := d.stopProcesses(ctx, sshdPID); err != nil {
		errs = append(errs, err)
	}
	if err := d.deleteNetwork(ctx); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		if err := d.removeFolder(); err != nil {
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, fmt.Errorf("kept folder %s; retry the stop after fixing the errors", d.Dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop device %q: %w", d.Name, err)
	}
	return nil
}

// destroyContainers stops and destroys every container in the device's lxc folder. LXC's
// command socket is an abstract Unix socket and so belongs to a network namespace: the commands
// must run inside the device, or a running container looks stopped and lxc-destroy deletes its
// files while it runs.
func (d *Device) destroyContainers(ctx context.Context, sshdPID int) error {
	names, err := containerNames(d.lxcDir())
	if err != nil || len(names) == 0 {
		return err
	}
	for _, tool := range []string{"lxc-info", "lxc-stop", "lxc-destroy"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("destroy containers %v: %s not found: install the lxc package",
				names, tool)
		}
	}

	enter := d.containerCommand(sshdPID)
	var errs []error
	for _, name := range names {
		if err := destroyContainer(ctx, enter, name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// containerNames lists the containers in lxcDir: the subfolders that have a config file,
// which is also what lxc-ls lists. Reading the folder works even when sshd is gone.
func containerNames(lxcDir string) ([]string, error) {
	entries, err := os.ReadDir(lxcDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var names []string
	for _, entry := range entries {
		config := filepath.Join(lxcDir, entry.Name(), "config")
		if info, err := os.Stat(config); entry.IsDir() && err == nil && info.Mode().IsRegular() {
			names = append(names, entry.Name())
		}
	}
	return names, nil
}

// containerCommand returns a function that builds the command line running an LXC tool inside
// the device. With sshd alive it enters sshd's namespaces. Otherwise it rebuilds the device's
// view: the network namespace, if it still exists, and a new mount namespace with the lxc
// folder bind-mounted over /var/lib/lxc.
func (d *Device) containerCommand(sshdPID int) func(argv ...string) []string {
	if sshdPID != 0 {
		return func(argv ...string) []string {
			return append([]string{"nsenter"}, enterArgs(sshdPID, argv)...)
		}
	}
	var prefix []string
	if _, err := os.Lstat(d.netnsPath()); err == nil {
		prefix = []string{"nsenter", "--net=" + d.netnsPath(), "--"}
	}
	prefix = append(prefix, "unshare", "--mount", "--propagation", "private", "--",
		"sh", "-c", bindScript, "sh", d.lxcDir(), LXCPath)
	return func(argv ...string) []string {
		return append(append([]string(nil), prefix...), argv...)
	}
}

// destroyContainer stops one container, kills its init if lxc-stop leaves it running, and
// destroys it.
func destroyContainer(ctx context.Context, enter func(argv ...string) []string, name string) error {
	ctx, cancel := context.WithTimeout(ctx, containerTimeout)
	defer cancel()
	lxc := func(tool string, args ...string) ([]byte, error) {
		argv := enter(append([]string{tool, "-P", LXCPath, "-n", name}, args...)...)
		return run(ctx, argv[0], argv[1:]...)
	}

	// lxc-info prints nothing for -p when the container is stopped.
	var init []pidHandle
	if out, err := lxc("lxc-info", "-p", "-H"); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && pid > 0 {
			if h, err := openPID(pid); err == nil {
				init = append(init, h)
				defer h.close()
			}
		}
	}

	// lxc-stop fails on a container that is not running, so its error counts only when the
	// container's init survives it.
	_, stopErr := lxc("lxc-stop", "-k")
	if running := waitExit(ctx, init, killGrace); len(running) > 0 {
		for _, h := range running {
			_ = h.signal(unix.SIGKILL)
		}
		if len(waitExit(ctx, running, killGrace)) > 0 {
			return fmt.Errorf("stop container %q: init PID %d survived SIGKILL (lxc-stop: %v)",
				name, running[0].pid, stopErr)
		}
	}

	if _, err := lxc("lxc-destroy"); err != nil {
		return fmt.Errorf("destroy container %q: %w", name, err)
	}
	return nil
}

// removeFolder deletes the device's folder. It refuses while anything is mounted below it in
// this mount namespace, because RemoveAll would then delete the mounted files.
func (d *Device) removeFolder() error {
	mounts, err := mountsBelow(d.Dir)
	if err != nil {
		return fmt.Errorf("remove device folder: %w", err)
	}
	if len(mounts) > 0 {
		return fmt.Errorf("remove device folder %s: %s is mounted; unmount it and stop again",
			d.Dir, mounts[0])
	}
	if err := os.RemoveAll(d.Dir); err != nil {
		return fmt.Errorf("remove device folder: %w", err)
	}
	return nil
}

// mountsBelow returns the mount points of the calling process at or below dir.
func mountsBelow(dir string) ([]string, error) {
	file, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer file.Close()

	var mounts []string
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		// The fifth field is the mount point, with spaces and some other bytes octal-escaped.
		fields := strings.Fields(scanner.Text())
		if len(fields) < 5 {
			continue
		}
		point := unescapeMountPoint(fields[4])
		if point == dir || strings.HasPrefix(point, dir+"/") {
			mounts = append(mounts, point)
		}
	}
	return mounts, scanner.Err()
}

// unescapeMountPoint decodes the \NNN octal escapes that /proc/self/mountinfo uses.
func unescapeMountPoint(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
