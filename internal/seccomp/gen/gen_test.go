package main

import (
	"os/exec"
	"slices"
	"testing"
)

func TestSelectSyscalls(t *testing.T) {
	macros := []byte(`#define __NR_read 3
#define __NR_fcntl __NR3264_fcntl
#define __NR3264_fcntl 25
#define __NR_arm_sync_file_range (__NR_SYSCALL_BASE+341)
#define __NR_sync_file_range2 __NR_arm_sync_file_range
#define __NR_SYSCALL_BASE 0
#define __NR_syscalls 451
#define __ARM_NR_BASE (__NR_SYSCALL_BASE+0x0f0000)
#define __ARM_NR_set_tls (__ARM_NR_BASE+5)
#define __X32_SYSCALL_BIT 0x40000000
`)
	names, aliases, err := selectSyscalls(macros)
	if err != nil {
		t.Fatalf("selectSyscalls = %v", err)
	}
	wantNames := map[string]string{
		"__NR_read":                "read",
		"__NR_fcntl":               "fcntl",
		"__NR_arm_sync_file_range": "arm_sync_file_range",
		"__ARM_NR_set_tls":         "set_tls",
	}
	if len(names) != len(wantNames) {
		t.Errorf("names = %v; want %v", names, wantNames)
	}
	for macro, name := range wantNames {
		if names[macro] != name {
			t.Errorf("names[%s] = %q; want %q", macro, names[macro], name)
		}
	}
	wantAliases := []alias{{name: "sync_file_range2", target: "arm_sync_file_range"}}
	if !slices.Equal(aliases, wantAliases) {
		t.Errorf("aliases = %v; want %v", aliases, wantAliases)
	}
}

func TestSelectSyscallsRejectsNameClash(t *testing.T) {
	macros := []byte("#define __NR_cacheflush 1\n#define __ARM_NR_cacheflush 2\n")
	if _, _, err := selectSyscalls(macros); err == nil {
		t.Error("selectSyscalls accepted two macros for the name cacheflush")
	}
}

func TestParseConstants(t *testing.T) {
	assembly := []byte(`	.globl	iotf__nr_read
iotf__nr_read:
	.zero	4
iotf__nr_write:
	.long	1
iotf__nr_restart_syscall:
	.space	4
iotf__arm_nr_set_tls:
	.word	983045
other_label:
	.long	7
`)
	values, err := parseConstants(assembly)
	if err != nil {
		t.Fatalf("parseConstants = %v", err)
	}
	want := map[string]int64{
		"iotf__nr_read": 0, "iotf__nr_write": 1, "iotf__nr_restart_syscall": 0, "iotf__arm_nr_set_tls": 983045,
	}
	if len(values) != len(want) {
		t.Errorf("values = %v; want %v", values, want)
	}
	for label, value := range want {
		if got, ok := values[label]; !ok || got != value {
			t.Errorf("values[%s] = %d, %v; want %d", label, got, ok, value)
		}
	}
}

func TestParseConstantsRejectsUnknownDirective(t *testing.T) {
	if _, err := parseConstants([]byte("iotf__nr_read:\n\t.quad\t0\n")); err == nil {
		t.Error("parseConstants accepted a .quad directive")
	}
}

func TestWithoutProvenance(t *testing.T) {
	a := []byte("// Code generated\n// Source: x.h (pkg 1)\npackage p\n")
	b := []byte("// Code generated\n// Source: x.h (pkg 2)\npackage p\n")
	c := []byte("// Code generated\n// Source: x.h (pkg 1)\npackage q\n")
	if string(withoutProvenance(a)) != string(withoutProvenance(b)) {
		t.Error("tables that differ only in a Source line compare as different")
	}
	if string(withoutProvenance(a)) == string(withoutProvenance(c)) {
		t.Error("tables that differ in code compare as equal")
	}
}

// TestCommittedTablesUpToDate regenerates the tables in memory and compares them with the
// committed files, so `go test ./...` catches a stale or hand-edited table.
func TestCommittedTablesUpToDate(t *testing.T) {
	for _, tool := range []string{amd64Compiler, "aarch64-linux-gnu-gcc", "arm-linux-gnueabihf-gcc", "dpkg-query"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found, so the tables cannot be regenerated here", tool)
		}
	}
	if err := run("..", true); err != nil {
		t.Error(err)
	}
}
