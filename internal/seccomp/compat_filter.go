package seccomp

import "fmt"

// BPFInstruction is one classic BPF instruction, laid out like struct sock_filter in
// linux/filter.h so that a caller on Linux can pass a slice of them to SECCOMP_SET_MODE_FILTER
// (x/sys/unix.SockFilter has the same fields).
type BPFInstruction struct {
	Code uint16
	Jt   uint8
	Jf   uint8
	K    uint32
}

// Classic BPF opcodes from linux/bpf_common.h and return values from linux/seccomp.h.
const (
	bpfLoadWordAbsolute = 0x20 // BPF_LD | BPF_W | BPF_ABS
	bpfJumpEqual        = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
	bpfJumpSet          = 0x45 // BPF_JMP | BPF_JSET | BPF_K
	bpfReturn           = 0x06 // BPF_RET | BPF_K

	seccompRetKillThread = 0x00000000
	seccompRetTrap       = 0x00030000
	seccompRetErrno      = 0x00050000
	seccompRetAllow      = 0x7fff0000
)

// Offsets of the fields of struct seccomp_data, the input of a seccomp filter.
const (
	seccompDataNr   = 0
	seccompDataArch = 4
)

// CompatDenyFilter returns a seccomp filter program that applies the deny action to every
// syscall made through a compat ABI of the native ABI arch. It allows every other syscall, which
// leaves the decision on those to the LXC policy. A compat syscall is one whose
// seccomp_data.arch is not the audit architecture of arch or, on x86_64, one whose number has
// the x32 bit (0x40000000) set.
//
// deny must be an errno, kill or trap action, and errno 0 selects ENOSYS. The kernel applies
// the most restrictive result of all loaded filters, so this program cannot widen the policy.
func CompatDenyFilter(arch Arch, deny Action) ([]BPFInstruction, error) {
	if err := arch.validateNative(); err != nil {
		return nil, fmt.Errorf("build compat deny filter: %w", err)
	}
	denyValue, err := seccompReturnValue(deny)
	if err != nil {
		return nil, fmt.Errorf("build compat deny filter: %w", err)
	}

	native := archInfos[arch].auditArch
	if arch != ArchX86_64 {
		return []BPFInstruction{
			{Code: bpfLoadWordAbsolute, K: seccompDataArch},
			{Code: bpfJumpEqual, Jt: 0, Jf: 1, K: native}, // other arch: deny
			{Code: bpfReturn, K: seccompRetAllow},
			{Code: bpfReturn, K: denyValue},
		}, nil
	}
	// x32 processes report the x86_64 audit arch, so the number decides.
	return []BPFInstruction{
		{Code: bpfLoadWordAbsolute, K: seccompDataArch},
		{Code: bpfJumpEqual, Jt: 0, Jf: 3, K: native}, // i386: deny
		{Code: bpfLoadWordAbsolute, K: seccompDataNr},
		{Code: bpfJumpSet, Jt: 1, Jf: 0, K: x32SyscallBit}, // x32: deny
		{Code: bpfReturn, K: seccompRetAllow},
		{Code: bpfReturn, K: denyValue},
	}, nil
}

func seccompReturnValue(a Action) (uint32, error) {
	switch a.Kind {
	case ActionErrno:
		errno := a.errnoValue()
		if errno < 1 || errno > maxErrno {
			return 0, fmt.Errorf("errno %d is out of range; use 1 to %d, or 0 for ENOSYS", a.Errno, maxErrno)
		}
		return seccompRetErrno | uint32(errno), nil
	case ActionKill:
		return seccompRetKillThread, nil
	case ActionTrap:
		return seccompRetTrap, nil
	}
	return 0, fmt.Errorf("action %q cannot deny compat syscalls; use errno, kill or trap", a.Kind)
}
