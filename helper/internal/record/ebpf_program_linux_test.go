//go:build linux

package record

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

func TestSlotIndexRoundTrip(t *testing.T) {
	k, err := kernelABIFor(seccomp.ArchX86_64)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		abi    uint32
		number uint64
		want   Call
	}{
		"native read":    {abiNative, 0, Call{AuditArch: auditArchX86_64, Number: 0}},
		"native last":    {abiNative, slotsPerABI - 1, Call{AuditArch: auditArchX86_64, Number: slotsPerABI - 1}},
		"compat getppid": {abiCompat, 64, Call{AuditArch: auditArchI386, Number: 64}},
		"compat last":    {abiCompat, slotsPerABI - 1, Call{AuditArch: auditArchI386, Number: slotsPerABI - 1}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			index, ok := slotIndex(c.abi, c.number)
			if !ok {
				t.Fatalf("slotIndex(%d, %d) has no slot", c.abi, c.number)
			}
			if index >= processesSlot {
				t.Fatalf("slotIndex(%d, %d) = %d, which is not below the processes slot %d", c.abi, c.number, index, processesSlot)
			}
			got, ok := k.callForSlot(index)
			if !ok || got != c.want {
				t.Errorf("callForSlot(%d) = %+v, %v; want %+v", index, got, ok, c.want)
			}
		})
	}
}

func TestSlotIndexOverflow(t *testing.T) {
	for _, number := range []uint64{slotsPerABI, 0x40000000 | 1, 0xf0005, ^uint64(0)} {
		if index, ok := slotIndex(abiNative, number); ok {
			t.Errorf("slotIndex(native, %#x) = %d, want the overflow map", number, index)
		}
	}
	k, err := kernelABIFor(seccomp.ArchARM64)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := k.callForSlot(processesSlot); ok {
		t.Error("the processes slot decodes as a call")
	}
	got := k.callForOverflow(overflowKey{Number: 0xf0005, ABI: abiCompat})
	abi, name, ok := got.Name()
	if abi != string(seccomp.ArchARM) || name != "set_tls" || !ok {
		t.Errorf("compat overflow 0xf0005 on arm64 = %s:%s (%v), want arm:set_tls", abi, name, ok)
	}
}

func TestCompatRegisterTest(t *testing.T) {
	cases := map[string]struct {
		test  registerTest
		field uint64
		want  bool
	}{
		"x86 i386 code segment":       {x86CompatTest, 0x23, true},
		"x86 64-bit code segment":     {x86CompatTest, 0x33, false},
		"x86 FRED flags above cs":     {x86CompatTest, 0x0004_0000_0023, true},
		"x86 FRED 64-bit with flags":  {x86CompatTest, 0x0004_0000_0033, false},
		"arm64 AArch32 user pstate":   {arm64CompatTest, 0x6000_0010, true},
		"arm64 AArch64 user pstate":   {arm64CompatTest, 0x6000_0000, false},
		"arm64 AArch32 with Thumb":    {arm64CompatTest, 0x30, true},
		"arm64 EL0t with other flags": {arm64CompatTest, 0x8000_0000, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := c.test.matches(c.field); got != c.want {
				t.Errorf("matches(%#x) = %v, want %v", c.field, got, c.want)
			}
		})
	}
}

func TestKernelABIFor(t *testing.T) {
	cases := map[seccomp.Arch]struct {
		native, compat   uint32
		execve, execveat int32
	}{
		seccomp.ArchX86_64: {auditArchX86_64, auditArchI386, 59, 322},
		seccomp.ArchARM64:  {auditArchAArch64, auditArchARM, 221, 281},
		seccomp.ArchARM:    {auditArchARM, 0, 11, 387},
	}
	for arch, want := range cases {
		t.Run(string(arch), func(t *testing.T) {
			k, err := kernelABIFor(arch)
			if err != nil {
				t.Fatal(err)
			}
			if k.native != want.native || k.compat != want.compat {
				t.Errorf("audit arches %#x/%#x, want %#x/%#x", k.native, k.compat, want.native, want.compat)
			}
			if k.execve != want.execve || k.execveat != want.execveat {
				t.Errorf("execve %d, execveat %d; want %d, %d", k.execve, k.execveat, want.execve, want.execveat)
			}
		})
	}
	if _, err := kernelABIFor(seccomp.ArchX86); err == nil {
		t.Error("kernelABIFor(x86) succeeded; the recorder has no program for 32-bit x86 kernels")
	}
}

// TestSysEnterProgram loads the programs into the running kernel and runs the sys_enter program
// with BPF_PROG_TEST_RUN, which runs it as the calling thread: the test selects its own cgroup.
func TestSysEnterProgram(t *testing.T) {
	arch := nativeArch(t)
	counter := loadForTest(t, arch)
	// The gate distinguishes the executing thread from the others, so each goroutine below
	// keeps its thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	run := func(number uint64) error {
		// A NULL pt_regs pointer cannot be read, so every call counts as native.
		_, err := counter.collection.Programs[sysEnterProgName].Run(&ebpf.RunOptions{Context: []uint64{0, number}})
		return err
	}
	runOnOtherThread := func(number uint64) error {
		result := make(chan error)
		go func() {
			runtime.LockOSThread()
			result <- run(number)
		}()
		return <-result
	}
	k := counter.abi
	steps := []struct {
		name string
		run  func(uint64) error
		call uint64
	}{
		{"before the exec", run, 39},
		{"the exec", run, uint64(k.execve)},
		{"another thread during the exec", runOnOtherThread, 39},
		{"after the exec", run, 39},
		{"again", run, 39},
		{"another thread after the exec", runOnOtherThread, 39},
		{"x32 number", run, 0x40000000 | 1},
		{"number past the array", run, slotsPerABI + 5},
	}
	for _, step := range steps {
		if err := step.run(step.call); err != nil {
			if errors.Is(err, ebpf.ErrNotSupported) {
				t.Skipf("the kernel cannot test-run raw tracepoint programs: %v", err)
			}
			t.Fatalf("run program for %s (syscall %d): %v", step.name, step.call, err)
		}
	}

	trace, err := counter.trace()
	if err != nil {
		t.Fatal(err)
	}
	want := map[Call]uint64{
		{AuditArch: k.native, Number: uint64(k.execve)}: 1,
		{AuditArch: k.native, Number: 39}:               3,
		{AuditArch: k.native, Number: 0x40000000 | 1}:   1,
		{AuditArch: k.native, Number: slotsPerABI + 5}:  1,
	}
	for call, count := range want {
		if trace.Counts[call] != count {
			t.Errorf("count of %+v = %d, want %d", call, trace.Counts[call], count)
		}
	}
	if len(trace.Counts) != len(want) {
		t.Errorf("counted %v, want exactly %v", trace.Counts, want)
	}
	if trace.Processes != 1 {
		t.Errorf("processes = %d, want 1 for the open gate and no fork", trace.Processes)
	}
}

func nativeArch(t *testing.T) seccomp.Arch {
	t.Helper()
	r, _, err := kernelArch()
	if err != nil {
		t.Skip(err)
	}
	return r
}

// loadForTest loads the programs with the test's own cgroup selected, or skips the test where
// the kernel or the user cannot.
func loadForTest(t *testing.T, arch seccomp.Arch) *ebpfCounter {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs")
	}
	SkipUnderEmulation(t)
	if err := features.HaveProgramType(ebpf.RawTracepoint); err != nil {
		t.Skipf("the kernel cannot load raw tracepoint programs: %v", err)
	}
	counter, err := loadEBPF(arch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := counter.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	mount, err := cgroup.UnifiedMountPoint()
	if err != nil {
		t.Skip(err)
	}
	dir, err := cgroup.UnifiedDir(mount, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if err := counter.selectCgroup(dir); err != nil {
		t.Fatal(err)
	}
	return counter
}

// TestVerdictCache runs the sys_enter program with BPF_PROG_TEST_RUN on a made-up pt_regs
// pointer, which cannot be read, so a computed verdict is always native. A cached verdictOther
// shows whether the program used the cache: it then counts nothing, although the test's
// thread is in the selected cgroup.
func TestVerdictCache(t *testing.T) {
	counter := loadForTest(t, nativeArch(t))
	if err := counter.collection.Maps[gateMapName].Put(uint32(0), gateValue{State: gateOpen}); err != nil {
		t.Fatal(err)
	}
	const regs, number = 0x7000_0000, 39
	epoch := func() uint64 {
		t.Helper()
		var value uint64
		if err := counter.collection.Maps[epochMapName].Lookup(uint32(0), &value); err != nil {
			t.Fatal(err)
		}
		return value
	}
	// cacheOther caches verdictOther for regs on every CPU and returns the entries' epoch.
	cacheOther := func() uint64 {
		t.Helper()
		current := epoch()
		entries := make([]verdictEntry, ebpf.MustPossibleCPU())
		for i := range entries {
			entries[i] = verdictEntry{Regs: regs, Epoch: current, Verdict: verdictOther}
		}
		slot := uint32(regs>>verdictShift) % verdictSlots
		if err := counter.collection.Maps[verdictMapName].Put(slot, entries); err != nil {
			t.Fatal(err)
		}
		return current
	}
	runProgram := func(name string) {
		t.Helper()
		_, err := counter.collection.Programs[name].Run(&ebpf.RunOptions{Context: []uint64{regs, number}})
		if errors.Is(err, ebpf.ErrNotSupported) {
			t.Skipf("the kernel cannot test-run raw tracepoint programs: %v", err)
		}
		if err != nil {
			t.Fatalf("run %s: %v", name, err)
		}
	}
	counted := func() uint64 {
		t.Helper()
		trace, err := counter.trace()
		if err != nil {
			t.Fatal(err)
		}
		return trace.Counts[Call{AuditArch: counter.abi.native, Number: number}]
	}

	// Forks and execs anywhere on the machine move the epoch on, which drops the cached entry
	// before the run now and then; such a run is repeated.
	for attempt := 1; ; attempt++ {
		before := counted()
		cached := cacheOther()
		runProgram(sysEnterProgName)
		if epoch() != cached && attempt < 20 {
			continue
		}
		if n := counted(); n != before {
			t.Fatalf("counted %d calls with verdictOther cached, want %d: the program ignored the cache", n, before)
		}
		break
	}
	for _, invalidator := range []string{invalidateProgName, forkProgName} {
		before := counted()
		cacheOther()
		runProgram(invalidator)
		runProgram(sysEnterProgName)
		if n := counted(); n != before+1 {
			t.Errorf("counted %d calls after %s ran, want %d: the cached verdict survived", n, invalidator, before+1)
		}
	}

	// The computed verdict, native, is cached now, and a new selection must drop it.
	runProgram(sysEnterProgName)
	before := counted()
	if err := counter.selectCgroup(testCgroup(t)); err != nil {
		t.Fatal(err)
	}
	runProgram(sysEnterProgName)
	if n := counted(); n != before {
		t.Errorf("counted %d calls, want %d: a call outside the new selection was counted", n, before)
	}
}
