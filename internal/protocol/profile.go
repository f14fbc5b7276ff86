package protocol

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// Operations on seccomp profiles. A profile lives in <state_dir>/profiles/<name>/ as one
// policy file per version, named after the SHA-256 of its content (<sha256>.policy), with the
// version's ProfileMetadata next to it (<sha256>.json).
const (
	// OpProfilePut writes the policy and metadata of ProfilePutParams as the profile's current
	// version and returns ProfileState. It keeps an older version only while a container's LXC
	// configuration still names its policy file in lxc.seccomp.profile.
	OpProfilePut = "profile.put"

	// OpProfileGet returns the ProfileState of the current version, or CodeNotFound when the
	// profile does not exist.
	OpProfileGet = "profile.get"

	// OpProfileDelete removes the profile's folder and returns ProfileDeleteResult. It fails
	// with CodeConflict, naming the containers, while an LXC configuration names any of its
	// files. A missing profile is not an error.
	OpProfileDelete = "profile.delete"
)

// ProfileNamePattern is the form of a profile name: a DNS label of lowercase letters, digits
// and '-', at most 63 characters, so that it is also a safe folder name.
var ProfileNamePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidateProfileName returns an error unless name matches ProfileNamePattern.
func ValidateProfileName(name string) error {
	if !ProfileNamePattern.MatchString(name) {
		return fmt.Errorf("invalid profile name %q: use 1 to 63 lowercase letters, digits and '-', "+
			"starting and ending with a letter or digit", name)
	}
	return nil
}

// ProfileName is the params of OpProfileGet and OpProfileDelete.
type ProfileName struct {
	Name string `json:"name"`
}

// ProfilePutParams is the params of OpProfilePut.
type ProfilePutParams struct {
	Name string `json:"name"`

	// Policy is the LXC seccomp policy text, as seccomp.Render returns it for Metadata.
	Policy string `json:"policy"`

	// Metadata describes the policy. Its SHA256 must be the SHA-256 of Policy.
	Metadata ProfileMetadata `json:"metadata"`
}

// ProfileMetadata is written next to each policy version. A container that uses the policy
// reads it to learn what the policy alone cannot enforce: when AllowCompatABIs is false, the
// container's init must load seccomp.CompatDenyFilter(Arch, DefaultAction) as well.
//
// It also holds the profile as configured, so that an imported profile reads back the same
// attributes.
type ProfileMetadata struct {
	// SHA256 is the hex SHA-256 of the policy file.
	SHA256 string `json:"sha256"`

	// Arch is the seccomp ABI the policy was rendered for, such as "x86_64" or "arm64".
	Arch string `json:"arch"`

	AllowCompatABIs bool `json:"allow_compat_abis"`

	DefaultAction ProfileAction `json:"default_action"`

	// Syscalls are the names allowed unconditionally as configured, sorted, without the
	// runtime base.
	Syscalls []string `json:"syscalls"`

	IncludeRuntimeBase bool `json:"include_runtime_base"`

	// RuntimeBase lists the runtime base names that the policy allows, sorted; empty when
	// IncludeRuntimeBase is false.
	RuntimeBase []string `json:"runtime_base"`

	Rules []ProfileRule `json:"rules"`
}

// ProfileAction is a seccomp action.
type ProfileAction struct {
	// Action is "errno", "kill", "trap" or, in a rule only, "allow".
	Action string `json:"action"`

	// Errno is the error number of an "errno" action, with the default already applied.
	Errno int `json:"errno,omitempty"`

	// Text is the action as configured, such as "errno" or "errno 1".
	Text string `json:"text"`
}

// ProfileRule gives one syscall an action, optionally only when its arguments match.
type ProfileRule struct {
	Syscall string        `json:"syscall"`
	Action  ProfileAction `json:"action"`
	Args    []ProfileArg  `json:"args"`
}

// ProfileArg compares one syscall argument with a value.
type ProfileArg struct {
	Index int `json:"index"`

	// Op is "eq", "ne", "lt", "le", "gt", "ge" or "masked_eq".
	Op    string `json:"op"`
	Value uint64 `json:"value"`

	// Mask is nil when not configured.
	Mask *uint64 `json:"mask,omitempty"`
}

// ProfileState is the current version of a profile as the helper finds it on the device.
type ProfileState struct {
	Name string `json:"name"`

	// Path is the current version's policy file, <state_dir>/profiles/<name>/<sha256>.policy.
	Path string `json:"path"`

	// SHA256 is the SHA-256 of the policy file as it is now. It is empty when the file is
	// missing, or when its metadata is missing or describes other content, so that a plan
	// shows the change that repairs it.
	SHA256 string `json:"sha256"`

	// Policy is the content of the policy file as it is now, empty when it is missing.
	Policy string `json:"policy"`

	// Metadata is the current version's metadata, the zero value when it is unreadable.
	Metadata ProfileMetadata `json:"metadata"`

	// Problems describe what is missing or altered, for logs. Empty when the version is intact.
	Problems []string `json:"problems,omitempty"`

	// KeptVersions are the policy files of older versions that remain because LXC
	// configurations still name them.
	KeptVersions []string `json:"kept_versions"`
}

// ProfileDeleteResult is the result of OpProfileDelete.
type ProfileDeleteResult struct {
	// Removed is false when the profile did not exist.
	Removed bool `json:"removed"`
}

// SeccompProfile returns the profile that the metadata describes: the configured syscalls and
// the runtime base are both allowed unconditionally, and Rules keep their order, so that the
// problems seccomp.Validate reports point at the same rule indexes.
func (m ProfileMetadata) SeccompProfile() seccomp.Profile {
	syscalls := slices.Concat(m.Syscalls, m.RuntimeBase)
	slices.Sort(syscalls)
	profile := seccomp.Profile{
		DefaultAction:   m.DefaultAction.seccompAction(),
		Syscalls:        slices.Compact(syscalls),
		AllowCompatABIs: m.AllowCompatABIs,
	}
	for _, rule := range m.Rules {
		r := seccomp.Rule{Syscall: rule.Syscall, Action: rule.Action.seccompAction()}
		for _, arg := range rule.Args {
			filter := seccomp.ArgFilter{Index: arg.Index, Op: seccomp.Op(arg.Op), Value: arg.Value}
			if arg.Mask != nil {
				filter.Mask = *arg.Mask
			}
			r.Args = append(r.Args, filter)
		}
		profile.Rules = append(profile.Rules, r)
	}
	return profile
}

func (a ProfileAction) seccompAction() seccomp.Action {
	return seccomp.Action{Kind: seccomp.ActionKind(a.Action), Errno: a.Errno}
}
