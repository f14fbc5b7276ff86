package provider

import (
	"context"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// seccompRecordingsType is the type of a profile's recordings: a list of the syscalls maps
// of iotfleet_seccomp_recording, each mapping an ABI to the names recorded for it.
var seccompRecordingsType = types.ListType{ElemType: seccompRecordingSyscallsType}

// recordedSyscalls returns the sorted names that the recordings made in the native ABI of
// arch, plus those of its compat ABIs when allowCompat is true. Names of other ABIs, which a
// recording from a device of another architecture would carry, are ignored.
func recordedSyscalls(ctx context.Context, recordings types.List, arch seccomp.Arch, allowCompat bool) ([]string, diag.Diagnostics) {
	var diags diag.Diagnostics
	if recordings.IsNull() || recordings.IsUnknown() {
		return nil, diags
	}
	abis := []string{string(arch)}
	if allowCompat {
		for _, compat := range seccomp.CompatArches(arch) {
			abis = append(abis, string(compat))
		}
	}

	var names []string
	for _, element := range recordings.Elements() {
		recording, ok := element.(types.Map)
		if !ok || recording.IsNull() {
			continue
		}
		var byABI map[string][]string
		diags.Append(recording.ElementsAs(ctx, &byABI, false)...)
		for _, abi := range abis {
			names = append(names, byABI[abi]...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), diags
}

// mergeRecordedSyscalls adds the recorded names to the metadata's unconditional syscalls. A
// name that has a rule keeps its rule, so a recording never widens an argument filter.
func mergeRecordedSyscalls(metadata *protocol.ProfileMetadata, recorded []string) {
	for _, name := range recorded {
		hasRule := slices.ContainsFunc(metadata.Rules, func(r protocol.ProfileRule) bool { return r.Syscall == name })
		if !hasRule {
			metadata.Syscalls = append(metadata.Syscalls, name)
		}
	}
	slices.Sort(metadata.Syscalls)
	metadata.Syscalls = slices.Compact(metadata.Syscalls)
}

// seccompAllowedNames returns every name that the metadata's policy allows with any arguments.
func seccompAllowedNames(metadata protocol.ProfileMetadata) []string {
	names := slices.Concat(metadata.Syscalls, metadata.RuntimeBase)
	slices.Sort(names)
	return slices.Compact(names)
}

// configuredSyscalls returns the part of the stored syscalls that the configuration lists. The
// metadata stores the configured and the recorded names as one list, so the state's own
// syscalls stay when they and the state's recordings make up that list again. Otherwise, after
// an import or a change on the device, every stored name that no recording explains is
// configured.
func configuredSyscalls(ctx context.Context, m seccompProfileModel, metadata protocol.ProfileMetadata) ([]string, diag.Diagnostics) {
	var diags diag.Diagnostics
	recorded, d := recordedSyscalls(ctx, m.Recordings, seccomp.Arch(metadata.Arch), metadata.AllowCompatABIs)
	diags.Append(d...)
	var configured []string
	if !m.Syscalls.IsNull() && !m.Syscalls.IsUnknown() {
		diags.Append(m.Syscalls.ElementsAs(ctx, &configured, false)...)
	}

	rebuilt := protocol.ProfileMetadata{Syscalls: slices.Clone(configured), Rules: metadata.Rules}
	slices.Sort(rebuilt.Syscalls)
	mergeRecordedSyscalls(&rebuilt, recorded)
	if slices.Equal(rebuilt.Syscalls, metadata.Syscalls) {
		slices.Sort(configured)
		return configured, diags
	}
	own := []string{}
	for _, name := range metadata.Syscalls {
		if !slices.Contains(recorded, name) || slices.Contains(configured, name) {
			own = append(own, name)
		}
	}
	return own, diags
}

// seccompAllowedValue returns the allowed attribute of the metadata.
func seccompAllowedValue(metadata protocol.ProfileMetadata) (types.Set, diag.Diagnostics) {
	return seccompStringSet(seccompAllowedNames(metadata))
}
