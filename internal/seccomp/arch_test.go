package seccomp

import (
	"slices"
	"strings"
	"testing"
)

func TestArchForMachine(t *testing.T) {
	cases := map[string]Arch{
		"x86_64":   ArchX86_64,
		"i386":     ArchX86,
		"i686":     ArchX86,
		"aarch64":  ArchARM64,
		"armv5tel": ArchARM,
		"armv6l":   ArchARM,
		"armv7l":   ArchARM,
		"armv8l":   ArchARM,
	}
	for machine, want := range cases {
		got, err := ArchForMachine(machine)
		if err != nil || got != want {
			t.Errorf("ArchForMachine(%q) = %q, %v; want %q", machine, got, err, want)
		}
	}
}

func TestArchForMachineUnsupported(t *testing.T) {
	for _, machine := range []string{"", "mips64", "ppc64le", "armv7b", "aarch64_be", "riscv64", "x32"} {
		arch, err := ArchForMachine(machine)
		if err == nil {
			t.Errorf("ArchForMachine(%q) = %q, nil; want an error", machine, arch)
			continue
		}
		if !strings.Contains(err.Error(), `unsupported machine "`+machine+`"`) {
			t.Errorf("ArchForMachine(%q) error %q does not name the machine", machine, err)
		}
	}
}

func TestCompatArches(t *testing.T) {
	cases := map[Arch][]Arch{
		ArchX86_64: {ArchX86, ArchX32},
		ArchARM64:  {ArchARM},
		ArchX86:    nil,
		ArchARM:    nil,
		"mips":     nil,
	}
	for native, want := range cases {
		if got := CompatArches(native); !slices.Equal(got, want) {
			t.Errorf("CompatArches(%s) = %v; want %v", native, got, want)
		}
	}

	compat := CompatArches(ArchX86_64)
	compat[0] = ArchARM
	if CompatArches(ArchX86_64)[0] != ArchX86 {
		t.Error("CompatArches returned the shared slice")
	}
}

func TestLibseccompName(t *testing.T) {
	cases := map[Arch]string{
		ArchX86_64: "x86_64", ArchX86: "x86", ArchX32: "x32", ArchARM64: "aarch64", ArchARM: "arm", "mips": "",
	}
	for arch, want := range cases {
		if got := arch.LibseccompName(); got != want {
			t.Errorf("%q.LibseccompName() = %q; want %q", arch, got, want)
		}
	}
}
