//go:build linux

package record

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initspec"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// ebpfRun is one run of the workload under the eBPF recorder. It implements workload.
type ebpfRun struct {
	counter *ebpfCounter
	// lxc is lxc-start or lxc-attach, the helper's child.
	lxc    *os.Process
	exited chan struct{}
	status unix.WaitStatus

	// leaf is the cgroup that the recorder made for a command, or "" for a start.
	leaf string

	mu       sync.Mutex
	selected int

	done  chan struct{}
	trace Trace
	err   error
}

// startEBPF starts the workload under the eBPF recorder and returns once it runs: after
// iotfleet-init has been released, or after LXC exited without starting it.
func (r *recorder) startEBPF(ctx context.Context, deadline time.Time, stderr *os.File) (workload, error) {
	token, err := newHoldToken()
	if err != nil {
		return nil, err
	}
	counter, err := loadEBPF(r.arch)
	if err == nil {
		err = counter.attach()
		if err != nil {
			counter.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("start the eBPF recorder: %w", err)
	}
	run := &ebpfRun{counter: counter, exited: make(chan struct{}), done: make(chan struct{})}
	if err := run.startLXC(r.ebpfArgv(token), stderr); err != nil {
		counter.Close()
		return nil, err
	}

	pid, err := waitForHold(ctx, deadline, token, run.exited)
	if err == nil && pid != 0 {
		err = run.release(pid, r.params.Workload() == protocol.WorkloadCommand)
	}
	if err != nil {
		run.abort(pid)
		return nil, err
	}
	go run.finish()
	return run, nil
}

// ebpfArgv returns the command line of LXC's tool. It differs from the ptrace one in the
// hold: the container's init gets initspec.HoldEnv through lxc.environment, and a command is
// run by iotfleet-init with initspec.ExecFlag.
func (r *recorder) ebpfArgv(token string) []string {
	hold := initspec.HoldEnv + "=" + token
	if r.params.Workload() == protocol.WorkloadCommand {
		argv := []string{r.tool, "-n", r.paths.Name, "-P", r.paths.LXCPath, "--clear-env",
			"--set-var", "PATH=" + defaultPath, "--set-var", "HOME=/root", "--set-var", hold,
			"--", initspec.BinaryPath, initspec.ExecFlag}
		return append(argv, r.params.Command...)
	}
	return append(r.argv(), "-s", "lxc.environment="+hold)
}

// startLXC starts argv as the helper's child. The kernel sends it SIGKILL if the helper dies,
// which for lxc-start also ends the container, as ptrace's PTRACE_O_EXITKILL does. That signal
// follows the thread that started the child, so the thread stays locked until the child exits.
func (run *ebpfRun) startLXC(argv []string, stderr *os.File) error {
	// Read-write, because a workload that writes to its standard output must not fail with
	// EBADF and take another path than it would outside the recording.
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		process, err := os.StartProcess(argv[0], argv, &os.ProcAttr{
			Files: []*os.File{devNull, devNull, stderr},
			Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		})
		if err != nil {
			started <- fmt.Errorf("start %s: %w", argv[0], err)
			return
		}
		run.lxc = process
		started <- nil
		state, err := process.Wait()
		if err == nil {
			run.status = unix.WaitStatus(state.Sys().(syscall.WaitStatus))
		}
		close(run.exited)
	}()
	return <-started
}

// release selects the cgroup of the waiting init pid for the programs and lets it exec the
// workload. A command first gets a cgroup of its own below the one lxc-attach put it in,
// because the container's other processes and other attached commands share that one.
func (run *ebpfRun) release(pid int, command bool) error {
	mount, err := cgroup.UnifiedMountPoint()
	if err != nil {
		return err
	}
	dir, err := cgroup.UnifiedDir(mount, pid)
	if err != nil {
		return err
	}
	if command {
		run.leaf = filepath.Join(dir, "iotfleet-recording-"+fmt.Sprint(pid))
		if err := os.Mkdir(run.leaf, 0o755); err != nil {
			run.leaf = ""
			return fmt.Errorf("create a cgroup for the recorded command: %w", err)
		}
		if err := os.WriteFile(filepath.Join(run.leaf, "cgroup.procs"), []byte(fmt.Sprint(pid)), 0); err != nil {
			return fmt.Errorf("move the recorded command into cgroup %s: %w", run.leaf, err)
		}
		dir = run.leaf
	}
	if err := run.counter.selectCgroup(dir); err != nil {
		return err
	}
	run.mu.Lock()
	run.selected = pid
	run.mu.Unlock()
	if err := unix.Kill(pid, initspec.HoldSignal); err != nil {
		return fmt.Errorf("release the waiting iotfleet-init (process %d): %w", pid, err)
	}
	return nil
}

// abort ends a run whose start failed: it kills the waiting init, gives LXC's tool killGrace
// to clean up after it, kills the tool, and frees what the run holds.
func (run *ebpfRun) abort(initPID int) {
	if initPID != 0 {
		_ = unix.Kill(initPID, unix.SIGKILL)
		select {
		case <-run.exited:
		case <-time.After(killGrace):
		}
	}
	_ = run.lxc.Kill()
	<-run.exited
	run.waitLeafEmpty()
	run.counter.Close()
	_ = run.removeLeaf()
}

// finish waits until the workload has exited, then reads the counts and frees the programs.
// An attached command's children may outlive lxc-attach, and the run lasts until they exit too.
func (run *ebpfRun) finish() {
	defer close(run.done)
	<-run.exited
	run.waitLeafEmpty()
	run.trace, run.err = run.counter.trace()
	run.trace.Status = run.status
	run.err = errors.Join(run.err, run.counter.Close(), run.removeLeaf())
}

// leafPollInterval is how often the run checks whether its command's cgroup is empty.
const leafPollInterval = 50 * time.Millisecond

func (run *ebpfRun) waitLeafEmpty() {
	if run.leaf == "" {
		return
	}
	for {
		data, err := os.ReadFile(filepath.Join(run.leaf, "cgroup.procs"))
		if err != nil || len(data) == 0 {
			return
		}
		time.Sleep(leafPollInterval)
	}
}

func (run *ebpfRun) removeLeaf() error {
	if run.leaf == "" {
		return nil
	}
	return cgroup.Remove(run.leaf)
}

func (run *ebpfRun) Done() <-chan struct{} { return run.done }

func (run *ebpfRun) Result() (Trace, error) {
	<-run.done
	return run.trace, run.err
}

func (run *ebpfRun) SelectedPID() int {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.selected
}

// KillSelected sends SIGKILL to the container's init, whose death makes LXC stop the
// container, or to the attached command.
func (run *ebpfRun) KillSelected() {
	if pid := run.SelectedPID(); pid > 0 {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
}

// KillAll sends SIGKILL to every process of an attached command and to LXC's tool.
func (run *ebpfRun) KillAll() {
	if run.leaf != "" {
		killCgroup(run.leaf)
	}
	_ = run.lxc.Kill()
}

// killCgroup sends SIGKILL to every process in the cgroup folder dir: at once through
// cgroup.kill (Linux 5.14), else to each listed process, repeated while processes fork.
func killCgroup(dir string) {
	if os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) == nil {
		return
	}
	for range killRounds {
		data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil || len(data) == 0 {
			return
		}
		for _, field := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(field); err == nil && pid > 0 {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
		time.Sleep(leafPollInterval)
	}
}

// killRounds bounds killCgroup's rounds without cgroup.kill: 100 rounds of leafPollInterval.
const killRounds = 100
