package seccomp

import (
	"fmt"
	"math"
	"slices"
)

func (v *validator) checkRules() {
	for i, rule := range v.profile.Rules {
		v.checkRule(i, rule)
	}
	v.checkRuleConflicts()
}

func (v *validator) checkRule(i int, rule Rule) {
	name := rule.Syscall
	nameOK := true
	if message, ok := v.checkName(name); !ok {
		v.problems.add(ruleAt(i, "syscall", name), "%s", message)
		nameOK = false
	}

	before := len(v.problems.problems)
	v.checkAction(rule.Action, ruleAt(i, "action", name), ruleAt(i, "errno", name))
	actionOK := len(v.problems.problems) == before
	if actionOK && rule.Action.equal(v.profile.DefaultAction) {
		v.problems.add(ruleAt(i, "action", name),
			"action %s is the default action, and libseccomp rejects such a rule (EACCES) when LXC "+
				"loads the policy; remove the rule or change its action", describeAction(rule.Action))
	}

	v.checkArgs(i, rule, nameOK)
}

func (v *validator) checkArgs(i int, rule Rule, nameOK bool) {
	name := rule.Syscall
	if len(rule.Args) > maxArgFilters {
		v.problems.add(ruleAt(i, "args", name),
			"the rule has %d argument filters, but LXC reads at most %d; keep one filter per argument",
			len(rule.Args), maxArgFilters)
	}
	narrow := v.narrowArches(name, nameOK)
	firstUse := make(map[int]int)
	for j, filter := range rule.Args {
		if filter.Index < 0 || filter.Index >= maxArgFilters {
			v.problems.add(argAt(i, j, "index", name), "argument index %d is out of range; use 0 to %d",
				filter.Index, maxArgFilters-1)
		} else if k, ok := firstUse[filter.Index]; ok {
			v.problems.add(argAt(i, j, "index", name),
				"argument %d is already compared by args[%d], and libseccomp rejects two comparisons "+
					"of one argument in a rule (EINVAL); split them into separate rules", filter.Index, k)
		} else {
			firstUse[filter.Index] = j
		}
		v.checkComparison(i, j, name, filter)
		v.checkWidth(i, j, name, filter, narrow)
	}
}

func (v *validator) checkComparison(i, j int, name string, filter ArgFilter) {
	if _, ok := lxcOperators[filter.Op]; !ok {
		v.problems.add(argAt(i, j, "op", name),
			"unknown operator %q; use eq, ne, lt, le, gt, ge or masked_eq", filter.Op)
		return
	}
	switch {
	case filter.Op != OpMaskedEq && filter.Mask != 0:
		v.problems.add(argAt(i, j, "mask", name),
			"mask %#x applies only to operator masked_eq; set op to masked_eq or remove the mask", filter.Mask)
	case filter.Op == OpMaskedEq && filter.Mask == 0:
		v.problems.add(argAt(i, j, "mask", name),
			"operator masked_eq needs a mask; set mask to the bits to compare")
	case filter.Op == OpMaskedEq && filter.Value&^filter.Mask != 0:
		v.problems.add(argAt(i, j, "value", name),
			"value %#x has bits outside mask %#x, so the filter never matches; "+
				"clear those bits or widen the mask", filter.Value, filter.Mask)
	}
}

// narrowArches returns the 32-bit ABIs that the rule for name reaches: the native one, and
// each allowed compat ABI that has the syscall, because LXC adds every rule to those too.
func (v *validator) narrowArches(name string, nameOK bool) []Arch {
	var narrow []Arch
	if archInfos[v.arch].argBits == 32 {
		narrow = append(narrow, v.arch)
	}
	if !nameOK || !v.profile.AllowCompatABIs {
		return narrow
	}
	for _, compat := range v.compatArchesWith(name) {
		if archInfos[compat].argBits == 32 {
			narrow = append(narrow, compat)
		}
	}
	return narrow
}

// checkWidth rejects values and masks wider than 32 bits on 32-bit ABIs: libseccomp 2.5.4
// keeps only their lower half there, so the filter would match other values.
func (v *validator) checkWidth(i, j int, name string, filter ArgFilter, narrow []Arch) {
	if len(narrow) == 0 {
		return
	}
	compatOnly := !slices.Contains(narrow, v.arch)
	if filter.Value > math.MaxUint32 {
		v.problems.add(argAt(i, j, "value", name),
			"value %#x does not fit the 32-bit arguments of %s, where libseccomp drops its upper 32 bits; %s",
			filter.Value, joinArches(narrow), narrowFix("value", compatOnly))
	}
	if filter.Mask > math.MaxUint32 {
		v.problems.add(argAt(i, j, "mask", name),
			"mask %#x does not fit the 32-bit arguments of %s, where libseccomp drops its upper 32 bits; %s",
			filter.Mask, joinArches(narrow), narrowFix("mask", compatOnly))
	}
}

func narrowFix(attribute string, compatOnly bool) string {
	if compatOnly {
		return "use a " + attribute + " below 2^32 or deny the compat ABIs"
	}
	return "use a " + attribute + " below 2^32"
}

// checkRuleConflicts reports rules that libseccomp would reject or silently drop next to
// another rule or a Syscalls entry for the same syscall.
func (v *validator) checkRuleConflicts() {
	unconditional := make(map[string]bool, len(v.profile.Syscalls))
	for _, name := range v.profile.Syscalls {
		unconditional[name] = true
	}
	earlier := make(map[string][]int)
	for i, rule := range v.profile.Rules {
		name := rule.Syscall
		if unconditional[name] {
			v.problems.add(ruleAt(i, "syscall", name),
				"syscall %q is also in syscalls, which allows every call of it, so libseccomp would "+
					"drop or reject this rule; remove one of them", name)
			continue
		}
		for _, k := range earlier[name] {
			if message := ruleConflict(v.profile.Rules[k], rule, k); message != "" {
				v.problems.add(ruleAt(i, "", name), "%s", message)
				break
			}
		}
		earlier[name] = append(earlier[name], i)
	}
}

// ruleConflict returns why rule cannot stand next to the earlier rules[k] for the same
// syscall, or "".
func ruleConflict(earlier, rule Rule, k int) string {
	switch {
	case len(earlier.Args) == 0 || len(rule.Args) == 0:
		return fmt.Sprintf("rules[%d] is also for %q, and next to a rule without argument filters "+
			"libseccomp keeps only that one; merge them into one rule", k, rule.Syscall)
	case !sameFilters(earlier.Args, rule.Args):
		return ""
	case earlier.Action.equal(rule.Action):
		return fmt.Sprintf("the rule duplicates rules[%d]; remove one of them", k)
	default:
		return fmt.Sprintf("the rule matches the same arguments as rules[%d] with another action, "+
			"which libseccomp rejects (EEXIST); remove one of them", k)
	}
}

func sameFilters(a, b []ArgFilter) bool {
	if len(a) != len(b) {
		return false
	}
	return slices.Equal(sortedFilters(a), sortedFilters(b))
}

func sortedFilters(filters []ArgFilter) []ArgFilter {
	sorted := slices.Clone(filters)
	slices.SortStableFunc(sorted, func(x, y ArgFilter) int { return x.Index - y.Index })
	return sorted
}

// describeAction returns the action as LXC's policy format writes it, such as "errno 38".
func describeAction(a Action) string {
	if a.Kind == ActionErrno {
		return fmt.Sprintf("errno %d", a.errnoValue())
	}
	return string(a.Kind)
}
