//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// helperOnDevice is the helper's path inside the device's mount namespace, where the device's
// own state folder is mounted over localdevice.StateDir.
const helperOnDevice = localdevice.StateDir + "/bin/iotfleet-helper"

// processWaitDelay bounds how long a child's output pipes may stay open after it exits.
const processWaitDelay = 5 * time.Second

// helperClient drives the helper on a local device through its protocol. It runs
// `iotfleet-helper serve` in the device's network and mount namespaces with nsenter, as sshd
// would run it for the provider, but without SSH, whose cost is not what this benchmark
// measures.
type helperClient struct {
	device  *localdevice.Device
	version string // helper release from the last response
}

// installHelper copies the helper binary at path into the device's state folder.
func installHelper(device *localdevice.Device, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read helper: %w; run `make helpers`, or pass -helper", err)
	}
	// localdevice mounts this folder over localdevice.StateDir inside the device.
	binDir := filepath.Join(device.Dir, "iotfleet", "bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return fmt.Errorf("install helper: %w", err)
	}
	if err := os.WriteFile(filepath.Join(binDir, "iotfleet-helper"), data, 0o755); err != nil {
		return fmt.Errorf("install helper: %w", err)
	}
	return nil
}

// call runs op with params in one helper request and decodes the call's data into out, which
// may be nil. A failed call returns the helper's *protocol.Error, wrapped.
func (h *helperClient) call(ctx context.Context, op string, params, out any) error {
	raw, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("helper %s: encode params: %w", op, err)
	}
	request, err := json.Marshal(protocol.Request{
		Version: protocol.Version, StateDir: localdevice.StateDir, LXCPath: localdevice.LXCPath,
		Calls: []protocol.Call{{ID: 1, Op: op, Params: raw}},
	})
	if err != nil {
		return fmt.Errorf("helper %s: encode request: %w", op, err)
	}

	cmd := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(h.device.PID), "--net", "--mount", "--",
		helperOnDevice, protocol.ServeCommand)
	cmd.Stdin = bytes.NewReader(request)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	setProcessGroup(cmd)
	if err := cmd.Run(); err != nil {
		return withDetail(fmt.Errorf("helper %s: %w", op, err), stderr.Bytes())
	}

	var response protocol.Response
	if err := json.Unmarshal(stdout.Bytes(), &response); err != nil {
		return fmt.Errorf("helper %s: decode response: %w", op, err)
	}
	h.version = response.HelperVersion
	if response.Error != nil {
		return fmt.Errorf("helper %s: %w", op, response.Error)
	}
	if len(response.Results) != 1 {
		return fmt.Errorf("helper %s: response contains %d results, expected 1", op, len(response.Results))
	}
	result := response.Results[0]
	if result.Error != nil {
		return fmt.Errorf("helper %s: %w", op, result.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(result.Data, out); err != nil {
		return fmt.Errorf("helper %s: decode result: %w", op, err)
	}
	return nil
}

// setProcessGroup puts cmd into its own process group, kills that group when the command's
// context ends, and bounds the wait for its pipes.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group ID is the child's PID because of Setpgid.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = processWaitDelay
}
