//go:build linux

package record

import (
	"context"
	"os/exec"
	"strconv"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

const (
	// stopGrace is how long lxc-stop waits for the container's init to exit after
	// lxc.signal.halt before it kills the container.
	stopGrace = 10 * time.Second
	// killGrace is how long a killed container's LXC monitor gets to clean up before the
	// helper kills it too.
	killGrace = 5 * time.Second
)

// workload is a recorded workload that runs, under either mechanism.
type workload interface {
	// Done is closed when every process of the workload has exited.
	Done() <-chan struct{}

	// Result returns the counts once Done is closed.
	Result() (Trace, error)

	// SelectedPID returns the host PID of the container's init or the attached command, or 0
	// when LXC exited before it started one.
	SelectedPID() int

	// KillSelected sends SIGKILL to the process of SelectedPID.
	KillSelected()

	// KillAll sends SIGKILL to every process of the workload that is left, LXC's tool included.
	KillAll()
}

// supervise waits for the recorded workload. A started container is stopped after the
// duration; a workload still running at the deadline, or when ctx ends, is killed. It returns
// the run's outcome once every process of the workload has exited.
func (r *recorder) supervise(ctx context.Context, started workload, runDeadline time.Time) string {
	deadline := time.NewTimer(time.Until(runDeadline))
	defer deadline.Stop()
	var stopAt <-chan time.Time
	if r.params.Workload() == protocol.WorkloadStart {
		stopTimer := time.NewTimer(time.Duration(r.params.DurationSeconds) * time.Second)
		defer stopTimer.Stop()
		stopAt = stopTimer.C
	}
	stopCtx, cancelStop := context.WithCancel(ctx)
	defer cancelStop()

	outcome := protocol.RunExited
	for {
		select {
		case <-started.Done():
			return outcome
		case <-stopAt:
			stopAt = nil
			outcome = protocol.RunStopped
			go r.stopContainer(stopCtx)
		case <-deadline.C:
			r.kill(started)
			return protocol.RunTimedOut
		case <-ctx.Done():
			r.kill(started)
			return protocol.RunTimedOut
		}
	}
}

// stopContainer asks LXC's monitor to stop the container as lxc-stop does, which runs its
// normal shutdown, so the recording includes the workload's calls at stop.
func (r *recorder) stopContainer(ctx context.Context) {
	cmd := exec.CommandContext(ctx, "lxc-stop", "-n", r.paths.Name, "-P", r.paths.LXCPath,
		"-t", strconv.Itoa(int(stopGrace.Seconds())))
	cmd.WaitDelay = time.Second
	if output, err := cmd.CombinedOutput(); err != nil && ctx.Err() == nil {
		r.env.Log.Warn("stop recorded container failed", "container", r.paths.Name,
			"error", err, "output", string(output))
	}
}

// kill ends the workload: first the container's init or the attached command, so that LXC
// stops the container and removes its cgroups, then every process that is left.
func (r *recorder) kill(started workload) {
	r.env.Log.Warn("killing recorded workload at its timeout", "recording", r.params.Name,
		"container", r.paths.Name)
	started.KillSelected()
	select {
	case <-started.Done():
		return
	case <-time.After(killGrace):
	}
	started.KillAll()
	<-started.Done()
}
