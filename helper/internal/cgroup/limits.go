package cgroup

import (
	"fmt"
	"strconv"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Setting is one cgroup file and its value. Key is the file name ("memory.max"); LXC's
// configuration key is "lxc.cgroup.<Key>" on v1 and "lxc.cgroup2.<Key>" on v2.
type Setting struct {
	Version Version
	Key     string
	Value   string
}

// ConfigKey returns the LXC configuration key of s.
func (s Setting) ConfigKey() string {
	if s.Version == V2 {
		return "lxc.cgroup2." + s.Key
	}
	return "lxc.cgroup." + s.Key
}

// DefaultCPUPeriodMicros is the kernel's default CFS period.
const DefaultCPUPeriodMicros = 100000

// LimitSettings returns the settings that enforce limits, in a fixed order. A zero limit
// yields the value that lifts it, so that applying the settings to a running container also
// removes limits that were dropped. It fails when a limit needs a controller that the layout
// lacks.
func LimitSettings(layout Layout, limits protocol.Limits) ([]Setting, error) {
	var settings []Setting
	add := func(controller string, v1Key, v2Key, v1Value, v2Value string) error {
		switch layout.Where(controller) {
		case V1:
			settings = append(settings, Setting{V1, v1Key, v1Value})
		case V2:
			settings = append(settings, Setting{V2, v2Key, v2Value})
		default:
			return fmt.Errorf("the %s cgroup controller is not available on this device (%s); "+
				"remove the limit or enable the controller", controller, layout)
		}
		return nil
	}

	if limits.MemoryBytes > 0 {
		value := strconv.FormatInt(limits.MemoryBytes, 10)
		if err := add(Memory, "memory.limit_in_bytes", "memory.max", value, value); err != nil {
			return nil, err
		}
	}
	if limits.Pids > 0 {
		value := strconv.FormatInt(limits.Pids, 10)
		if err := add(Pids, "pids.max", "pids.max", value, value); err != nil {
			return nil, err
		}
	}
	if limits.CPUWeight > 0 {
		shares := strconv.FormatInt(WeightToShares(limits.CPUWeight), 10)
		if err := add(CPU, "cpu.shares", "cpu.weight", shares, strconv.FormatInt(limits.CPUWeight, 10)); err != nil {
			return nil, err
		}
	}
	if limits.CPUQuotaMicros > 0 {
		period := limits.CPUPeriodMicros
		if period == 0 {
			period = DefaultCPUPeriodMicros
		}
		quota := strconv.FormatInt(limits.CPUQuotaMicros, 10)
		periodText := strconv.FormatInt(period, 10)
		switch layout.Where(CPU) {
		case V1:
			settings = append(settings,
				Setting{V1, "cpu.cfs_period_us", periodText}, Setting{V1, "cpu.cfs_quota_us", quota})
		case V2:
			settings = append(settings, Setting{V2, "cpu.max", quota + " " + periodText})
		default:
			return nil, fmt.Errorf("the cpu cgroup controller is not available on this device (%s); "+
				"remove the CPU quota or enable the controller", layout)
		}
	}
	return settings, nil
}

// LiftSettings returns the settings that remove every limit that LimitSettings can set, for
// the controllers that the layout has. Applying them before the new limits clears dropped ones.
func LiftSettings(layout Layout) []Setting {
	var settings []Setting
	lift := func(controller string, v1 []Setting, v2 []Setting) {
		switch layout.Where(controller) {
		case V1:
			settings = append(settings, v1...)
		case V2:
			settings = append(settings, v2...)
		}
	}
	lift(Memory, []Setting{{V1, "memory.limit_in_bytes", "-1"}}, []Setting{{V2, "memory.max", "max"}})
	lift(Pids, []Setting{{V1, "pids.max", "max"}}, []Setting{{V2, "pids.max", "max"}})
	lift(CPU,
		[]Setting{{V1, "cpu.shares", "1024"}, {V1, "cpu.cfs_quota_us", "-1"}},
		[]Setting{{V2, "cpu.weight", "100"}, {V2, "cpu.max", "max " + strconv.Itoa(DefaultCPUPeriodMicros)}})
	return settings
}

// WeightToShares converts a cgroup v2 cpu.weight (1..10000, default 100) into cgroup v1
// cpu.shares (2..262144, default 1024) with the linear mapping between both ranges that the
// OCI runtimes use, so that weight 1 is 2 shares and weight 10000 is 262144.
func WeightToShares(weight int64) int64 {
	return 2 + (weight-1)*262142/9999
}
