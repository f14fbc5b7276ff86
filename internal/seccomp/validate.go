package seccomp

import (
	"fmt"
	"slices"
	"strings"
)

// Validate checks that Render can turn p into a policy that LXC 5.0.2 and libseccomp 2.5.4
// load on arch with the meaning p states. It returns a *ValidationError listing every problem,
// or a plain error when arch itself is not a native architecture.
//
// Beyond names and ranges, it rejects what libseccomp would refuse at container start: a rule
// whose action equals the default action, two comparisons of one argument, two rules with the
// same arguments and different actions, and errno 4095. It also rejects what LXC or libseccomp
// would silently change: a conditional rule next to an unconditional one for the same syscall,
// values wider than a 32-bit ABI's arguments, and the x86 socket and IPC names that LXC skips.
func Validate(p Profile, arch Arch) error {
	if err := arch.validateNative(); err != nil {
		return fmt.Errorf("validate seccomp profile: %w", err)
	}
	v := validator{profile: p, arch: arch}
	v.checkDefaultAction()
	v.checkSyscalls()
	v.checkRules()
	if len(v.problems.problems) == 0 {
		return nil
	}
	return &ValidationError{Arch: arch, Problems: v.problems.problems}
}

type validator struct {
	profile  Profile
	arch     Arch
	problems problemList
}

func (v *validator) checkDefaultAction() {
	action := v.profile.DefaultAction
	if action.Kind == ActionAllow {
		v.problems.add(defaultActionAt("action"),
			"default action allow would allow every syscall that is not listed; use errno, kill or trap")
		return
	}
	v.checkAction(action, defaultActionAt("action"), defaultActionAt("errno"))
}

// checkAction reports an action kind LXC cannot express and an errno value out of range.
func (v *validator) checkAction(action Action, kindAt, errnoAt Problem) {
	switch action.Kind {
	case ActionErrno:
		if action.Errno < 0 || action.Errno > maxErrno {
			v.problems.add(errnoAt, "errno %d is out of range; use 1 to %d, or 0 for ENOSYS (%d)",
				action.Errno, maxErrno, DefaultErrno)
		}
		return
	case ActionKill, ActionTrap, ActionAllow:
	case "":
		v.problems.add(kindAt, "action is missing; use errno, kill, trap or allow")
		return
	case "log":
		v.problems.add(kindAt, `action "log" is not supported because LXC 5.0.2's policy parser `+
			`rejects it; use errno, kill, trap or allow`)
		return
	case "kill_process":
		v.problems.add(kindAt, `action "kill_process" is not supported because LXC 5.0.2 reads it as `+
			`kill, which kills only the calling thread; use kill`)
		return
	default:
		v.problems.add(kindAt, "unknown action %q; use errno, kill, trap or allow", action.Kind)
		return
	}
	if action.Errno != 0 {
		v.problems.add(errnoAt, "errno %d is set for action %s, but only action errno returns an errno; "+
			"remove it", action.Errno, action.Kind)
	}
}

func (v *validator) checkSyscalls() {
	seen := make(map[string]bool, len(v.profile.Syscalls))
	for _, name := range v.profile.Syscalls {
		if seen[name] {
			v.problems.add(syscallsAt(name), "syscall %q is listed more than once; remove the duplicates", name)
			continue
		}
		seen[name] = true
		if message, ok := v.checkName(name); !ok {
			v.problems.add(syscallsAt(name), "%s", message)
		}
	}
}

// checkName returns why name cannot be used in this profile, or ok.
func (v *validator) checkName(name string) (string, bool) {
	if name == "" {
		return "syscall name is empty", false
	}
	if _, ok := Lookup(v.arch, name); ok {
		return v.checkNativeName(name)
	}
	if compat := v.compatArchesWith(name); len(compat) > 0 {
		if v.profile.AllowCompatABIs {
			return "", true
		}
		return fmt.Sprintf("syscall %q exists only in the compat ABI %s of %s; "+
			"allow the compat ABIs to use it, or remove it", name, joinArches(compat), v.arch), false
	}
	return v.describeUnknownName(name), false
}

// checkNativeName rejects the x86 names that LXC skips although the x86 table has them.
func (v *validator) checkNativeName(name string) (string, bool) {
	multiplexer, ok := x86Multiplexed[name]
	if !ok || v.arch != ArchX86 {
		return "", true
	}
	return fmt.Sprintf("syscall %q cannot be allowed on x86: libseccomp 2.5.4 resolves it to a pseudo "+
		"number, which LXC 5.0.2 skips; allow %q instead, which permits every %s operation",
		name, multiplexer, multiplexer), false
}

// describeUnknownName explains a name that no searched table has: an alias, a syscall of
// another architecture, or a likely typo.
func (v *validator) describeUnknownName(name string) string {
	for _, arch := range v.searchedArches() {
		if target, ok := aliasTarget(arch, name); ok {
			return fmt.Sprintf("syscall %q is an alias that libseccomp does not resolve on %s; use %q",
				name, arch, target)
		}
	}
	if elsewhere := ArchesWith(name); len(elsewhere) > 0 {
		return fmt.Sprintf("syscall %q does not exist on %s, only on %s; remove it from this profile",
			name, strings.Join(archNames(v.searchedArches()), " or "), joinArches(elsewhere))
	}
	if suggestion, ok := Suggest(name, v.knownNames()); ok {
		return fmt.Sprintf("unknown syscall %q on %s; did you mean %q?", name, v.arch, suggestion)
	}
	return fmt.Sprintf("unknown syscall %q on %s; check the spelling against the kernel's syscall names",
		name, v.arch)
}

// compatArchesWith returns the compat ABIs of the profile's arch whose table contains name.
func (v *validator) compatArchesWith(name string) []Arch {
	var found []Arch
	for _, compat := range CompatArches(v.arch) {
		if _, ok := Lookup(compat, name); ok {
			found = append(found, compat)
		}
	}
	return found
}

// searchedArches returns the ABIs whose names the profile may use.
func (v *validator) searchedArches() []Arch {
	if v.profile.AllowCompatABIs {
		return append([]Arch{v.arch}, CompatArches(v.arch)...)
	}
	return []Arch{v.arch}
}

// knownNames returns the names of the searched ABIs, without duplicates, for suggestions.
func (v *validator) knownNames() []string {
	var names []string
	for _, arch := range v.searchedArches() {
		names = append(names, Names(arch)...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}
