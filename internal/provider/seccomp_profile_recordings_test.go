package provider

import (
	"context"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// recordingsValue returns a recordings list of one syscalls map per element of byABI.
func recordingsValue(t *testing.T, byABI ...map[string][]string) types.List {
	t.Helper()
	elements := make([]attr.Value, 0, len(byABI))
	for _, recording := range byABI {
		value, diags := types.MapValueFrom(context.Background(), seccompRecordingSyscallsType.ElemType, recording)
		if diags.HasError() {
			t.Fatalf("build recording map: %v", diags)
		}
		elements = append(elements, value)
	}
	list, diags := types.ListValue(seccompRecordingSyscallsType, elements)
	if diags.HasError() {
		t.Fatalf("build recordings list: %v", diags)
	}
	return list
}

func TestRecordedSyscalls(t *testing.T) {
	recordings := recordingsValue(t,
		map[string][]string{"x86_64": {"read", "openat"}, "x86": {"socketcall"}},
		map[string][]string{"x86_64": {"getdents64", "read"}, "arm64": {"renameat2"}},
	)
	cases := []struct {
		name        string
		allowCompat bool
		want        []string
	}{
		{"native only", false, []string{"getdents64", "openat", "read"}},
		{"with compat", true, []string{"getdents64", "openat", "read", "socketcall"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, diags := recordedSyscalls(context.Background(), recordings, seccomp.ArchX86_64, c.allowCompat)
			if diags.HasError() {
				t.Fatalf("recordedSyscalls: %v", diags)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("recordedSyscalls = %v; want %v", got, c.want)
			}
		})
	}
}

func TestRecordedSyscallsNullAndUnknown(t *testing.T) {
	for _, list := range []types.List{types.ListNull(seccompRecordingSyscallsType), types.ListUnknown(seccompRecordingSyscallsType)} {
		got, diags := recordedSyscalls(context.Background(), list, seccomp.ArchX86_64, true)
		if diags.HasError() || len(got) != 0 {
			t.Errorf("recordedSyscalls(%v) = %v, %v; want no names", list, got, diags)
		}
	}
}

func TestMergeRecordedSyscallsKeepsRules(t *testing.T) {
	metadata := protocol.ProfileMetadata{
		Syscalls: []string{"write"},
		Rules:    []protocol.ProfileRule{{Syscall: "ioctl"}},
	}
	mergeRecordedSyscalls(&metadata, []string{"ioctl", "read", "write"})
	if want := []string{"read", "write"}; !slices.Equal(metadata.Syscalls, want) {
		t.Errorf("syscalls = %v; want %v, without ioctl, which has a rule", metadata.Syscalls, want)
	}
}

func TestConfiguredSyscalls(t *testing.T) {
	recordings := recordingsValue(t, map[string][]string{"x86_64": {"getdents64", "read"}})
	stored := protocol.ProfileMetadata{Arch: "x86_64", Syscalls: []string{"getdents64", "read", "write"}}
	cases := []struct {
		name       string
		syscalls   []string
		recordings types.List
		want       []string
	}{
		{"matches state", []string{"read", "write"}, recordings, []string{"read", "write"}},
		{"import", nil, types.ListNull(seccompRecordingSyscallsType), []string{"getdents64", "read", "write"}},
		{"changed on device", []string{"write", "kill"}, recordings, []string{"write"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			syscalls, diags := seccompStringSet(c.syscalls)
			if c.syscalls == nil {
				syscalls = types.SetNull(types.StringType)
			}
			m := seccompProfileModel{Syscalls: syscalls, Recordings: c.recordings}
			got, d := configuredSyscalls(context.Background(), m, stored)
			diags.Append(d...)
			if diags.HasError() {
				t.Fatalf("configuredSyscalls: %v", diags)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("configuredSyscalls = %v; want %v", got, c.want)
			}
		})
	}
}

func TestSeccompAllowedNames(t *testing.T) {
	metadata := protocol.ProfileMetadata{Syscalls: []string{"read", "write"}, RuntimeBase: []string{"close", "read"}}
	if got, want := seccompAllowedNames(metadata), []string{"close", "read", "write"}; !slices.Equal(got, want) {
		t.Errorf("seccompAllowedNames = %v; want %v", got, want)
	}
}
