package seccomp

import (
	"fmt"
	"strings"
)

// Arch is a syscall ABI, named as in LXC's seccomp policy sections.
type Arch string

// The ABIs that the syscall tables cover. X32 exists only as a compat ABI of X86_64: an x32
// process runs on an x86_64 kernel, so no device reports it as its machine.
const (
	ArchX86_64 Arch = "x86_64"
	ArchX86    Arch = "x86"
	ArchX32    Arch = "x32"
	ArchARM64  Arch = "arm64"
	ArchARM    Arch = "arm"
)

// Audit architecture values that the kernel reports in seccomp_data.arch, from
// linux/audit.h and linux/elf-em.h: the ELF machine, plus __AUDIT_ARCH_64BIT (0x80000000)
// for 64-bit ABIs and __AUDIT_ARCH_LE (0x40000000) for little-endian ones. An x32 process
// reports auditArchX86_64 and sets x32SyscallBit in the syscall number.
const (
	auditArchX86_64  uint32 = 0xc000003e
	auditArchI386    uint32 = 0x40000003
	auditArchAArch64 uint32 = 0xc00000b7
	auditArchARM     uint32 = 0x40000028
)

// x32SyscallBit is __X32_SYSCALL_BIT from asm/unistd.h: x32 syscall numbers carry it.
const x32SyscallBit = 0x40000000

type archInfo struct {
	// libseccompName is the name scmp_sys_resolver and seccomp_arch_resolve_name use.
	libseccompName string
	// native reports whether a kernel can run this ABI as its own (not only as a compat ABI).
	native    bool
	compat    []Arch
	auditArch uint32
	// argBits is the width of a syscall argument, so the largest value a filter can match.
	argBits int
}

var archInfos = map[Arch]archInfo{
	ArchX86_64: {
		libseccompName: "x86_64", native: true, compat: []Arch{ArchX86, ArchX32},
		auditArch: auditArchX86_64, argBits: 64,
	},
	ArchX86: {libseccompName: "x86", native: true, auditArch: auditArchI386, argBits: 32},
	ArchX32: {libseccompName: "x32", auditArch: auditArchX86_64, argBits: 64},
	ArchARM64: {
		libseccompName: "aarch64", native: true, compat: []Arch{ArchARM},
		auditArch: auditArchAArch64, argBits: 64,
	},
	ArchARM: {libseccompName: "arm", native: true, auditArch: auditArchARM, argBits: 32},
}

// Arches returns every ABI with a syscall table, in a fixed order.
func Arches() []Arch {
	return []Arch{ArchX86_64, ArchX86, ArchX32, ArchARM64, ArchARM}
}

// NativeArches returns the ABIs a device can run natively, which are those a Profile is
// validated and rendered for.
func NativeArches() []Arch {
	return []Arch{ArchX86_64, ArchX86, ArchARM64, ArchARM}
}

// LibseccompName returns the name libseccomp uses for the ABI ("aarch64" for ArchARM64), or ""
// for an unknown one.
func (a Arch) LibseccompName() string {
	return archInfos[a].libseccompName
}

// CompatArches returns the compat ABIs that a kernel of the native ABI also runs: x86 and x32
// on x86_64, arm on arm64, none elsewhere.
func CompatArches(native Arch) []Arch {
	return append([]Arch(nil), archInfos[native].compat...)
}

// ArchForMachine maps a `uname -m` value to the native ABI of that machine.
//
// NOTE: LXC 5.0.2 detects its native architecture from the same value, but it recognizes only
// x86_64, i686, armv7* and aarch64* among these. Render writes its rules under [all], so they
// also apply on i386 to i586, armv6l and armv8l machines, where LXC skips named sections.
func ArchForMachine(machine string) (Arch, error) {
	switch machine {
	case "x86_64":
		return ArchX86_64, nil
	case "i386", "i486", "i586", "i686":
		return ArchX86, nil
	case "aarch64":
		return ArchARM64, nil
	}
	// armv5tel, armv6l, armv7l, armv8l: little-endian 32-bit arm, all on the EABI table.
	if strings.HasPrefix(machine, "armv") && strings.HasSuffix(machine, "l") {
		return ArchARM, nil
	}
	return "", fmt.Errorf("unsupported machine %q: seccomp profiles support x86_64, i386 to i686, "+
		"aarch64 and little-endian armv*l devices", machine)
}

func (a Arch) validateNative() error {
	info, ok := archInfos[a]
	switch {
	case !ok:
		return fmt.Errorf("unsupported architecture %q: use one of %s", a, joinArches(NativeArches()))
	case !info.native:
		return fmt.Errorf("architecture %q is a compat ABI, not a native one: use %s, whose profile covers it",
			a, ArchX86_64)
	}
	return nil
}

func joinArches(arches []Arch) string {
	return strings.Join(archNames(arches), ", ")
}

func archNames(arches []Arch) []string {
	names := make([]string, len(arches))
	for i, a := range arches {
		names[i] = string(a)
	}
	return names
}
