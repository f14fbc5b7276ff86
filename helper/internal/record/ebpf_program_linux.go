//go:build linux

package record

import (
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// The eBPF recorder's programs are written with cilium/ebpf's asm package, so the device needs
// no compiler, no kernel BTF and no kernel headers. They run on raw tracepoints and count only
// tasks in the selected cgroup v2 or below it.

// Map and program names, as bpftool lists them (at most 15 characters).
const (
	cgroupMapName      = "iotf_cgroup"
	gateMapName        = "iotf_gate"
	countsMapName      = "iotf_counts"
	overflowMapName    = "iotf_overflow"
	verdictMapName     = "iotf_verdicts"
	epochMapName       = "iotf_epoch"
	sysEnterProgName   = "iotf_sys_enter"
	forkProgName       = "iotf_fork"
	invalidateProgName = "iotf_invalidate"
)

// Layout of the per-CPU counts array: one slot per (ABI, number) below slotsPerABI, native
// numbers first, then compat numbers, then a slot that counts the workload's forks and clones.
// Larger numbers, such as x32 calls (bit 30 set) or arm's private calls (from 0xf0000), go to
// the overflow hash map instead.
const (
	slotShift     = 10
	slotsPerABI   = 1 << slotShift
	abiNative     = 0
	abiCompat     = 1
	processesSlot = 2 * slotsPerABI
	countSlots    = processesSlot + 1

	// overflowEntries bounds the distinct numbers of 1024 or more counted per run, and calls
	// with further such numbers are not counted. Only x32 calls, arm's private calls and invalid
	// numbers are that large.
	overflowEntries = 256
)

// Gate states. The gate opens at the first native execve or execveat in the selected cgroup,
// so the calls of iotfleet-init that lead up to the workload's exec are not recorded. While
// that exec runs, the init's other threads may still make calls until the kernel ends them:
// gateExec counts only the executing thread, and its first call after the exec opens the gate.
const (
	gateClosed = 0
	gateExec   = 1
	gateOpen   = 2
)

// gateValue is the value of the gate map.
type gateValue struct {
	State   uint32
	Padding uint32
	// PIDTGID is bpf_get_current_pid_tgid() of the executing thread: TGID<<32 | TID.
	PIDTGID uint64
}

// overflowKey is the key of the overflow map, laid out as the program stores it on its stack.
type overflowKey struct {
	Number  uint64
	ABI     uint32
	Padding uint32
}

// kernelABI describes the syscall ABIs of one kernel architecture for the programs.
type kernelABI struct {
	// native and compat are audit architecture values; compat is 0 on kernels without one.
	native, compat uint32

	// compatRegister distinguishes compat calls from native ones, on kernels with a compat ABI.
	compatRegister registerTest

	// execve and execveat are native numbers: the calls that open the gate.
	execve, execveat int32
}

// registerTest is a test of one 64-bit field of the kernel's struct pt_regs: a call is a compat
// call when the field masked with mask equals value.
type registerTest struct {
	offset      int16
	mask, value int32
}

// matches reports whether a pt_regs field value passes the test, as the program decides it.
func (t registerTest) matches(field uint64) bool {
	return field&uint64(int64(t.mask)) == uint64(int64(t.value))
}

// Compat tests on fields of struct pt_regs, whose offsets tracing tools such as libbpf's
// PT_REGS macros also rely on: x86 exports the struct in its UAPI headers, and arm64 starts it
// with the UAPI user_pt_regs. On x86_64 the saved code segment selector cs (field 17, 16
// bits, with FRED flags above them since Linux 6.9) is 0x23, __USER32_CS, for an i386 task. On
// arm64 the saved pstate (field 33, after regs[31], sp and pc) has PSR_MODE32_BIT, 0x10, set
// for an AArch32 task.
//
// NOTE: an int 0x80 call from a 64-bit x86 task uses the i386 table but keeps the 64-bit code
// segment, so the recorder counts it under x86_64 where ptrace reports it under x86.
var (
	x86CompatTest   = registerTest{offset: 17 * 8, mask: 0xffff, value: 0x23}
	arm64CompatTest = registerTest{offset: 33 * 8, mask: 0x10, value: 0x10}
)

// kernelABIFor returns the ABI description of a kernel whose native seccomp ABI is arch.
func kernelABIFor(arch seccomp.Arch) (kernelABI, error) {
	var k kernelABI
	switch arch {
	case seccomp.ArchX86_64:
		k = kernelABI{native: auditArchX86_64, compat: auditArchI386, compatRegister: x86CompatTest}
	case seccomp.ArchARM64:
		k = kernelABI{native: auditArchAArch64, compat: auditArchARM, compatRegister: arm64CompatTest}
	case seccomp.ArchARM:
		k = kernelABI{native: auditArchARM}
	default:
		return kernelABI{}, fmt.Errorf("the eBPF recorder supports x86_64, arm64 and arm kernels, not %s", arch)
	}
	execve, ok := seccomp.Lookup(arch, "execve")
	execveat, okAt := seccomp.Lookup(arch, "execveat")
	if !ok || !okAt {
		return kernelABI{}, fmt.Errorf("the %s syscall table lacks execve or execveat", arch)
	}
	k.execve, k.execveat = int32(execve), int32(execveat)
	return k, nil
}

// slotIndex returns the counts array index of a call, or false for a number that goes to the
// overflow map. It mirrors the program's arithmetic.
func slotIndex(abi uint32, number uint64) (uint32, bool) {
	if number >= slotsPerABI {
		return 0, false
	}
	return abi<<slotShift + uint32(number), true
}

// callForSlot returns the call that a counts array index stands for, or false for the
// processes slot and indexes past it.
func (k kernelABI) callForSlot(index uint32) (Call, bool) {
	if index >= processesSlot {
		return Call{}, false
	}
	arch := k.native
	if index>>slotShift == abiCompat {
		arch = k.compat
	}
	return Call{AuditArch: arch, Number: uint64(index % slotsPerABI)}, true
}

// callForOverflow returns the call that an overflow map key stands for.
func (k kernelABI) callForOverflow(key overflowKey) Call {
	if key.ABI == abiCompat {
		return Call{AuditArch: k.compat, Number: key.Number}
	}
	return Call{AuditArch: k.native, Number: key.Number}
}

// collectionSpec returns the maps and programs of the recorder for kernel k.
func (k kernelABI) collectionSpec() *ebpf.CollectionSpec {
	return &ebpf.CollectionSpec{
		Maps: map[string]*ebpf.MapSpec{
			cgroupMapName: {Name: cgroupMapName, Type: ebpf.CGroupArray, KeySize: 4, ValueSize: 4, MaxEntries: 1},
			gateMapName:   {Name: gateMapName, Type: ebpf.Array, KeySize: 4, ValueSize: 16, MaxEntries: 1},
			countsMapName: {Name: countsMapName, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 8, MaxEntries: countSlots},
			overflowMapName: {Name: overflowMapName, Type: ebpf.Hash, KeySize: 16, ValueSize: 8,
				MaxEntries: overflowEntries},
			verdictMapName: {Name: verdictMapName, Type: ebpf.PerCPUArray, KeySize: 4, ValueSize: 24,
				MaxEntries: verdictSlots},
			epochMapName: {Name: epochMapName, Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1},
		},
		Programs: map[string]*ebpf.ProgramSpec{
			sysEnterProgName:   k.program(sysEnterProgName, k.sysEnterInstructions()),
			forkProgName:       k.program(forkProgName, forkInstructions()),
			invalidateProgName: k.program(invalidateProgName, invalidateInstructions()),
		},
	}
}

// program wraps instructions as a raw tracepoint program. bpf_probe_read_kernel is a GPL-only
// helper, so the kernel requires a GPL-compatible license string to load the program.
func (k kernelABI) program(name string, instructions asm.Instructions) *ebpf.ProgramSpec {
	return &ebpf.ProgramSpec{Name: name, Type: ebpf.RawTracepoint, License: "GPL", Instructions: instructions}
}

// Stack slots of the programs, as offsets from the frame pointer R10.
const (
	stackRegister    = -8  // 8 bytes: the pt_regs field read for the compat test
	stackZeroKey     = -12 // 4 bytes: key 0 of the gate and epoch maps
	stackSlot        = -16 // 4 bytes: the counts array index
	stackOverflow    = -32 // 16 bytes: an overflowKey
	stackOne         = -40 // 8 bytes: the value 1 for a new overflow entry
	stackEpoch       = -48 // 8 bytes: the epoch that a verdict being computed belongs to
	stackVerdictSlot = -52 // 4 bytes: the verdict cache index
)

// sysEnterInstructions returns the program for the sys_enter raw tracepoint, whose arguments
// are struct pt_regs *regs and long id. Registers: R6 the context, R7 the syscall number, R8
// the ABI (abiNative or abiCompat), R9 the verdict entry's address and then the gate value's.
func (k kernelABI) sysEnterInstructions() asm.Instructions {
	insns := asm.Instructions{
		asm.Mov.Reg(asm.R6, asm.R1),
		asm.LoadMem(asm.R7, asm.R6, 8, asm.DWord),
	}
	insns = append(insns, cachedVerdictInstructions()...)
	insns = append(insns, k.verdictInstructions()...)
	insns = append(insns, k.gateInstructions()...)
	insns = append(insns, countInstructions()...)
	insns = append(insns, overflowInstructions()...)
	return append(insns, exitInstructions()...)
}

// selectedCgroupCheck continues at label unless the current task is in the cgroup at index 0
// of the cgroup array or below it. An empty slot makes the helper return a negative error,
// which continues at label too.
func selectedCgroupCheck(label string) asm.Instructions {
	return asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0).WithReference(cgroupMapName),
		asm.Mov.Imm(asm.R2, 0),
		asm.FnCurrentTaskUnderCgroup.Call(),
		asm.JNE.Imm(asm.R0, 1, label),
	}
}

// compatInstructions set R8 to verdictCompat when the pt_regs field passes compatRegister, and
// continue at label. A field that cannot be read leaves R8 as it is.
func (k kernelABI) compatInstructions(label string) asm.Instructions {
	test := k.compatRegister
	return asm.Instructions{
		asm.Mov.Reg(asm.R1, asm.R10),
		asm.Add.Imm(asm.R1, stackRegister),
		asm.Mov.Imm(asm.R2, 8),
		asm.LoadMem(asm.R3, asm.R6, 0, asm.DWord),
		asm.Add.Imm(asm.R3, int32(test.offset)),
		asm.FnProbeReadKernel.Call(),
		asm.JNE.Imm(asm.R0, 0, label),
		asm.LoadMem(asm.R1, asm.R10, stackRegister, asm.DWord),
		asm.And.Imm(asm.R1, test.mask),
		asm.JNE.Imm(asm.R1, test.value, label),
		asm.Mov.Imm(asm.R8, verdictCompat),
	}
}

// gateInstructions continue at "count" for a call that the gate lets through, move the gate
// from gateClosed to gateExec at a native execve or execveat and from gateExec to gateOpen at
// the executing thread's next call, and exit otherwise.
func (k kernelABI) gateInstructions() asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.R10, stackZeroKey, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(gateMapName),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stackZeroKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.Mov.Reg(asm.R9, asm.R0),
		asm.LoadMem(asm.R1, asm.R9, 0, asm.Word),
		asm.JEq.Imm(asm.R1, gateOpen, "count"),
		asm.JEq.Imm(asm.R1, gateExec, "executing"),
		asm.JNE.Imm(asm.R8, abiNative, "exit"),
		asm.JEq.Imm(asm.R7, k.execve, "exec"),
		asm.JEq.Imm(asm.R7, k.execveat, "exec"),
		asm.Ja.Label("exit"),

		asm.FnGetCurrentPidTgid.Call().WithSymbol("exec"),
		asm.StoreMem(asm.R9, 8, asm.R0, asm.DWord),
		asm.StoreImm(asm.R9, 0, gateExec, asm.Word),
		asm.Ja.Label("count"),

		asm.FnGetCurrentPidTgid.Call().WithSymbol("executing"),
		asm.LoadMem(asm.R1, asm.R9, 8, asm.DWord),
		asm.JNE.Reg(asm.R0, asm.R1, "exit"),
		asm.StoreImm(asm.R9, 0, gateOpen, asm.Word),
	}
}

// countInstructions add one to the counts slot of (R8, R7), or continue at "overflow" for a
// number past the array. The array is per CPU and the program does not migrate while it runs,
// so a plain increment is enough.
func countInstructions() asm.Instructions {
	return asm.Instructions{
		asm.JGE.Imm(asm.R7, slotsPerABI, "overflow").WithSymbol("count"),
		asm.Mov.Reg(asm.R1, asm.R8),
		asm.LSh.Imm(asm.R1, slotShift),
		asm.Add.Reg(asm.R1, asm.R7),
		asm.StoreMem(asm.R10, stackSlot, asm.R1, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(countsMapName),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stackSlot),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
		asm.Ja.Label("exit"),
	}
}

// overflowInstructions add one to the overflow entry of (R8, R7), creating it when missing. The
// map is shared by all CPUs, so the add is atomic, and a lost race to create the entry is
// retried as a lookup.
func overflowInstructions() asm.Instructions {
	lookup := func() asm.Instructions {
		return asm.Instructions{
			asm.LoadMapPtr(asm.R1, 0).WithReference(overflowMapName),
			asm.Mov.Reg(asm.R2, asm.R10),
			asm.Add.Imm(asm.R2, stackOverflow),
			asm.FnMapLookupElem.Call(),
		}
	}
	insns := asm.Instructions{
		asm.StoreMem(asm.R10, stackOverflow, asm.R7, asm.DWord).WithSymbol("overflow"),
		asm.StoreMem(asm.R10, stackOverflow+8, asm.R8, asm.Word),
		asm.StoreImm(asm.R10, stackOverflow+12, 0, asm.Word),
	}
	insns = append(insns, lookup()...)
	insns = append(insns,
		asm.JNE.Imm(asm.R0, 0, "add"),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreMem(asm.R10, stackOne, asm.R1, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference(overflowMapName),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stackOverflow),
		asm.Mov.Reg(asm.R3, asm.R10),
		asm.Add.Imm(asm.R3, stackOne),
		asm.Mov.Imm(asm.R4, int32(ebpf.UpdateNoExist)),
		asm.FnMapUpdateElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
	)
	insns = append(insns, lookup()...)
	return append(insns,
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.Mov.Imm(asm.R1, 1).WithSymbol("add"),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
	)
}

// forkInstructions return the program for the sched_process_fork raw tracepoint, which runs in
// the parent before the child runs. It moves the epoch on, and it counts every process and
// thread that the selected cgroup creates once the gate is open.
func forkInstructions() asm.Instructions {
	check := selectedCgroupCheck("exit")
	check[0] = check[0].WithSymbol("forked")
	insns := append(epochIncrement("forked"), check...)
	insns = append(insns,
		asm.StoreImm(asm.R10, stackZeroKey, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(gateMapName),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stackZeroKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.Word),
		asm.JNE.Imm(asm.R1, gateOpen, "exit"),
		asm.StoreImm(asm.R10, stackSlot, processesSlot, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(countsMapName),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stackSlot),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.Add.Imm(asm.R1, 1),
		asm.StoreMem(asm.R0, 0, asm.R1, asm.DWord),
	)
	return append(insns, exitInstructions()...)
}

func exitInstructions() asm.Instructions {
	return asm.Instructions{
		asm.Mov.Imm(asm.R0, 0).WithSymbol("exit"),
		asm.Return(),
	}
}
