package seccomp

import (
	"slices"
	"testing"
)

func TestRuntimeBaseSetsExistOnMeasuredArch(t *testing.T) {
	sets := RuntimeBaseSets()
	stages := make(map[RuntimeStage]bool)
	for _, set := range sets {
		if stages[set.Stage] {
			t.Errorf("stage %s appears twice", set.Stage)
		}
		stages[set.Stage] = true
		if len(set.Syscalls) == 0 {
			t.Errorf("stage %s has no syscalls", set.Stage)
		}
		if !slices.IsSorted(set.Syscalls) {
			t.Errorf("stage %s is not sorted: %v", set.Stage, set.Syscalls)
		}
		p := Profile{DefaultAction: Action{Kind: ActionErrno}, Syscalls: set.Syscalls}
		if err := Validate(p, set.MeasuredArch); err != nil {
			t.Errorf("stage %s on %s: %v", set.Stage, set.MeasuredArch, err)
		}
	}
	for _, stage := range []RuntimeStage{StageLXCStart, StageLXCAttach, StageBusyboxInit} {
		if !stages[stage] {
			t.Errorf("stage %s was not measured", stage)
		}
	}
}

func TestRuntimeBaseSetsReturnsCopy(t *testing.T) {
	sets := RuntimeBaseSets()
	sets[0].Syscalls[0] = "changed"
	if RuntimeBaseSets()[0].Syscalls[0] == "changed" {
		t.Error("RuntimeBaseSets returned the package's own slices")
	}
}

func TestRuntimeBaseOnMeasuredArchIsUnion(t *testing.T) {
	var want []string
	for _, set := range RuntimeBaseSets() {
		if set.MeasuredArch != ArchX86_64 {
			t.Fatalf("stage %s was measured on %s; this test assumes x86_64", set.Stage, set.MeasuredArch)
		}
		want = append(want, set.Syscalls...)
	}
	slices.Sort(want)
	want = slices.Compact(want)

	got, err := RuntimeBase(ArchX86_64)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("RuntimeBase(x86_64) = %v\nwant the union of the measured sets %v", got, want)
	}
}

// TestRuntimeBaseMapsEveryName checks that each measured name does its job on every native
// ABI, either under its own name or through runtimeBaseEquivalents. A new measurement with a
// name that exists on no other ABI fails here until it gets an equivalent.
func TestRuntimeBaseMapsEveryName(t *testing.T) {
	for _, arch := range NativeArches() {
		for _, set := range RuntimeBaseSets() {
			for _, name := range set.Syscalls {
				if slices.Contains(runtimeBaseUnneeded[arch], name) {
					continue
				}
				if mapped := mapRuntimeName(name, set.MeasuredArch, arch); len(mapped) == 0 {
					t.Errorf("%s (stage %s) maps to nothing on %s; add its equivalent to runtimeBaseEquivalents",
						name, set.Stage, arch)
				}
			}
		}
	}
}

func TestRuntimeBaseValidatesOnEveryArch(t *testing.T) {
	for _, arch := range NativeArches() {
		base, err := RuntimeBase(arch)
		if err != nil {
			t.Fatalf("RuntimeBase(%s) = %v", arch, err)
		}
		if !slices.IsSorted(base) || len(slices.Compact(slices.Clone(base))) != len(base) {
			t.Errorf("RuntimeBase(%s) is not sorted and unique: %v", arch, base)
		}
		p := Profile{DefaultAction: Action{Kind: ActionErrno}, Syscalls: base}
		if err := Validate(p, arch); err != nil {
			t.Errorf("RuntimeBase(%s) does not validate: %v", arch, err)
		}
	}
}

func TestRuntimeBaseEquivalents(t *testing.T) {
	cases := []struct {
		arch    Arch
		present []string
		absent  []string
	}{
		// arm64 has only the *at and *3 forms; x86 reaches socket calls only through socketcall.
		{ArchARM64, []string{"openat", "dup3", "clone"}, []string{"dup2", "vfork"}},
		{ArchX86, []string{"socketcall", "getuid32", "fcntl64"}, []string{"sendto", "sendmsg"}},
		{ArchARM, []string{"getuid32", "fstatat64", "set_tls"}, []string{"newfstatat", "arch_prctl"}},
	}
	for _, c := range cases {
		base, err := RuntimeBase(c.arch)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range c.present {
			if !slices.Contains(base, name) {
				t.Errorf("RuntimeBase(%s) lacks %s", c.arch, name)
			}
		}
		for _, name := range c.absent {
			if slices.Contains(base, name) {
				t.Errorf("RuntimeBase(%s) contains %s", c.arch, name)
			}
		}
	}
}

func TestRuntimeBaseRejectsCompatArch(t *testing.T) {
	if base, err := RuntimeBase(ArchX32); err == nil {
		t.Errorf("RuntimeBase(x32) = %v; want an error for a compat ABI", base)
	}
}
