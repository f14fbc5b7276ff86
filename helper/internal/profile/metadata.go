package profile

import (
	"fmt"
	"os"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// ForPolicy returns the metadata written next to the policy file at policyPath, the value of a
// container's lxc.seccomp.profile, after checking that it describes the file's content now.
func ForPolicy(policyPath string) (protocol.ProfileMetadata, error) {
	base, ok := strings.CutSuffix(policyPath, policySuffix)
	if !ok {
		return protocol.ProfileMetadata{}, fmt.Errorf("read profile metadata: %s is not a profile's policy file", policyPath)
	}
	policy, err := os.ReadFile(policyPath)
	if err != nil {
		return protocol.ProfileMetadata{}, fmt.Errorf("read profile metadata: %w", err)
	}
	sum := sha256Hex(policy)
	metadata, problem := readMetadata(base+metadataSuffix, sum)
	if problem != "" {
		return protocol.ProfileMetadata{}, fmt.Errorf("read profile metadata of %s: %s; apply the profile again",
			policyPath, problem)
	}
	return metadata, nil
}

// CompatDenyFilter returns the filter that a container using the profile must load, with TSYNC
// and before its init executes, next to the LXC policy: the policy alone allows its names to
// compat-ABI callers too. It returns nil when the profile allows the compat ABIs, or when the
// architecture has none.
func CompatDenyFilter(m protocol.ProfileMetadata) ([]seccomp.BPFInstruction, error) {
	arch := seccomp.Arch(m.Arch)
	if m.AllowCompatABIs || len(seccomp.CompatArches(arch)) == 0 {
		return nil, nil
	}
	deny := seccomp.Action{Kind: seccomp.ActionKind(m.DefaultAction.Action), Errno: m.DefaultAction.Errno}
	program, err := seccomp.CompatDenyFilter(arch, deny)
	if err != nil {
		return nil, fmt.Errorf("profile metadata: %w", err)
	}
	return program, nil
}
