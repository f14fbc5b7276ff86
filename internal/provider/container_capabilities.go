package provider

import (
	"fmt"
	"strings"
)

// capabilityNames lists the Linux capabilities by number, as named in
// include/uapi/linux/capability.h of Linux 5.9 (CAP_LAST_CAP is CAP_CHECKPOINT_RESTORE, 40).
// A device whose kernel predates a capability cannot keep it: LXC then fails to start the
// container.
var capabilityNames = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
	"lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
	"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// capabilityBits maps each capability name to its number.
var capabilityBits = func() map[string]uint {
	bits := make(map[string]uint, len(capabilityNames))
	for i, name := range capabilityNames {
		bits[name] = uint(i)
	}
	return bits
}()

// normalizeCapability returns the name of a capability as the helper expects it: lowercase,
// without the CAP_ prefix. It accepts any case, with or without the prefix.
func normalizeCapability(name string) (string, error) {
	normalized := strings.ToLower(strings.TrimSpace(name))
	normalized = strings.TrimPrefix(normalized, "cap_")
	if _, ok := capabilityBits[normalized]; ok {
		return normalized, nil
	}
	if normalized == "all" {
		return "", fmt.Errorf("capability %q is not accepted: list each capability the workload needs, "+
			"for example \"net_bind_service\", so that the container keeps no more than that", name)
	}
	message := fmt.Sprintf("unknown capability %q", name)
	if suggestion := closestCapability(normalized); suggestion != "" {
		message += fmt.Sprintf("; did you mean %q?", suggestion)
	}
	return "", fmt.Errorf("%s Use a Linux capability name such as \"net_bind_service\" or \"CAP_NET_BIND_SERVICE\" "+
		"(see capabilities(7))", message)
}

// capabilityMask returns the bit mask of the named capabilities, as /proc/PID/status shows
// CapEff. Names must be normalized.
func capabilityMask(names []string) uint64 {
	var mask uint64
	for _, name := range names {
		if bit, ok := capabilityBits[name]; ok {
			mask |= 1 << bit
		}
	}
	return mask
}

// closestCapability returns the known capability nearest to name by edit distance, or "" when
// none is close enough to be a plausible typo.
func closestCapability(name string) string {
	best, bestDistance := "", len(name)/3+2
	for _, candidate := range capabilityNames {
		if d := editDistance(name, candidate); d < bestDistance {
			best, bestDistance = candidate, d
		}
	}
	return best
}

// editDistance returns the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	current := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
		}
		previous, current = current, previous
	}
	return previous[len(b)]
}
