//go:build linux

package localdevice

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

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// helperStopDelay is how long a helper may take to exit after SIGTERM before it is killed.
const helperStopDelay = 30 * time.Second

// InstallHelper copies the helper binary at path to where the provider would upload it:
// <StateDir>/bin/iotfleet-helper inside the device.
func (d *Device) InstallHelper(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("install helper: %w", err)
	}
	// The device mounts this folder over StateDir.
	bin := filepath.Join(d.Dir, "iotfleet", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return fmt.Errorf("install helper: %w", err)
	}
	if err := os.WriteFile(filepath.Join(bin, "iotfleet-helper"), data, 0o755); err != nil {
		return fmt.Errorf("install helper: %w", err)
	}
	return nil
}

// CallHelper runs op with params in one helper request in the device's network and mount
// namespaces, as sshd runs the helper for the provider but without SSH, and decodes the call's
// data into out, which may be nil. It returns the helper's release. An error that the helper
// reports for the call is returned wrapped, so errors.As finds the *protocol.Error. When ctx
// ends, the helper gets SIGTERM, cancels the call and cleans up after it; it is killed if it
// has not exited helperStopDelay later.
func (d *Device) CallHelper(ctx context.Context, op string, params, out any) (string, error) {
	raw, err := json.Marshal(params)
	if err != nil {
		return "", fmt.Errorf("helper %s: encode params: %w", op, err)
	}
	request, err := json.Marshal(protocol.Request{
		Version: protocol.Version, StateDir: StateDir, LXCPath: LXCPath,
		Calls: []protocol.Call{{ID: 1, Op: op, Params: raw}},
	})
	if err != nil {
		return "", fmt.Errorf("helper %s: encode request: %w", op, err)
	}

	cmd := exec.CommandContext(ctx, "nsenter", "--target", strconv.Itoa(d.PID), "--net", "--mount", "--",
		StateDir+"/bin/iotfleet-helper", protocol.ServeCommand)
	cmd.Stdin = bytes.NewReader(request)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = helperStopDelay
	if err := cmd.Run(); err != nil {
		if detail := bytes.TrimSpace(stderr.Bytes()); len(detail) > 0 {
			return "", fmt.Errorf("helper %s: %w: %s", op, err, detail)
		}
		return "", fmt.Errorf("helper %s: %w", op, err)
	}

	var response protocol.Response
	if err := json.Unmarshal(stdout.Bytes(), &response); err != nil {
		return "", fmt.Errorf("helper %s: decode response %q: %w", op, stdout.String(), err)
	}
	if response.Error != nil {
		return response.HelperVersion, fmt.Errorf("helper %s: %w", op, response.Error)
	}
	if len(response.Results) != 1 {
		return response.HelperVersion, fmt.Errorf("helper %s: response contains %d results, expected 1",
			op, len(response.Results))
	}
	result := response.Results[0]
	if result.Error != nil {
		return response.HelperVersion, fmt.Errorf("helper %s: %w", op, result.Error)
	}
	if out != nil {
		if err := json.Unmarshal(result.Data, out); err != nil {
			return response.HelperVersion, fmt.Errorf("helper %s: decode result: %w", op, err)
		}
	}
	return response.HelperVersion, nil
}
