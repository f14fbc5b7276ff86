package record

import (
	"reflect"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// call returns the Call of the named syscall on arch, failing the test for an unknown name.
func call(t *testing.T, arch seccomp.Arch, auditArch uint32, name string) Call {
	t.Helper()
	nr, ok := seccomp.Lookup(arch, name)
	if !ok {
		t.Fatalf("no syscall %s on %s", name, arch)
	}
	return Call{AuditArch: auditArch, Number: uint64(nr)}
}

func TestCallName(t *testing.T) {
	tests := []struct {
		name      string
		arch      seccomp.Arch
		auditArch uint32
		syscall   string
	}{
		{"x86_64", seccomp.ArchX86_64, auditArchX86_64, "getdents64"},
		{"i386 compat", seccomp.ArchX86, auditArchI386, "socketcall"},
		{"x32", seccomp.ArchX32, auditArchX86_64, "read"},
		{"arm64", seccomp.ArchARM64, auditArchAArch64, "openat"},
		{"arm compat", seccomp.ArchARM, auditArchARM, "mmap2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			abi, name, ok := call(t, tt.arch, tt.auditArch, tt.syscall).Name()
			if !ok || abi != string(tt.arch) || name != tt.syscall {
				t.Errorf("Name() = %q, %q, %v; want %q, %q, true", abi, name, ok, tt.arch, tt.syscall)
			}
		})
	}
}

func TestCallNameSameNumberDiffersByABI(t *testing.T) {
	// Number 1 is write on x86_64 and exit on i386.
	if _, name, _ := (Call{AuditArch: auditArchX86_64, Number: 1}).Name(); name != "write" {
		t.Errorf("x86_64 number 1 = %q, want write", name)
	}
	if _, name, _ := (Call{AuditArch: auditArchI386, Number: 1}).Name(); name != "exit" {
		t.Errorf("i386 number 1 = %q, want exit", name)
	}
}

func TestCallNameUnknown(t *testing.T) {
	abi, _, ok := (Call{AuditArch: 0x8000003e, Number: 3}).Name()
	if ok || abi != "0x8000003e" {
		t.Errorf("unknown audit arch: abi %q, ok %v; want the hex value and false", abi, ok)
	}
	abi, _, ok = (Call{AuditArch: auditArchX86_64, Number: 9999}).Name()
	if ok || abi != "x86_64" {
		t.Errorf("unknown number: abi %q, ok %v; want x86_64 and false", abi, ok)
	}
}

func TestMergeUnionAndCoverage(t *testing.T) {
	read := call(t, seccomp.ArchX86_64, auditArchX86_64, "read")
	write := call(t, seccomp.ArchX86_64, auditArchX86_64, "write")
	tgkill := call(t, seccomp.ArchX86_64, auditArchX86_64, "tgkill")
	compatRead := call(t, seccomp.ArchX86, auditArchI386, "read")
	unknown := Call{AuditArch: auditArchX86_64, Number: 9999}
	runs := []RunCounts{
		{Run: protocol.RecordingRun{Outcome: protocol.RunExited}, Counts: map[Call]uint64{read: 3, write: 1, unknown: 2}},
		{Run: protocol.RecordingRun{Outcome: protocol.RunStopped}, Counts: map[Call]uint64{read: 4, tgkill: 1}},
		{Run: protocol.RecordingRun{Outcome: protocol.RunTimedOut}, Counts: map[Call]uint64{read: 1, compatRead: 5, unknown: 1}},
	}
	var result protocol.RecordingResult
	Merge(&result, runs)

	wantSyscalls := map[string][]protocol.RecordedSyscall{
		"x86_64": {{Name: "read", Count: 8, Runs: 3}, {Name: "tgkill", Count: 1, Runs: 1}, {Name: "write", Count: 1, Runs: 1}},
		"x86":    {{Name: "read", Count: 5, Runs: 1}},
	}
	if !reflect.DeepEqual(result.Syscalls, wantSyscalls) {
		t.Errorf("Syscalls = %+v, want %+v", result.Syscalls, wantSyscalls)
	}
	wantUnknown := []protocol.UnknownSyscall{{Arch: "x86_64", Number: 9999, Count: 3}}
	if !reflect.DeepEqual(result.Unknown, wantUnknown) {
		t.Errorf("Unknown = %+v, want %+v", result.Unknown, wantUnknown)
	}
	wantCoverage := protocol.RecordingCoverage{
		Runs: 3, Names: 4, EveryRunNames: 1,
		SometimesNames: []string{"x86:read", "x86_64:tgkill", "x86_64:write"},
		AddedByLastRun: 1,
	}
	if !reflect.DeepEqual(result.Coverage, wantCoverage) {
		t.Errorf("Coverage = %+v, want %+v", result.Coverage, wantCoverage)
	}
	if len(result.Runs) != 3 || result.Runs[2].Outcome != protocol.RunTimedOut {
		t.Errorf("Runs = %+v, want the three runs in order", result.Runs)
	}
}

func TestMergeNoRuns(t *testing.T) {
	var result protocol.RecordingResult
	Merge(&result, nil)
	if len(result.Syscalls) != 0 || result.Coverage.Names != 0 || result.Unknown == nil || result.Runs == nil {
		t.Errorf("Merge(nil) = %+v; want empty, non-nil lists", result)
	}
}
