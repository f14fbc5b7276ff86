package container

import (
	"path/filepath"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initspec"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/profile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// compatFilter returns the filter that refuses compat-ABI syscalls for a container whose policy
// is a profile that does not allow them, and nil otherwise. LXC adds each rule of a policy to
// every compat ABI where the name exists, so without this filter a default-deny profile would
// let 32-bit programs make the same calls.
//
// A policy outside the state folder's profiles was not written by the provider and has no
// metadata, so it gets no filter.
//
// NOTE: commands that lxc-attach starts, container.exec included, get LXC's policy but not this
// filter, because they do not descend from the init that loads it.
func compatFilter(paths Paths, policyPath string) ([]initspec.Instruction, error) {
	profiles := filepath.Join(paths.StateDir, state.ProfilesDir) + "/"
	if policyPath == "" || !strings.HasPrefix(policyPath, profiles) {
		return nil, nil
	}
	metadata, err := profile.ForPolicy(policyPath)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalid, "seccomp_profile %q: %v", policyPath, err)
	}
	program, err := profile.CompatDenyFilter(metadata)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalid, "seccomp_profile %q: %v", policyPath, err)
	}
	filter := make([]initspec.Instruction, len(program))
	for i, instruction := range program {
		filter[i] = initspec.Instruction{Code: instruction.Code, Jt: instruction.Jt, Jf: instruction.Jf, K: instruction.K}
	}
	return filter, nil
}
