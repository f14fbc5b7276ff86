package seccomp

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// Values from linux/audit.h, linux/seccomp.h and linux/bpf_common.h, written independently of
// the package's constants so that a wrong constant there fails these tests.
const (
	testAuditArchX86_64  = 0xc000003e
	testAuditArchI386    = 0x40000003
	testAuditArchAArch64 = 0xc00000b7
	testAuditArchARM     = 0x40000028

	testRetKillThread = 0x00000000
	testRetTrap       = 0x00030000
	testRetErrno      = 0x00050000
	testRetAllow      = 0x7fff0000
)

func TestCompatDenyFilterDecisions(t *testing.T) {
	enosys := uint32(testRetErrno | 38)
	cases := []struct {
		name  string
		arch  Arch
		input seccompData
		want  uint32
	}{
		{"x86_64 native read", ArchX86_64, seccompData{arch: testAuditArchX86_64, nr: 0}, testRetAllow},
		{"x86_64 native clone3", ArchX86_64, seccompData{arch: testAuditArchX86_64, nr: 435}, testRetAllow},
		{"i386 read on x86_64", ArchX86_64, seccompData{arch: testAuditArchI386, nr: 3}, enosys},
		{"x32 read on x86_64", ArchX86_64, seccompData{arch: testAuditArchX86_64, nr: 0x40000000}, enosys},
		{"x32 execve on x86_64", ArchX86_64, seccompData{arch: testAuditArchX86_64, nr: 0x40000208}, enosys},
		{"aarch64 native read", ArchARM64, seccompData{arch: testAuditArchAArch64, nr: 63}, testRetAllow},
		{"arm read on aarch64", ArchARM64, seccompData{arch: testAuditArchARM, nr: 3}, enosys},
		{"arm native read", ArchARM, seccompData{arch: testAuditArchARM, nr: 3}, testRetAllow},
		{"arm native set_tls", ArchARM, seccompData{arch: testAuditArchARM, nr: 0xf0005}, testRetAllow},
		{"i386 native read", ArchX86, seccompData{arch: testAuditArchI386, nr: 3}, testRetAllow},
		{"x86_64 on i386 filter", ArchX86, seccompData{arch: testAuditArchX86_64, nr: 0}, enosys},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			program, err := CompatDenyFilter(c.arch, Action{Kind: ActionErrno})
			if err != nil {
				t.Fatalf("CompatDenyFilter(%s) = %v", c.arch, err)
			}
			got, err := runSeccompBPF(program, c.input)
			if err != nil {
				t.Fatalf("run filter: %v", err)
			}
			if got != c.want {
				t.Errorf("filter returned %#x; want %#x", got, c.want)
			}
		})
	}
}

func TestCompatDenyFilterActions(t *testing.T) {
	cases := []struct {
		deny Action
		want uint32
	}{
		{Action{Kind: ActionErrno}, testRetErrno | 38},
		{Action{Kind: ActionErrno, Errno: 1}, testRetErrno | 1},
		{Action{Kind: ActionErrno, Errno: 4094}, testRetErrno | 4094},
		{Action{Kind: ActionKill}, testRetKillThread},
		{Action{Kind: ActionTrap}, testRetTrap},
	}
	i386Call := seccompData{arch: testAuditArchI386, nr: 3}
	for _, c := range cases {
		t.Run(describeAction(c.deny), func(t *testing.T) {
			program, err := CompatDenyFilter(ArchX86_64, c.deny)
			if err != nil {
				t.Fatalf("CompatDenyFilter = %v", err)
			}
			got, err := runSeccompBPF(program, i386Call)
			if err != nil {
				t.Fatalf("run filter: %v", err)
			}
			if got != c.want {
				t.Errorf("filter returned %#x; want %#x", got, c.want)
			}
		})
	}
}

func TestCompatDenyFilterRejects(t *testing.T) {
	cases := []struct {
		name string
		arch Arch
		deny Action
		want string
	}{
		{"allow action", ArchX86_64, Action{Kind: ActionAllow},
			`build compat deny filter: action "allow" cannot deny compat syscalls; use errno, kill or trap`},
		{"errno out of range", ArchARM64, Action{Kind: ActionErrno, Errno: 4095},
			`build compat deny filter: errno 4095 is out of range; use 1 to 4094, or 0 for ENOSYS`},
		{"compat arch", ArchX32, Action{Kind: ActionKill},
			`build compat deny filter: architecture "x32" is a compat ABI, not a native one: use x86_64, whose profile covers it`},
		{"unknown arch", "mips", Action{Kind: ActionKill},
			`build compat deny filter: unsupported architecture "mips": use one of x86_64, x86, arm64, arm`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			program, err := CompatDenyFilter(c.arch, c.deny)
			if err == nil || err.Error() != c.want {
				t.Errorf("CompatDenyFilter = %v, %v; want error %q", program, err, c.want)
			}
		})
	}
}

func TestCompatDenyFilterPassesKernelChecks(t *testing.T) {
	for _, arch := range NativeArches() {
		program, err := CompatDenyFilter(arch, Action{Kind: ActionErrno})
		if err != nil {
			t.Fatalf("CompatDenyFilter(%s) = %v", arch, err)
		}
		if err := checkSeccompBPF(program); err != nil {
			t.Errorf("%s filter: %v", arch, err)
		}
	}
}

// seccompData is the part of struct seccomp_data that the filters read.
type seccompData struct {
	nr   uint32
	arch uint32
}

// bytes lays the struct out as the kernel does on a little-endian machine: nr, arch,
// instruction_pointer and six arguments, 64 bytes in all.
func (d seccompData) bytes() []byte {
	b := make([]byte, 64)
	binary.LittleEndian.PutUint32(b[0:], d.nr)
	binary.LittleEndian.PutUint32(b[4:], d.arch)
	return b
}

// checkSeccompBPF applies the kernel's static checks that matter here: at most 4096
// instructions, jumps forward within the program, and a return as the last instruction.
func checkSeccompBPF(program []BPFInstruction) error {
	if len(program) == 0 || len(program) > 4096 {
		return fmt.Errorf("program has %d instructions; want 1 to 4096", len(program))
	}
	for pc, ins := range program {
		if ins.Code&0x07 == 0x05 && (pc+1+int(ins.Jt) >= len(program) || pc+1+int(ins.Jf) >= len(program)) {
			return fmt.Errorf("jump at %d leaves the program", pc)
		}
	}
	if last := program[len(program)-1]; last.Code&0x07 != 0x06 {
		return fmt.Errorf("last instruction %#x is not a return", last.Code)
	}
	return nil
}

// runSeccompBPF interprets the classic BPF subset these filters use: 32-bit absolute loads,
// conditional jumps against a constant, and constant returns. Other instructions fail.
func runSeccompBPF(program []BPFInstruction, input seccompData) (uint32, error) {
	data := input.bytes()
	var accumulator uint32
	for pc := 0; pc < len(program); pc++ {
		ins := program[pc]
		class, size, mode, op, src := ins.Code&0x07, ins.Code&0x18, ins.Code&0xe0, ins.Code&0xf0, ins.Code&0x08
		switch {
		case class == 0x00 && size == 0x00 && mode == 0x20: // BPF_LD | BPF_W | BPF_ABS
			if ins.K%4 != 0 || ins.K+4 > uint32(len(data)) {
				return 0, fmt.Errorf("load at %d from invalid offset %d", pc, ins.K)
			}
			accumulator = binary.LittleEndian.Uint32(data[ins.K:])
		case class == 0x05 && src == 0x00 && (op == 0x10 || op == 0x40): // BPF_JMP | BPF_JEQ/BPF_JSET | BPF_K
			taken := accumulator == ins.K
			if op == 0x40 {
				taken = accumulator&ins.K != 0
			}
			if taken {
				pc += int(ins.Jt)
			} else {
				pc += int(ins.Jf)
			}
		case class == 0x06 && ins.Code&0x18 == 0x00: // BPF_RET | BPF_K
			return ins.K, nil
		default:
			return 0, fmt.Errorf("unsupported instruction %#x at %d", ins.Code, pc)
		}
	}
	return 0, fmt.Errorf("program ended without a return")
}
