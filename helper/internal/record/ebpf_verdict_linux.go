//go:build linux

package record

import "github.com/cilium/ebpf/asm"

// The sys_enter program runs at every call of every task on the machine. On the build VM
// (AMD EPYC with the SRSO return mitigation, Linux 6.18) each helper call cost it 25 to 60 ns,
// by the kernel's BPF run-time statistics, where an untraced getppid took 240 ns. So the
// program caches, per CPU and per task, whether the task is selected and its ABI: the verdict.
// A task is named by its pt_regs pointer, the tracepoint's first argument, which stays at the
// top of the task's kernel stack while the task lives, so a cache hit costs no helper call.
// A verdict belongs to an epoch. The epoch moves on at every event after which a verdict may
// be wrong: a fork (the new task may get a freed kernel stack), an exec (the ABI may change), a
// move between cgroups, and a new selection.
//
// NOTE: an x86 task can switch between 32-bit and 64-bit code segments itself, with a far jump
// or sigreturn, and no epoch event follows. Its calls are then counted under the ABI of the call
// that filled its cache entry until the next epoch event. An arm64 task cannot switch without
// an exec.
const (
	// verdictSlots is the number of cache entries per CPU. A task uses the entry that its
	// pt_regs pointer selects, so a few tasks that take turns on a CPU each keep their own.
	verdictSlots = 64
	// verdictShift drops the address bits below the kernel stack size, 16 KiB on x86_64 and
	// arm64, which are the same for every task.
	verdictShift = 14

	// Verdicts: verdictOther for a task outside the selected cgroup, else its ABI plus one.
	verdictOther  = 0
	verdictNative = abiNative + 1
	verdictCompat = abiCompat + 1

	// selectionEpochStep is what selectCgroup adds to the epoch. It is larger than the number
	// of events that the programs could count while the helper reads and writes the epoch, so
	// the new value differs from every one that a cache entry holds.
	selectionEpochStep = 1 << 32
)

// verdictEntry is a value of the per-CPU verdict cache.
type verdictEntry struct {
	// Regs is the task's pt_regs pointer, 0 in an entry never written.
	Regs    uint64
	Epoch   uint64
	Verdict uint32
	Padding uint32
}

// cachedVerdictInstructions look up the task's verdict cache entry, a verdictEntry whose
// fields start at offsets 0, 8 and 16. When the entry is the task's and of the current epoch,
// they continue at "verdict" with the cached verdict in R8, else at "miss" with the current
// epoch in R1. Linux 6.18 inlines both map lookups; older
// kernels may call a helper for the per-CPU one.
func cachedVerdictInstructions() asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R1, asm.R6, 0, asm.DWord),
		asm.RSh.Imm(asm.R1, verdictShift),
		asm.And.Imm(asm.R1, verdictSlots-1),
		asm.StoreMem(asm.R10, stackVerdictSlot, asm.R1, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(verdictMapName),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stackVerdictSlot),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.Mov.Reg(asm.R9, asm.R0),

		asm.StoreImm(asm.R10, stackZeroKey, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(epochMapName),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stackZeroKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, "exit"),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),

		asm.LoadMem(asm.R2, asm.R9, 8, asm.DWord),
		asm.JNE.Reg(asm.R2, asm.R1, "miss"),
		asm.LoadMem(asm.R2, asm.R9, 0, asm.DWord),
		asm.LoadMem(asm.R3, asm.R6, 0, asm.DWord),
		asm.JNE.Reg(asm.R2, asm.R3, "miss"),
		asm.LoadMem(asm.R8, asm.R9, 16, asm.Word),
		asm.Ja.Label("verdict"),
	}
}

// verdictInstructions compute the verdict at "miss" and store it in the task's cache entry
// with the epoch in R1. That epoch was read before the verdict's inputs, so an event in between
// leaves an entry of an old epoch, which the next call computes again. At "verdict" they exit
// for verdictOther and set R8 to the ABI otherwise.
func (k kernelABI) verdictInstructions() asm.Instructions {
	insns := asm.Instructions{
		asm.StoreMem(asm.R10, stackEpoch, asm.R1, asm.DWord).WithSymbol("miss"),
		asm.Mov.Imm(asm.R8, verdictOther),
	}
	insns = append(insns, selectedCgroupCheck("store")...)
	insns = append(insns, asm.Mov.Imm(asm.R8, verdictNative))
	if k.compat != 0 {
		insns = append(insns, k.compatInstructions("store")...)
	}
	return append(insns,
		asm.LoadMem(asm.R1, asm.R6, 0, asm.DWord).WithSymbol("store"),
		asm.StoreMem(asm.R9, 0, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.R10, stackEpoch, asm.DWord),
		asm.StoreMem(asm.R9, 8, asm.R1, asm.DWord),
		asm.StoreMem(asm.R9, 16, asm.R8, asm.Word),

		asm.JEq.Imm(asm.R8, verdictOther, "exit").WithSymbol("verdict"),
		asm.Add.Imm(asm.R8, -1),
	)
}

// invalidateInstructions return the program for the sched_process_exec and cgroup_attach_task
// raw tracepoints, which moves the epoch on.
func invalidateInstructions() asm.Instructions {
	return append(epochIncrement("exit"), exitInstructions()...)
}

// epochIncrement adds one to the epoch and continues at label, which the caller puts on the
// next instruction. The add is atomic because the epoch is shared by all CPUs.
func epochIncrement(label string) asm.Instructions {
	return asm.Instructions{
		asm.StoreImm(asm.R10, stackZeroKey, 0, asm.Word),
		asm.LoadMapPtr(asm.R1, 0).WithReference(epochMapName),
		asm.Mov.Reg(asm.R2, asm.R10),
		asm.Add.Imm(asm.R2, stackZeroKey),
		asm.FnMapLookupElem.Call(),
		asm.JEq.Imm(asm.R0, 0, label),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R0, asm.R1, asm.DWord),
	}
}
