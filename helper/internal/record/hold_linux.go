//go:build linux

package record

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initbin"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initspec"
)

// holdPollInterval is how often the recorder looks for the waiting iotfleet-init.
const holdPollInterval = 10 * time.Millisecond

// newHoldToken returns a random value for initspec.HoldEnv, which distinguishes this run's
// waiting iotfleet-init from any other process.
func newHoldToken() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("create hold token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// waitForHold returns the host PID of the iotfleet-init that waits with token, polling until
// it appears. It returns 0 when exited is closed first, because LXC exited before it started
// the init, and the caller then reports LXC's output.
func waitForHold(ctx context.Context, deadline time.Time, token string, exited <-chan struct{}) (int, error) {
	ticker := time.NewTicker(holdPollInterval)
	defer ticker.Stop()
	timeout := time.NewTimer(time.Until(deadline))
	defer timeout.Stop()
	for {
		if pid := findHeld(token); pid != 0 {
			return pid, nil
		}
		select {
		case <-exited:
			// The init may have signaled readiness just before LXC exited.
			return findHeld(token), nil
		case <-ctx.Done():
			return 0, fmt.Errorf("wait for iotfleet-init to hold the workload: %w", ctx.Err())
		case <-timeout.C:
			return 0, fmt.Errorf("iotfleet-init did not hold the workload for the eBPF recorder before the "+
				"timeout; apply the container again so that it uses this helper's iotfleet-init, or set "+
				"mechanism = %q", "ptrace")
		case <-ticker.C:
		}
	}
}

// findHeld returns the PID of the process that has the hold name and token, or 0.
func findHeld(token string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	want := initspec.HoldEnv + "=" + token
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + entry.Name() + "/comm")
		if err != nil || strings.TrimSuffix(string(comm), "\n") != initspec.HoldName {
			continue
		}
		environ, err := os.ReadFile("/proc/" + entry.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, variable := range strings.Split(string(environ), "\x00") {
			if variable == want {
				return pid
			}
		}
	}
	return 0
}

// checkContainerInit reports an error unless the running container whose init has host PID
// initPID bind-mounts the iotfleet-init that this helper embeds. An older init ignores
// initspec.ExecFlag and would run the container's own workload in place of the command.
func checkContainerInit(container string, initPID int) error {
	want, err := initbin.Binary()
	if err != nil {
		return err
	}
	path := "/proc/" + strconv.Itoa(initPID) + "/root" + initspec.BinaryPath
	got, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("container %q has no %s, which every container that this helper creates has",
			container, initspec.BinaryPath)
	}
	if err != nil {
		return fmt.Errorf("read the iotfleet-init of container %q: %w", container, err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("container %q runs the iotfleet-init of another helper version, which cannot hold "+
			"a command for the eBPF recorder; stop and start the container so that it runs this helper's", container)
	}
	return nil
}
