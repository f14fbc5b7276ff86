package record

import (
	"fmt"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// chooseMechanism returns the mechanism that a request for requested ("" means auto) records
// with. probe reports why the eBPF recorder cannot record this workload on this device, or nil
// when it can. It runs only when the request allows eBPF. For auto, a failed probe selects
// ptrace and is returned as fallback for the log. For an explicit ebpf, it is an error.
//
// Both workload kinds can use eBPF precisely. For a start, iotfleet-init waits as the
// container's PID 1 until the recorder has selected its cgroup, and counting begins at its
// exec of the workload. For a command, lxc-attach runs iotfleet-init, which waits the same way
// while the recorder moves it into a cgroup of its own below the one LXC chose, so neither
// LXC's attach steps nor the container's other processes are counted. A container that runs
// an iotfleet-init from another helper version cannot do the latter, and the probe reports it.
func chooseMechanism(requested string, probe func() error) (mechanism string, fallback, err error) {
	switch requested {
	case protocol.MechanismPtrace:
		return protocol.MechanismPtrace, nil, nil
	case protocol.MechanismEBPF:
		if err := probe(); err != nil {
			return "", nil, fmt.Errorf("mechanism %q cannot record on this device: %w; set mechanism = %q "+
				"to record with ptrace", protocol.MechanismEBPF, err, protocol.MechanismPtrace)
		}
		return protocol.MechanismEBPF, nil, nil
	}
	if err := probe(); err != nil {
		return protocol.MechanismPtrace, err, nil
	}
	return protocol.MechanismEBPF, nil, nil
}
