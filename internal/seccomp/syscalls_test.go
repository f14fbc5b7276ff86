package seccomp

import (
	"slices"
	"testing"
)

// Numbers from the kernel's syscall ABI, written down independently of the generated tables.
var knownSyscalls = []struct {
	arch Arch
	name string
	nr   int
}{
	{ArchX86_64, "read", 0},
	{ArchX86_64, "openat", 257},
	{ArchX86_64, "epoll_ctl_old", 214},
	{ArchX86_64, "clone3", 435},
	{ArchX86, "read", 3},
	{ArchX86, "mmap2", 192},
	{ArchX86, "socketcall", 102},
	{ArchX86, "socket", 359},
	{ArchX86, "_llseek", 140},
	{ArchX86, "futex_time64", 422},
	{ArchX32, "read", 0x40000000},
	{ArchX32, "rt_sigaction", 0x40000200},
	{ArchX32, "execve", 0x40000208},
	{ArchARM64, "read", 63},
	{ArchARM64, "openat", 56},
	{ArchARM64, "fcntl", 25},
	{ArchARM64, "newfstatat", 79},
	{ArchARM, "read", 3},
	{ArchARM, "mmap2", 192},
	{ArchARM, "fcntl64", 221},
	{ArchARM, "arm_sync_file_range", 341},
	{ArchARM, "cacheflush", 0xf0002},
	{ArchARM, "set_tls", 0xf0005},
}

func TestLookupKnownNumbers(t *testing.T) {
	for _, k := range knownSyscalls {
		nr, ok := Lookup(k.arch, k.name)
		if !ok || nr != k.nr {
			t.Errorf("Lookup(%s, %q) = %d, %v; want %d, true", k.arch, k.name, nr, ok, k.nr)
		}
	}
}

func TestNameKnownNumbers(t *testing.T) {
	for _, k := range knownSyscalls {
		name, ok := Name(k.arch, k.nr)
		if !ok || name != k.name {
			t.Errorf("Name(%s, %d) = %q, %v; want %q, true", k.arch, k.nr, name, ok, k.name)
		}
	}
}

func TestLookupMissing(t *testing.T) {
	cases := []struct {
		arch Arch
		name string
	}{
		{ArchARM64, "open"},
		{ArchARM64, "dup2"},
		{ArchX86_64, "mmap2"},
		{ArchARM, "newfstatat"},
		{ArchARM, "sync_file_range2"},
		{"mips", "read"},
	}
	for _, c := range cases {
		if nr, ok := Lookup(c.arch, c.name); ok {
			t.Errorf("Lookup(%s, %q) = %d, true; want not found", c.arch, c.name, nr)
		}
	}
	if name, ok := Name(ArchX86_64, 9999); ok {
		t.Errorf("Name(x86_64, 9999) = %q, true; want not found", name)
	}
}

func TestTablesRoundTrip(t *testing.T) {
	for _, arch := range Arches() {
		names := Names(arch)
		if len(names) < 300 {
			t.Errorf("%s table has %d names; want the full table of over 300", arch, len(names))
		}
		if !slices.IsSorted(names) {
			t.Errorf("Names(%s) is not sorted", arch)
		}
		numbers := make(map[int]string)
		for _, name := range names {
			nr, ok := Lookup(arch, name)
			if !ok {
				t.Fatalf("Lookup(%s, %q) failed for a name from Names", arch, name)
			}
			if other, dup := numbers[nr]; dup {
				t.Errorf("%s: %q and %q share number %d", arch, other, name, nr)
			}
			numbers[nr] = name
			if back, _ := Name(arch, nr); back != name {
				t.Errorf("Name(%s, %d) = %q; want %q", arch, nr, back, name)
			}
		}
	}
}

func TestX32NumbersCarryX32Bit(t *testing.T) {
	for _, name := range Names(ArchX32) {
		nr, _ := Lookup(ArchX32, name)
		if nr&x32SyscallBit == 0 {
			t.Errorf("x32 %s = %#x lacks the x32 bit", name, nr)
		}
	}
}

func TestNamesReturnsCopy(t *testing.T) {
	names := Names(ArchX86_64)
	names[0] = "changed"
	if Names(ArchX86_64)[0] == "changed" {
		t.Error("Names returned the table's own slice")
	}
}

func TestArchesWith(t *testing.T) {
	cases := map[string][]Arch{
		"epoll_ctl_old": {ArchX86_64},
		"mmap2":         {ArchX86, ArchARM},
		"openat":        {ArchX86_64, ArchX86, ArchX32, ArchARM64, ArchARM},
		"cacheflush":    {ArchARM},
		"frobnicate":    nil,
	}
	for name, want := range cases {
		if got := ArchesWith(name); !slices.Equal(got, want) {
			t.Errorf("ArchesWith(%q) = %v; want %v", name, got, want)
		}
	}
}

func TestAliasTarget(t *testing.T) {
	target, ok := aliasTarget(ArchARM, "sync_file_range2")
	if !ok || target != "arm_sync_file_range" {
		t.Errorf("aliasTarget(arm, sync_file_range2) = %q, %v; want arm_sync_file_range, true", target, ok)
	}
	if target, ok := aliasTarget(ArchARM64, "sync_file_range2"); ok {
		t.Errorf("aliasTarget(arm64, sync_file_range2) = %q, true; want not an alias", target)
	}
}
