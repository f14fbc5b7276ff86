//go:build linux

package main

import (
	"context"
	"os/exec"
	"syscall"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

// processWaitDelay bounds how long a child's output pipes may stay open after it exits.
const processWaitDelay = 5 * time.Second

// helperClient drives the helper on a local device through its protocol, without SSH, whose
// cost is not what this benchmark measures.
type helperClient struct {
	device  *localdevice.Device
	version string // helper release from the last response
}

// call runs op with params in one helper request and decodes the call's data into out, which
// may be nil.
func (h *helperClient) call(ctx context.Context, op string, params, out any) error {
	version, err := h.device.CallHelper(ctx, op, params, out)
	if version != "" {
		h.version = version
	}
	return err
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
