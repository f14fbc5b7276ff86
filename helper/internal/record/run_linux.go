//go:build linux

package record

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/container"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/liblxc"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// Run records params.RunCount() runs of the workload, stores their union as the recording's
// result and returns its state.
func Run(ctx context.Context, env *server.Env, params protocol.RecordingRunParams) (protocol.RecordingState, error) {
	if err := params.Validate(); err != nil {
		return protocol.RecordingState{}, protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	if err := container.ValidateName(params.Container); err != nil {
		return protocol.RecordingState{}, protocol.Errorf(protocol.CodeInvalid, "recording %q: %v", params.Name, err)
	}
	r, err := newRecorder(env, params)
	if err != nil {
		return protocol.RecordingState{}, err
	}
	var result protocol.RecordingState
	err = env.State.WithShared(ctx, func(exists bool) error {
		if !exists {
			return r.containerMissing()
		}
		return r.withLocks(ctx, func() error {
			result, err = r.record(ctx)
			return err
		})
	})
	return result, err
}

// recorder runs one recording request.
type recorder struct {
	env    *server.Env
	params protocol.RecordingRunParams
	paths  container.Paths
	store  Store
	// tool is the absolute path of lxc-start or lxc-attach.
	tool   string
	arch   seccomp.Arch
	kernel string
	// mechanism is protocol.MechanismEBPF or MechanismPtrace, chosen by record.
	mechanism string
}

func newRecorder(env *server.Env, params protocol.RecordingRunParams) (*recorder, error) {
	toolName := "lxc-start"
	if params.Workload() == protocol.WorkloadCommand {
		toolName = "lxc-attach"
	}
	tool, err := exec.LookPath(toolName)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w; install LXC's tools on the device", toolName, err)
	}
	arch, kernel, err := kernelArch()
	if err != nil {
		return nil, err
	}
	return &recorder{
		env: env, params: params, tool: tool, arch: arch, kernel: kernel,
		paths: container.Paths{StateDir: env.State.Path, LXCPath: env.LXCPath, Name: params.Container},
		store: Store{StateDir: env.State.Path},
	}, nil
}

// kernelArch returns the native seccomp ABI and the release of the running kernel.
func kernelArch() (seccomp.Arch, string, error) {
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "", "", fmt.Errorf("read kernel name: %w", err)
	}
	arch, err := seccomp.ArchForMachine(unix.ByteSliceToString(uts.Machine[:]))
	if err != nil {
		return "", "", err
	}
	return arch, unix.ByteSliceToString(uts.Release[:]), nil
}

func (r *recorder) containerMissing() error {
	return protocol.Errorf(protocol.CodeNotFound, "recording %q: container %q does not exist on the device; "+
		"create it first", r.params.Name, r.params.Container)
}

// withLocks runs fn holding the recording's lock and the container's lock, both exclusive, so
// that no apply changes the container while it is recorded.
func (r *recorder) withLocks(ctx context.Context, fn func() error) error {
	timeout := r.env.State.LockTimeout
	if timeout == 0 {
		timeout = state.DefaultLockTimeout
	}
	return r.store.WithLock(ctx, timeout, r.params.Name, func() error {
		containerLock, err := lockfile.Acquire(ctx, r.paths.Lock(), lockfile.Exclusive, timeout)
		if errors.Is(err, fs.ErrNotExist) {
			return r.containerMissing()
		}
		if err != nil {
			return fmt.Errorf("lock container %q: %w", r.params.Container, err)
		}
		err = fn()
		if releaseErr := containerLock.Release(); releaseErr != nil {
			return errors.Join(err, releaseErr)
		}
		return err
	})
}

func (r *recorder) record(ctx context.Context) (protocol.RecordingState, error) {
	if err := r.checkContainer(); err != nil {
		return protocol.RecordingState{}, err
	}
	if err := r.chooseMechanism(); err != nil {
		return protocol.RecordingState{}, err
	}
	result := protocol.RecordingResult{
		Name: r.params.Name, Container: r.params.Container, Mechanism: r.mechanism,
		Arch: string(r.arch), Kernel: r.kernel, Workload: r.params.Workload(),
		DurationSeconds: r.params.DurationSeconds, Command: r.params.Command,
		StartedAt: time.Now().UTC(),
	}
	var runs []RunCounts
	for i := range r.params.RunCount() {
		run, err := r.runOnce(ctx)
		if err != nil {
			return protocol.RecordingState{}, fmt.Errorf("recording %q, run %d of %d: %w",
				r.params.Name, i+1, r.params.RunCount(), err)
		}
		r.env.Log.Info("recorded run", "recording", r.params.Name, "container", r.params.Container,
			"run", i+1, "outcome", run.Run.Outcome, "calls", run.Run.Calls)
		runs = append(runs, run)
	}
	result.FinishedAt = time.Now().UTC()
	Merge(&result, runs)
	return r.store.Write(result)
}

// checkContainer requires a stopped container for WorkloadStart and a running one for
// WorkloadCommand.
func (r *recorder) checkContainer() error {
	c, err := liblxc.Open(r.paths.LXCPath, r.paths.Name)
	if err != nil {
		return fmt.Errorf("open container %q: %w", r.paths.Name, err)
	}
	defer c.Close()
	if !c.Defined() {
		return r.containerMissing()
	}
	running := c.Running()
	switch {
	case r.params.Workload() == protocol.WorkloadStart && running:
		return protocol.Errorf(protocol.CodeConflict, "recording %q starts container %q, which is running; "+
			"stop it first (running = false) or record a command instead", r.params.Name, r.paths.Name)
	case r.params.Workload() == protocol.WorkloadCommand && !running:
		return protocol.Errorf(protocol.CodeConflict, "recording %q attaches a command to container %q, "+
			"which is stopped; start it first", r.params.Name, r.paths.Name)
	}
	return nil
}

// argv returns the traced command line. The container's own seccomp policy is cleared for
// lxc-start, because a call that the policy rejects never reaches the tracer's filter (the
// kernel applies the strictest action), and the recording exists to find those calls.
func (r *recorder) argv() []string {
	if r.params.Workload() == protocol.WorkloadCommand {
		argv := []string{r.tool, "-n", r.paths.Name, "-P", r.paths.LXCPath, "--clear-env",
			"--set-var", "PATH=" + defaultPath, "--set-var", "HOME=/root", "--"}
		return append(argv, r.params.Command...)
	}
	return []string{r.tool, "-F", "-n", r.paths.Name, "-P", r.paths.LXCPath, "-s", "lxc.seccomp.profile="}
}

// defaultPath is the PATH of an attached command, as for container.exec.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func (r *recorder) selection() Selection {
	if r.params.Workload() == protocol.WorkloadCommand {
		return SelectAttached
	}
	return SelectContainerInit
}

// runOnce records one run of the workload and cleans up after it.
func (r *recorder) runOnce(ctx context.Context) (RunCounts, error) {
	stderr, err := newTail()
	if err != nil {
		return RunCounts{}, err
	}
	run := protocol.RecordingRun{StartedAt: time.Now().UTC()}
	deadline := time.Now().Add(r.params.Timeout())
	started, err := r.start(ctx, deadline, stderr.writer)
	stderr.closeWriter()
	if err != nil {
		output := stderr.close()
		return RunCounts{}, errors.Join(fmt.Errorf("%w%s", err, output), r.cleanup())
	}
	run.Outcome = r.supervise(ctx, started, deadline)
	trace, traceErr := started.Result()
	output := stderr.close()
	run.FinishedAt = time.Now().UTC()
	run.ExitCode = exitCode(trace.Status)
	run.Processes = trace.Processes
	for _, n := range trace.Counts {
		run.Calls += n
	}

	cleanupErr := r.cleanup()
	switch {
	case traceErr != nil:
		return RunCounts{}, errors.Join(traceErr, cleanupErr)
	case ctx.Err() != nil:
		return RunCounts{}, errors.Join(fmt.Errorf("recording canceled: %w", ctx.Err()), cleanupErr)
	case cleanupErr != nil:
		return RunCounts{}, cleanupErr
	case started.SelectedPID() == 0:
		return RunCounts{}, fmt.Errorf("%s exited with code %d before the workload started%s",
			r.tool, run.ExitCode, output)
	}
	return RunCounts{Run: run, Counts: trace.Counts}, nil
}

// start starts the workload under the chosen mechanism.
func (r *recorder) start(ctx context.Context, deadline time.Time, stderr *os.File) (workload, error) {
	if r.mechanism == protocol.MechanismEBPF {
		return r.startEBPF(ctx, deadline, stderr)
	}
	return Start(r.argv(), stderr, r.selection())
}

func exitCode(status unix.WaitStatus) int {
	if status.Signaled() {
		return 128 + int(status.Signal())
	}
	return status.ExitStatus()
}

// cleanup removes the cgroups that a killed LXC monitor leaves behind, because the next start
// of the container fails while they exist. It does nothing for a running container.
func (r *recorder) cleanup() error {
	if r.params.Workload() != protocol.WorkloadStart {
		return nil
	}
	c, err := liblxc.Open(r.paths.LXCPath, r.paths.Name)
	if err != nil {
		return fmt.Errorf("open container %q: %w", r.paths.Name, err)
	}
	running := c.Running()
	c.Close()
	if running {
		return fmt.Errorf("container %q still runs after its recording; stop it with lxc-stop -k", r.paths.Name)
	}
	leftovers, err := cgroup.Stale(r.paths.LXCPath, r.paths.Name)
	if err != nil {
		return fmt.Errorf("find cgroups of container %q: %w", r.paths.Name, err)
	}
	for _, dir := range leftovers {
		if err := cgroup.Remove(dir); err != nil {
			return fmt.Errorf("remove cgroup of container %q: %w", r.paths.Name, err)
		}
	}
	return nil
}

// tail collects the last bytes of a child's standard error.
type tail struct {
	reader, writer *os.File
	done           chan struct{}
	buffer         []byte
}

const tailBytes = 4096

func newTail() (*tail, error) {
	reader, writer, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create pipe: %w", err)
	}
	t := &tail{reader: reader, writer: writer, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		chunk := make([]byte, 1024)
		for {
			n, err := reader.Read(chunk)
			t.buffer = append(t.buffer, chunk[:n]...)
			if len(t.buffer) > tailBytes {
				t.buffer = t.buffer[len(t.buffer)-tailBytes:]
			}
			if err != nil {
				return
			}
		}
	}()
	return t, nil
}

func (t *tail) closeWriter() { t.writer.Close() }

// close stops collecting and returns the output as ": <output>", or "" when there was none.
// A process of the workload that still holds the pipe cannot delay it.
func (t *tail) close() string {
	select {
	case <-t.done:
	case <-time.After(time.Second):
	}
	t.reader.Close()
	<-t.done
	text := strings.TrimSpace(string(t.buffer))
	if text == "" {
		return ""
	}
	return ": " + text
}
