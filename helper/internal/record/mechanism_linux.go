//go:build linux

package record

import (
	"fmt"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initbin"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/liblxc"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// chooseMechanism sets r.mechanism from the request and the probe, and logs why auto fell
// back to ptrace.
func (r *recorder) chooseMechanism() error {
	mechanism, fallback, err := chooseMechanism(r.params.Mechanism, r.probeEBPF)
	if err != nil {
		return protocol.Errorf(protocol.CodeInvalid, "recording %q: %v", r.params.Name, err)
	}
	if fallback != nil {
		r.env.Log.Info("recording with ptrace because the eBPF recorder cannot record here",
			"recording", r.params.Name, "container", r.params.Container, "reason", fallback)
	}
	r.mechanism = mechanism
	return nil
}

// probeEBPF reports why the eBPF recorder cannot record this workload, or nil. It loads and
// attaches the programs and frees them at once.
func (r *recorder) probeEBPF() error {
	if _, err := cgroup.UnifiedMountPoint(); err != nil {
		return err
	}
	if err := r.probeInit(); err != nil {
		return err
	}
	counter, err := loadEBPF(r.arch)
	if err != nil {
		return err
	}
	err = counter.attach()
	if closeErr := counter.Close(); err == nil {
		err = closeErr
	}
	return err
}

// probeInit checks that the workload's first process will be an iotfleet-init that can hold
// it. A start gets the helper's own init, which it installs as apply does, because the
// container's configuration bind-mounts that file. A running container keeps the init it
// started with.
func (r *recorder) probeInit() error {
	if r.params.Workload() == protocol.WorkloadStart {
		_, _, err := initbin.Install(r.paths.BinDir())
		return err
	}
	c, err := liblxc.Open(r.paths.LXCPath, r.paths.Name)
	if err != nil {
		return fmt.Errorf("open container %q: %w", r.paths.Name, err)
	}
	pid := c.InitPID()
	c.Close()
	if pid <= 0 {
		return fmt.Errorf("container %q has no init process", r.paths.Name)
	}
	return checkContainerInit(r.paths.Name, pid)
}
