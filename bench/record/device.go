//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

const (
	// helperTimeout bounds one helper request. It exceeds the helper's own timeout for a
	// recorded run, recordingSeconds plus 30 s, so that the helper can report it.
	helperTimeout = 5 * time.Minute

	// startTimeout bounds one container start outside the helper, traced by strace or not.
	startTimeout = 3 * time.Minute

	// recordingSeconds is the DurationSeconds of every recording. The workloads exit long
	// before it, which ends the run.
	recordingSeconds = 120

	// benchFolder is the folder of the rootfs that holds the workload programs.
	benchFolder = "bench"
)

// benchDevice is a local device with the helper under test installed.
type benchDevice struct {
	*localdevice.Device
}

// startDevice starts a local device in root and installs helper into its state folder.
func startDevice(ctx context.Context, name, root, helper string) (*benchDevice, error) {
	device, err := localdevice.Start(ctx, localdevice.Options{Name: name, Root: root})
	if err != nil {
		return nil, err
	}
	d := &benchDevice{device}
	if err := d.InstallHelper(helper); err != nil {
		return d, err
	}
	return d, nil
}

// call runs op in one helper request inside the device, bounded by helperTimeout, and decodes
// the result's data into out. An error that the helper reports for the call is returned
// wrapped, so errors.As finds the *protocol.Error.
func (d *benchDevice) call(ctx context.Context, op string, params, out any) error {
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()
	_, err := d.CallHelper(ctx, op, params, out)
	return err
}

// createContainer creates a stopped busybox container that runs command and copies each
// program into /bench of its rootfs under the map's key.
func (d *benchDevice) createContainer(ctx context.Context, name string, command []string, programs map[string]string) error {
	spec := protocol.ContainerSpec{
		Name: name, Rootfs: protocol.RootfsBusybox, Command: command,
		NoNewPrivs: true, Limits: protocol.Limits{MemoryBytes: 256 << 20, Pids: 64},
	}
	if err := d.call(ctx, protocol.OpContainerApply, spec, nil); err != nil {
		return fmt.Errorf("create container %s: %w", name, err)
	}
	folder := filepath.Join(d.rootfs(name), benchFolder)
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return fmt.Errorf("create %s in container %s: %w", folder, name, err)
	}
	for target, source := range programs {
		data, err := os.ReadFile(source)
		if err != nil {
			return fmt.Errorf("copy %s into container %s: %w", source, name, err)
		}
		if err := os.WriteFile(filepath.Join(folder, target), data, 0o755); err != nil {
			return fmt.Errorf("copy %s into container %s: %w", source, name, err)
		}
	}
	return nil
}

// rootfs returns the container's rootfs folder on this machine.
func (d *benchDevice) rootfs(name string) string {
	return filepath.Join(d.Dir, "lxc", name, "rootfs")
}

// lxcStart returns the command line that starts the container in the foreground, as the
// recorder runs it: with the container's seccomp policy cleared.
func lxcStart(name string) []string {
	return []string{"lxc-start", "-F", "-n", name, "-P", localdevice.LXCPath, "-s", "lxc.seccomp.profile="}
}

// startUntraced starts the container in the foreground and waits for its workload to exit.
func (d *benchDevice) startUntraced(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if _, err := d.Exec(ctx, lxcStart(name)...); err != nil {
		return fmt.Errorf("start container %s untraced: %w", name, err)
	}
	return nil
}

// straceStart starts the container in the foreground under strace, which writes to output.
func (d *benchDevice) straceStart(ctx context.Context, name, output string) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	argv := append([]string{"strace"}, straceArgs...)
	argv = append(argv, "-o", output)
	if _, err := d.Exec(ctx, append(argv, lxcStart(name)...)...); err != nil {
		return fmt.Errorf("start container %s under strace: %w", name, err)
	}
	return nil
}

// record starts the stopped container once under the recorder of mechanism and returns the
// recording's result.
func (d *benchDevice) record(ctx context.Context, container, mechanism string) (protocol.RecordingResult, error) {
	params := protocol.RecordingRunParams{
		Name: container + "-" + mechanism, Container: container, DurationSeconds: recordingSeconds,
		Runs: 1, Mechanism: mechanism,
	}
	var state protocol.RecordingState
	if err := d.call(ctx, protocol.OpRecordingRun, params, &state); err != nil {
		return protocol.RecordingResult{}, err
	}
	for _, run := range state.Result.Runs {
		if run.Outcome != protocol.RunExited {
			return state.Result, fmt.Errorf("recording %s: outcome %q, want %q: the workload did not "+
				"end by itself within %d s", params.Name, run.Outcome, protocol.RunExited, recordingSeconds)
		}
	}
	return state.Result, nil
}

// isHelperError reports whether err is an error that the helper returned for the call, as
// opposed to a failure to run the helper at all.
func isHelperError(err error) bool {
	var helperErr *protocol.Error
	return errors.As(err, &helperErr)
}
