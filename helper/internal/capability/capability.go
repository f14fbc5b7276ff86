// Package capability validates capability names against the capabilities that Linux defines
// and that the running kernel knows.
package capability

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// names lists the capabilities in the order of their numbers, as in linux/capability.h.
// CAP_CHECKPOINT_RESTORE (40) arrived in Linux 5.9; older kernels report a lower last
// capability, which Validate enforces.
var names = []string{
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
	"setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
	"ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
	"sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
	"lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
	"wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

// LastCapFile is the file in which the kernel reports its highest capability number.
const LastCapFile = "/proc/sys/kernel/cap_last_cap"

// Number returns the number of the capability name ("net_raw" is 13).
func Number(name string) (int, bool) {
	for i, known := range names {
		if known == name {
			return i, true
		}
	}
	return 0, false
}

// Names returns every capability name that Linux defines, in number order.
func Names() []string {
	return append([]string(nil), names...)
}

// ReadLastCap returns the highest capability number of the running kernel.
func ReadLastCap() (int, error) {
	data, err := os.ReadFile(LastCapFile)
	if err != nil {
		return 0, fmt.Errorf("read kernel capabilities: %w", err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("read kernel capabilities: parse %s: %w", LastCapFile, err)
	}
	return last, nil
}

// Validate checks that name is a lowercase capability name without the CAP_ prefix that a
// kernel whose highest capability number is lastCap supports.
func Validate(name string, lastCap int) error {
	number, ok := Number(name)
	if !ok {
		hint := ""
		if lower := strings.ToLower(strings.TrimPrefix(strings.ToUpper(name), "CAP_")); lower != name {
			if _, ok := Number(lower); ok {
				hint = fmt.Sprintf(" (write it as %q)", lower)
			}
		}
		return fmt.Errorf("unknown capability %q%s: use a lowercase Linux capability name without "+
			"the CAP_ prefix, such as \"net_bind_service\"", name, hint)
	}
	if number > lastCap {
		return fmt.Errorf("capability %q (number %d) is newer than this kernel, whose last "+
			"capability is number %d (%s)", name, number, lastCap, names[min(lastCap, len(names)-1)])
	}
	return nil
}
