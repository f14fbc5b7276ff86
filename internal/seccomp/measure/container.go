//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

// startMode selects how lxc-start runs: in the foreground (-F) or daemonized, as liblxc's
// start from the helper does.
type startMode string

const (
	foreground startMode = "foreground"
	daemonized startMode = "daemonized"
)

// measurePolicy makes LXC load a filter that allows everything the measurement needs.
const measurePolicy = "2\ndenylist\n[all]\nkexec_load errno 1\n"

// hardenScript turns a container made by the busybox template into one hardened as the
// provider's containers are. Its arguments: $1 is the container folder, $2 the policy, $3 and
// $4 the first host uid and gid of the idmap, $5 the cgroup key prefix, $6 the capabilities to
// keep and $7 more configuration lines. The template's veth, AppArmor and cap.drop lines go,
// because there is no lxcbr0 or AppArmor here and LXC rejects cap.drop next to cap.keep. So
// does /sys: a local device mounts parts of its own sysfs over /sys/class/net, and the kernel
// then refuses a new sysfs mount in a user namespace. The mapped root must be able to
// traverse the container folder.
const hardenScript = `set -eu
sed -i -e '/^lxc\.net\.0\./d' -e '/^lxc\.apparmor\./d' -e '/^lxc\.cap\.drop/d' \
	-e '/sys\/kernel\/security/d' -e 's/^lxc\.mount\.auto = .*/lxc.mount.auto = proc:mixed/' "$1/config"
cat >>"$1/config" <<EOF
lxc.net.0.type = empty
lxc.idmap = u 0 $3 65536
lxc.idmap = g 0 $4 65536
lxc.cap.keep = $6
lxc.no_new_privs = 1
$5.pids.max = 64
lxc.seccomp.profile = $2
$7
EOF
if [ "$5" = lxc.cgroup2 ]; then
	echo "lxc.cgroup2.memory.max = 67108864" >>"$1/config"
else
	echo "lxc.cgroup.memory.limit_in_bytes = 67108864" >>"$1/config"
fi
chmod 0711 "$1"
`

// initVariant is the init that a container runs: busybox init from the template, or a static
// binary that LXC runs from /dev/.iotfleet/init as the helper runs iotfleet-init.
type initVariant struct {
	name   string
	binary string
}

// initBinaryName names the -init variant in stages and container names.
const initBinaryName = "iotfleet-init"

var busyboxInit = initVariant{name: "busybox-init"}

// initBinaryScript installs the init binary $2 into $1/iotfleet with a spec that starts no
// workload, and makes LXC mount that folder at /dev/.iotfleet and run the binary as init. The
// binary's idle mode exits on SIGPWR, which the halt signal must then name explicitly: without
// it, LXC 5.0.2 sends SIGRTMIN+3 to an init that blocks that signal, as Go programs do.
const initBinaryScript = `set -eu
mkdir -m 0755 "$1/iotfleet"
cp "$2" "$1/iotfleet/init"
chmod 0755 "$1/iotfleet/init"
printf '{"env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}' >"$1/iotfleet/init.json"
sed -i -e '/^lxc\.signal\.halt/d' "$1/config"
cat >>"$1/config" <<EOF
lxc.signal.halt = SIGPWR
lxc.mount.entry = $1/iotfleet dev/.iotfleet none ro,bind,create=dir 0 0
lxc.init.cmd = /dev/.iotfleet/init
EOF
`

// containerSpec is one container of a run.
type containerSpec struct {
	name   string
	mode   startMode
	init   initVariant
	config configVariant
}

// configVariant is one hardened configuration that each run starts.
type configVariant struct {
	name     string
	keepCaps string
	extra    string
}

// configVariants cover the two paths LXC takes after loading the filter. The first keeps no
// capability and runs init as the container's root. The second keeps a capability and runs
// init as another user, so LXC raises ambient capabilities and switches IDs.
var configVariants = []configVariant{
	{name: "root", keepCaps: "none"},
	{name: "user", keepCaps: "net_bind_service", extra: "lxc.init.uid = 1000\nlxc.init.gid = 1000"},
}

// idmapStart is the first host ID that the containers' idmap maps root to.
const idmapStart = 1000000

// lxcStartPath is the PATH that lxc-start runs with. It leaves out newuidmap and newgidmap
// (/usr/bin, and /bin, which merged-usr systems link to it), so that LXC, running as root,
// writes the idmap itself and needs no range for root in /etc/subuid and /etc/subgid. That
// happens in the LXC monitor, before the filter loads, so it does not change what is measured.
const lxcStartPath = "PATH=/usr/sbin:/sbin"

// stepTimeout bounds each LXC command.
const stepTimeout = 60 * time.Second

// measurer runs the measurement in one local device.
type measurer struct {
	dev       *localdevice.Device
	workDir   string
	cgroupKey string
	// lxcStart and strace are absolute paths, because lxc-start runs with lxcStartPath.
	lxcStart, strace string
}

// runTraces are the stage sets of one run: of the lxc-start trace and of the lxc-attach trace.
type runTraces struct {
	start, attach map[string]map[string]bool
}

func startMeasurer(ctx context.Context, workDir string) (*measurer, error) {
	for _, tool := range []string{"lxc-create", "lxc-start", "lxc-attach", "lxc-stop", "lxc-wait", "strace"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s not found: install the lxc and strace packages", tool)
		}
	}
	lxcStart, _ := exec.LookPath("lxc-start")
	strace, _ := exec.LookPath("strace")
	cgroupKey := "lxc.cgroup"
	var fs syscall.Statfs_t
	if err := syscall.Statfs("/sys/fs/cgroup", &fs); err == nil && fs.Type == 0x63677270 { // CGROUP2_SUPER_MAGIC
		cgroupKey = "lxc.cgroup2"
	}

	name := fmt.Sprintf("msr%d", os.Getpid()%100000)
	dev, err := localdevice.Start(ctx, localdevice.Options{Name: name})
	if err != nil {
		return nil, fmt.Errorf("start local device: %w", err)
	}
	return &measurer{dev: dev, workDir: workDir, cgroupKey: cgroupKey, lxcStart: lxcStart, strace: strace}, nil
}

// close stops the device, which also destroys any container a failed run left behind.
func (m *measurer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := m.dev.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "measure: stop local device:", err)
	}
}

// measureRun creates, traces and destroys one container.
func (m *measurer) measureRun(ctx context.Context, c containerSpec, opts options) (runTraces, error) {
	name := c.name
	if err := m.createContainer(ctx, c); err != nil {
		return runTraces{}, err
	}
	defer m.destroyContainer(name)

	startTrace := filepath.Join(m.workDir, name+"-start.trace")
	stopMicros, err := m.traceLifecycle(ctx, name, c.mode, startTrace, opts)
	if err != nil {
		return runTraces{}, err
	}

	start, err := readStages(startTrace, stopMicros)
	if err != nil {
		return runTraces{}, err
	}
	attach := make(map[string]map[string]bool)
	for _, a := range attachVariants {
		stages, err := readStages(m.attachTrace(name, a.name), 0)
		if err != nil {
			return runTraces{}, err
		}
		mergeStages(attach, stages)
	}
	if len(start[stageBeforeExec]) == 0 || len(attach[stageBeforeExec]) == 0 {
		return runTraces{}, errors.New("a trace shows no seccomp filter being loaded; check that the " +
			"policy is set and that strace prints seccomp(SECCOMP_SET_MODE_FILTER, ...)")
	}
	return runTraces{start: start, attach: attach}, nil
}

func (m *measurer) createContainer(ctx context.Context, c containerSpec) error {
	name, variant := c.name, c.config
	if _, err := m.exec(ctx, "lxc-create", "-t", "busybox", "-n", name); err != nil {
		return err
	}
	dir := "/var/lib/lxc/" + name
	policy := dir + "/measure.policy"
	if _, err := m.exec(ctx, "sh", "-c", `printf '%s' "$2" >"$1"`, "sh", policy, measurePolicy); err != nil {
		return err
	}
	_, err := m.exec(ctx, "sh", "-c", hardenScript, "sh", dir, policy,
		strconv.Itoa(idmapStart), strconv.Itoa(idmapStart), m.cgroupKey, variant.keepCaps,
		variant.extra)
	if err != nil || c.init.binary == "" {
		return err
	}
	_, err = m.exec(ctx, "sh", "-c", initBinaryScript, "sh", dir, c.init.binary)
	return err
}

func (m *measurer) destroyContainer(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	_, _ = m.exec(ctx, "lxc-stop", "-n", name, "-k")
	if _, err := m.exec(ctx, "lxc-destroy", "-n", name); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
	}
	if err := removeCgroups(name); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
	}
}

// removeCgroups removes the empty cgroups that LXC made for container name and left behind
// because a run was interrupted and its monitor killed. A left cgroup makes the next start of
// a container of that name fail with ERANGE. The names are unique to this tool's containers.
func removeCgroups(name string) error {
	var leftovers []string
	for _, pattern := range []string{"/sys/fs/cgroup/lxc.*." + name, "/sys/fs/cgroup/*/lxc.*." + name} {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return fmt.Errorf("find cgroups of %s: %w", name, err)
		}
		leftovers = append(leftovers, matches...)
	}
	for _, dir := range leftovers {
		if err := removeCgroupTree(dir); err != nil {
			return fmt.Errorf("remove cgroup of %s: %w", name, err)
		}
	}
	return nil
}

// removeCgroupTree removes dir and its child cgroups, deepest first. rmdir fails on a cgroup
// that still has processes, so nothing running is removed.
func removeCgroupTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if entry.IsDir() {
			if err := removeCgroupTree(filepath.Join(dir, entry.Name())); err != nil {
				return err
			}
		}
	}
	return os.Remove(dir)
}

// attachVariants are the ways each run attaches the command. The first is lxc-attach's
// default. The second attaches as a helper does for a container user, with a clean environment
// and an explicit uid and gid, so LXC switches IDs after it loads the filter.
var attachVariants = []struct {
	name    string
	options []string
}{
	{"default", nil},
	{"user", []string{"--clear-env", "-u", "1000", "-g", "1000"}},
}

func (m *measurer) attachTrace(container, variant string) string {
	return filepath.Join(m.workDir, container+"-attach-"+variant+".trace")
}

// traceLifecycle starts the container under strace, attaches the command under strace in
// each of attachVariants and stops the container. It returns when the traced lxc-start has
// exited, with the time the stop began in microseconds since the epoch.
func (m *measurer) traceLifecycle(ctx context.Context, name string, mode startMode,
	startTrace string, opts options) (int64, error) {
	argv := []string{"/usr/bin/env", lxcStartPath, m.strace}
	argv = append(append(argv, straceOptions(startTrace)...), m.lxcStart, "-n", name)
	if mode == foreground {
		argv = append(argv, "-F")
	}
	traced, err := m.startBackground(ctx, argv)
	if err != nil {
		return 0, err
	}
	defer traced.stop()

	if _, err := m.exec(ctx, "lxc-wait", "-n", name, "-s", "RUNNING", "-t", "30"); err != nil {
		return 0, err
	}
	killInit, err := m.initKiller(ctx, name)
	if err != nil {
		return 0, err
	}
	defer killInit()
	if err := sleepContext(ctx, opts.settle); err != nil {
		return 0, err
	}
	for _, a := range attachVariants {
		argv := append([]string{m.strace}, straceOptions(m.attachTrace(name, a.name))...)
		argv = append(argv, "lxc-attach", "-n", name)
		argv = append(append(append(argv, a.options...), "--"), opts.attach...)
		if _, err := m.exec(ctx, argv...); err != nil {
			return 0, err
		}
	}
	stopMicros := time.Now().UnixMicro()
	if _, err := m.exec(ctx, "lxc-stop", "-n", name, "-t", "30"); err != nil {
		return 0, err
	}
	if err := traced.wait(stepTimeout); err != nil {
		return 0, fmt.Errorf("traced lxc-start: %w", err)
	}
	return stopMicros, nil
}

// initKiller returns a function that kills the container's init unless it has exited. When a
// run is interrupted, killing the traced lxc-start -F also kills the LXC monitor, and without
// it neither lxc-stop nor lxc-destroy can stop the container. A pidfd keeps the kill from
// reaching another process that reuses the PID.
func (m *measurer) initKiller(ctx context.Context, name string) (func(), error) {
	out, err := m.exec(ctx, "lxc-info", "-n", name, "-p", "-H")
	if err != nil {
		return nil, err
	}
	pid, err := strconv.Atoi(out)
	if err != nil {
		return nil, fmt.Errorf("read init PID of %s: %q is not a PID", name, out)
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("open init %d of %s: %w", pid, name, err)
	}
	return func() {
		_ = unix.PidfdSendSignal(pidfd, unix.SIGKILL, nil, 0)
		_ = unix.Close(pidfd)
	}, nil
}

func straceOptions(output string) []string {
	return []string{"-f", "-qq", "-ttt", "--decode-pids=pidns", "-o", output}
}

// mergeStages adds the names of each stage of from to into.
func mergeStages(into, from map[string]map[string]bool) {
	for stage, names := range from {
		if into[stage] == nil {
			into[stage] = make(map[string]bool)
		}
		for name := range names {
			into[stage][name] = true
		}
	}
}

func readStages(path string, stopMicros int64) (map[string]map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open trace: %w", err)
	}
	defer f.Close()
	calls, unparsed, err := parseTrace(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	if len(unparsed) > 0 {
		fmt.Fprintf(os.Stderr, "measure: %s: skipped %d lines that are not calls, such as %q\n",
			filepath.Base(path), len(unparsed), unparsed[0])
	}
	return stageSets(calls, stopMicros), nil
}

// exec runs argv inside the device, bounded by stepTimeout.
func (m *measurer) exec(ctx context.Context, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	out, err := m.dev.Exec(ctx, argv...)
	return strings.TrimSpace(string(out)), err
}

// background is a command running inside the device in its own process group.
type background struct {
	cmd  *exec.Cmd
	done chan error
}

// startBackground starts argv inside the device's network and mount namespaces, as
// localdevice's Exec does, without waiting for it.
func (m *measurer) startBackground(ctx context.Context, argv []string) (*background, error) {
	args := append([]string{"--target", strconv.Itoa(m.dev.PID), "--net", "--mount", "--"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	log, err := os.Create(filepath.Join(m.workDir, "background.log"))
	if err != nil {
		return nil, fmt.Errorf("create log: %w", err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", strings.Join(argv, " "), err)
	}
	b := &background{cmd: cmd, done: make(chan error, 1)}
	go func() { b.done <- cmd.Wait() }()
	return b, nil
}

// wait waits at most timeout for the command to exit.
func (b *background) wait(timeout time.Duration) error {
	select {
	case err := <-b.done:
		b.done <- err
		return err
	case <-time.After(timeout):
		return fmt.Errorf("still running after %s", timeout)
	}
}

// stop kills the command's process group unless it has exited.
func (b *background) stop() {
	select {
	case err := <-b.done:
		b.done <- err
	default:
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
		<-b.done
	}
}

func fileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("hash init binary: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

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
