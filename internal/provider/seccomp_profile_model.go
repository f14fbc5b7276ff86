package provider

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// seccompMaxErrno is the largest errno that libseccomp 2.5.4 accepts in an action.
const seccompMaxErrno = 4094

// parseSeccompAction reads an action as the schema writes it: "errno", "errno N", "kill",
// "trap", or in a rule also "allow". "errno" alone means ENOSYS.
func parseSeccompAction(text string, inRule bool) (protocol.ProfileAction, error) {
	kind, number, hasNumber := strings.Cut(text, " ")
	action := protocol.ProfileAction{Action: kind, Text: text}
	switch {
	case kind == string(seccomp.ActionErrno) && !hasNumber:
		action.Errno = seccomp.DefaultErrno
		return action, nil
	case kind == string(seccomp.ActionErrno):
		n, err := strconv.Atoi(number)
		if err != nil || n < 1 || n > seccompMaxErrno || number != strconv.Itoa(n) {
			return protocol.ProfileAction{}, fmt.Errorf("invalid errno in %q: use a number from 1 to %d, "+
				"or \"errno\" alone for ENOSYS (%d)", text, seccompMaxErrno, seccomp.DefaultErrno)
		}
		action.Errno = n
		return action, nil
	case hasNumber:
	case kind == string(seccomp.ActionKill), kind == string(seccomp.ActionTrap):
		return action, nil
	case kind == string(seccomp.ActionAllow) && inRule:
		return action, nil
	}
	if inRule {
		return protocol.ProfileAction{}, fmt.Errorf("invalid action %q: use allow, errno, errno N, kill or trap", text)
	}
	return protocol.ProfileAction{}, fmt.Errorf("invalid default action %q: use errno, errno N, kill or trap", text)
}

// seccompNumber converts a configured argument value or mask to the unsigned 64-bit value the
// kernel compares.
func seccompNumber(n types.Number) (uint64, error) {
	value := n.ValueBigFloat()
	if value == nil || !value.IsInt() || value.Sign() < 0 {
		return 0, fmt.Errorf("%s is not a whole number from 0 to 2^64-1", n.String())
	}
	integer, accuracy := value.Uint64()
	if accuracy != big.Exact {
		return 0, fmt.Errorf("%s is larger than 2^64-1, the largest syscall argument", n.String())
	}
	return integer, nil
}

// seccompProfileMetadata converts the configured profile into the metadata that the helper
// stores and the policy is rendered from. All values must be known. runtimeBase is the base for
// the device's architecture, used when include_runtime_base is true. The recordings' names join
// the configured syscalls, because the helper renders and checks the policy from the metadata.
func seccompProfileMetadata(ctx context.Context, m seccompProfileModel, arch seccomp.Arch,
	runtimeBase []string) (protocol.ProfileMetadata, diag.Diagnostics) {
	var diags diag.Diagnostics
	metadata := protocol.ProfileMetadata{
		Arch:               string(arch),
		AllowCompatABIs:    m.AllowCompatABIs.ValueBool(),
		IncludeRuntimeBase: m.IncludeRuntimeBase.ValueBool(),
		Syscalls:           []string{},
		RuntimeBase:        []string{},
		Rules:              []protocol.ProfileRule{},
	}

	action, err := parseSeccompAction(m.DefaultAction.ValueString(), false)
	if err != nil {
		diags.AddAttributeError(path.Root("default_action"), "Invalid Seccomp Action", err.Error())
	}
	metadata.DefaultAction = action

	diags.Append(m.Syscalls.ElementsAs(ctx, &metadata.Syscalls, false)...)
	slices.Sort(metadata.Syscalls)
	if metadata.IncludeRuntimeBase {
		metadata.RuntimeBase = slices.Clone(runtimeBase)
	}

	rules, d := seccompRules(ctx, m.Rules)
	diags.Append(d...)
	metadata.Rules = rules
	diags.Append(checkRulesAgainstBase(metadata)...)

	recorded, d := recordedSyscalls(ctx, m.Recordings, arch, metadata.AllowCompatABIs)
	diags.Append(d...)
	mergeRecordedSyscalls(&metadata, recorded)
	return metadata, diags
}

// seccompRules converts the configured rules, reporting each bad action or number at its path.
func seccompRules(ctx context.Context, list types.List) ([]protocol.ProfileRule, diag.Diagnostics) {
	var diags diag.Diagnostics
	var models []seccompRuleModel
	diags.Append(list.ElementsAs(ctx, &models, false)...)
	rules := make([]protocol.ProfileRule, 0, len(models))
	for i, model := range models {
		rulePath := path.Root("rules").AtListIndex(i)
		rule := protocol.ProfileRule{Syscall: model.Syscall.ValueString(), Args: []protocol.ProfileArg{}}
		action, err := parseSeccompAction(model.Action.ValueString(), true)
		if err != nil {
			diags.AddAttributeError(rulePath.AtName("action"), "Invalid Seccomp Action", err.Error())
		}
		rule.Action = action

		var args []seccompArgModel
		diags.Append(model.Args.ElementsAs(ctx, &args, false)...)
		for j, a := range args {
			arg, d := seccompArg(a, rulePath.AtName("args").AtListIndex(j))
			diags.Append(d...)
			rule.Args = append(rule.Args, arg)
		}
		rules = append(rules, rule)
	}
	return rules, diags
}

func seccompArg(a seccompArgModel, argPath path.Path) (protocol.ProfileArg, diag.Diagnostics) {
	var diags diag.Diagnostics
	arg := protocol.ProfileArg{Index: int(a.Index.ValueInt64()), Op: a.Op.ValueString()}
	value, err := seccompNumber(a.Value)
	if err != nil {
		diags.AddAttributeError(argPath.AtName("value"), "Invalid Argument Value", err.Error())
	}
	arg.Value = value
	if !a.Mask.IsNull() {
		mask, err := seccompNumber(a.Mask)
		if err != nil {
			diags.AddAttributeError(argPath.AtName("mask"), "Invalid Argument Mask", err.Error())
		}
		arg.Mask = &mask
	}
	return arg, diags
}

// checkRulesAgainstBase rejects rules for runtime base names. The base allows every call of
// them, so libseccomp would drop or reject the rule, and seccomp.Validate would blame syscalls,
// which the user did not write.
func checkRulesAgainstBase(m protocol.ProfileMetadata) diag.Diagnostics {
	var diags diag.Diagnostics
	for i, rule := range m.Rules {
		if slices.Contains(m.RuntimeBase, rule.Syscall) && !slices.Contains(m.Syscalls, rule.Syscall) {
			diags.AddAttributeError(path.Root("rules").AtListIndex(i).AtName("syscall"), "Invalid Seccomp Profile",
				fmt.Sprintf("syscall %q is in the runtime base, which allows every call of it, so a rule for it "+
					"would have no effect; remove the rule, or set include_runtime_base = false and list the base "+
					"syscalls you need yourself.", rule.Syscall))
		}
	}
	return diags
}

// addSeccompProblems reports each problem of a *seccomp.ValidationError at the attribute that
// holds the value, and any other error at the resource.
func addSeccompProblems(diags *diag.Diagnostics, err error) {
	var invalid *seccomp.ValidationError
	if !errors.As(err, &invalid) {
		diags.AddError("Invalid Seccomp Profile", err.Error())
		return
	}
	for _, problem := range invalid.Problems {
		diags.AddAttributeError(seccompProblemPath(problem), "Invalid Seccomp Profile",
			fmt.Sprintf("%s (for %s).", problem.Message, invalid.Arch))
	}
}

// seccompProblemPath maps a problem's location in the seccomp.Profile to the attribute path.
// Rule and argument indexes match, because the rules keep their configured order.
func seccompProblemPath(p seccomp.Problem) path.Path {
	switch p.Field {
	case "default_action":
		return path.Root("default_action")
	case "syscalls":
		if p.Syscall == "" {
			return path.Root("syscalls")
		}
		return path.Root("syscalls").AtSetValue(types.StringValue(p.Syscall))
	case "rules":
		return seccompRuleProblemPath(p)
	}
	return path.Empty()
}

func seccompRuleProblemPath(p seccomp.Problem) path.Path {
	rule := path.Root("rules").AtListIndex(p.Rule)
	if p.Arg >= 0 {
		arg := rule.AtName("args").AtListIndex(p.Arg)
		switch p.Attribute {
		case "index", "op", "value", "mask":
			return arg.AtName(p.Attribute)
		}
		return arg
	}
	switch p.Attribute {
	case "syscall", "action", "args":
		return rule.AtName(p.Attribute)
	case "errno":
		// The errno is part of the action text.
		return rule.AtName("action")
	}
	return rule
}

// seccompRulesValue converts stored rules back into the rules attribute; no rules is null, as
// an unset attribute is.
func seccompRulesValue(rules []protocol.ProfileRule) (types.List, diag.Diagnostics) {
	ruleType := types.ObjectType{AttrTypes: seccompRuleAttrTypes}
	if len(rules) == 0 {
		return types.ListNull(ruleType), nil
	}
	var diags diag.Diagnostics
	elements := make([]attr.Value, 0, len(rules))
	for _, rule := range rules {
		args, d := seccompArgsValue(rule.Args)
		diags.Append(d...)
		object, d := types.ObjectValue(seccompRuleAttrTypes, map[string]attr.Value{
			"syscall": types.StringValue(rule.Syscall),
			"action":  types.StringValue(rule.Action.Text),
			"args":    args,
		})
		diags.Append(d...)
		elements = append(elements, object)
	}
	list, d := types.ListValue(ruleType, elements)
	diags.Append(d...)
	return list, diags
}

func seccompArgsValue(args []protocol.ProfileArg) (types.List, diag.Diagnostics) {
	argType := types.ObjectType{AttrTypes: seccompArgAttrTypes}
	if len(args) == 0 {
		return types.ListNull(argType), nil
	}
	var diags diag.Diagnostics
	elements := make([]attr.Value, 0, len(args))
	for _, arg := range args {
		mask := types.NumberNull()
		if arg.Mask != nil {
			mask = types.NumberValue(new(big.Float).SetUint64(*arg.Mask))
		}
		object, d := types.ObjectValue(seccompArgAttrTypes, map[string]attr.Value{
			"index": types.Int64Value(int64(arg.Index)),
			"op":    types.StringValue(arg.Op),
			"value": types.NumberValue(new(big.Float).SetUint64(arg.Value)),
			"mask":  mask,
		})
		diags.Append(d...)
		elements = append(elements, object)
	}
	list, d := types.ListValue(argType, elements)
	diags.Append(d...)
	return list, diags
}

// seccompStringSet returns names as a set value.
func seccompStringSet(names []string) (types.Set, diag.Diagnostics) {
	elements := make([]attr.Value, len(names))
	for i, name := range names {
		elements[i] = types.StringValue(name)
	}
	return types.SetValue(types.StringType, elements)
}

// seccompTargetModel reads the device object.
func seccompTargetModel(ctx context.Context, object types.Object) (targetModel, diag.Diagnostics) {
	var m targetModel
	diags := object.As(ctx, &m, basetypes.ObjectAsOptions{})
	return m, diags
}
