package seccomp

import (
	"fmt"
	"slices"
	"strings"
)

// Render validates p and returns it as an LXC seccomp policy (format version 2) for a device
// of the native ABI arch, for use as lxc.seccomp.profile. The text depends only on p and arch:
// rules are sorted, so equal profiles render to equal bytes.
//
// The format, as LXC 5.0.2 parses it: line 1 is the version, line 2 "allowlist" and the default
// action, then one rule per line with no leading whitespace, as `name`, `name ACTION` or
// `name ACTION [index,value,OP]...` with `[index,value,SCMP_CMP_MASKED_EQ,mask]` for masked
// comparisons. Comments stand on their own lines starting with '#'.
//
// LXC adds each rule to the native ABI and to every compat ABI of arch that has the syscall
// name, whatever section the rule is in, and compat-only names (such as mmap2 on x86_64)
// only to the compat ABIs. The policy therefore cannot deny the compat ABIs by itself: when
// p.AllowCompatABIs is false, the caller must also load CompatDenyFilter(arch).
func Render(p Profile, arch Arch) (string, error) {
	if err := Validate(p, arch); err != nil {
		return "", err
	}

	var b strings.Builder
	b.WriteString("2\n")
	fmt.Fprintf(&b, "allowlist %s\n", describeAction(p.DefaultAction))
	writeHeaderComment(&b, p, arch)
	// [all] and a named native section such as [arm64] load identically where LXC recognizes
	// the machine, but LXC 5.0.2 skips named sections on machines whose `uname -m` it does not
	// map to an architecture (armv6l, armv8l, i386 to i586). [all] applies everywhere.
	b.WriteString("[all]\n")
	for _, line := range ruleLines(p) {
		b.WriteString(line + "\n")
	}
	return b.String(), nil
}

func writeHeaderComment(b *strings.Builder, p Profile, arch Arch) {
	fmt.Fprintf(b, "# Seccomp policy for %s devices, rendered by terraform-provider-iotfleet.\n", arch)
	compat := CompatArches(arch)
	switch {
	case len(compat) == 0:
		fmt.Fprintf(b, "# %s has no compat ABIs.\n", arch)
	case p.AllowCompatABIs:
		fmt.Fprintf(b, "# Compat ABIs allowed: LXC adds each rule to every compat ABI (%s) "+
			"that has the syscall.\n", joinArches(compat))
	default:
		fmt.Fprintf(b, "# Compat ABIs denied: LXC adds each rule to the compat ABIs (%s) too, so a second\n",
			joinArches(compat))
		b.WriteString("# filter, loaded next to this policy, rejects every compat-ABI syscall.\n")
	}
}

// ruleLines returns one line per Syscalls entry and per Rule, sorted.
func ruleLines(p Profile) []string {
	lines := make([]string, 0, len(p.Syscalls)+len(p.Rules))
	lines = append(lines, p.Syscalls...)
	for _, rule := range p.Rules {
		lines = append(lines, ruleLine(rule))
	}
	slices.Sort(lines)
	return lines
}

// ruleLine writes the action even for allow, because LXC reads a word after the name as the
// action and fails on an argument block in its place.
func ruleLine(rule Rule) string {
	var b strings.Builder
	b.WriteString(rule.Syscall + " " + describeAction(rule.Action))
	for _, filter := range sortedFilters(rule.Args) {
		if filter.Op == OpMaskedEq {
			fmt.Fprintf(&b, " [%d,%d,%s,%d]", filter.Index, filter.Value, lxcOperators[filter.Op], filter.Mask)
		} else {
			fmt.Fprintf(&b, " [%d,%d,%s]", filter.Index, filter.Value, lxcOperators[filter.Op])
		}
	}
	return b.String()
}
