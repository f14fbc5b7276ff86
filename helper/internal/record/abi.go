// Package record records the syscalls that a container's workload makes: it runs the workload
// under eBPF programs or under ptrace, counts each syscall per ABI and stores the union of
// several runs in the state folder, from which the provider builds a default-deny seccomp
// profile.
package record

import (
	"fmt"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// Call is one syscall as the kernel reports it at entry: the ABI as an audit architecture
// value (AUDIT_ARCH_* from linux/audit.h) and the number in that ABI's table.
type Call struct {
	AuditArch uint32
	Number    uint64
}

// Audit architecture values, from linux/audit.h: the ELF machine number plus 0x80000000 for
// 64-bit and 0x40000000 for little-endian ABIs.
const (
	auditArchX86_64  uint32 = 0xc000003e
	auditArchI386    uint32 = 0x40000003
	auditArchAArch64 uint32 = 0xc00000b7
	auditArchARM     uint32 = 0x40000028
)

// x32SyscallBit marks the syscall numbers of the x32 ABI, which reports AUDIT_ARCH_X86_64.
const x32SyscallBit = 0x40000000

// ABI returns the seccomp ABI of call, or false for an audit architecture that has no table.
// An i386 program on an x86_64 kernel reports AUDIT_ARCH_I386 with an i386 number, so it maps
// to the x86 table, as an arm program on an arm64 kernel maps to the arm table.
func (c Call) ABI() (seccomp.Arch, bool) {
	switch c.AuditArch {
	case auditArchX86_64:
		if c.Number&x32SyscallBit != 0 {
			return seccomp.ArchX32, true
		}
		return seccomp.ArchX86_64, true
	case auditArchI386:
		return seccomp.ArchX86, true
	case auditArchAArch64:
		return seccomp.ArchARM64, true
	case auditArchARM:
		return seccomp.ArchARM, true
	}
	return "", false
}

// Name returns the ABI and syscall name of call. For a call without a name it returns false
// and the ABI as a name, or the audit architecture in hex when there is no table for it.
func (c Call) Name() (abi string, name string, ok bool) {
	arch, known := c.ABI()
	if !known {
		return fmt.Sprintf("%#x", c.AuditArch), "", false
	}
	// Numbers beyond int range cannot be table entries; the kernel passes them on as -ENOSYS.
	if c.Number > 1<<31 {
		return string(arch), "", false
	}
	name, ok = seccomp.Name(arch, int(c.Number))
	return string(arch), name, ok
}
