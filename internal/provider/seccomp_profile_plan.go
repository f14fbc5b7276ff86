package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	tfpath "github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// ModifyPlan renders the policy whenever the device's architecture and every input are known,
// so that the plan shows the policy, its SHA-256 and path, and rejects an invalid profile
// before anything reaches the device.
func (r *seccompProfileResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan seccompProfileModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}

	resp.Diagnostics.Append(planSeccompDevice(ctx, &plan, r.data.defaultUser)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(planSeccompPolicy(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// planSeccompDevice fills the device's user with the provider's default and plans the ID.
func planSeccompDevice(ctx context.Context, plan *seccompProfileModel, defaultUser string) diag.Diagnostics {
	if plan.Device.IsUnknown() || plan.Device.IsNull() {
		plan.ID = types.StringUnknown()
		return nil
	}
	target, diags := seccompTargetModel(ctx, plan.Device)
	if diags.HasError() {
		return diags
	}
	if target.User.IsNull() {
		target.User = types.StringValue(defaultUser)
		object, d := types.ObjectValueFrom(ctx, targetAttrTypes, target)
		diags.Append(d...)
		plan.Device = object
	}
	if seccompAnyUnknown(target.Host, target.Port, target.User, plan.Name) {
		plan.ID = types.StringUnknown()
		return diags
	}
	plan.ID = types.StringValue(seccompProfileID(device.Target{
		Host: target.Host.ValueString(), Port: int(target.Port.ValueInt64()), User: target.User.ValueString(),
	}, plan.Name.ValueString()))
	return diags
}

// seccompProfileID returns the import ID of the profile name on target.
func seccompProfileID(target device.Target, name string) string {
	return target.ID() + "/" + name
}

// planSeccompPolicy renders the policy into plan, or leaves the rendered attributes unknown
// while the architecture or an input is unknown. An invalid profile is an error at the
// attribute that holds the value.
func planSeccompPolicy(ctx context.Context, plan *seccompProfileModel) diag.Diagnostics {
	machine, known, diags := seccompPlanMachine(ctx, *plan)
	if diags.HasError() {
		return diags
	}
	if !known || !seccompInputsKnown(*plan) {
		setSeccompPolicyUnknown(plan)
		return diags
	}
	_, d := renderSeccompPolicy(ctx, plan, machine)
	diags.Append(d...)
	return diags
}

// seccompPlanMachine returns the device's `uname -m` from the device object, and whether it is
// known there.
func seccompPlanMachine(ctx context.Context, plan seccompProfileModel) (string, bool, diag.Diagnostics) {
	if plan.Device.IsUnknown() || plan.Device.IsNull() {
		return "", false, nil
	}
	target, diags := seccompTargetModel(ctx, plan.Device)
	if target.Arch.IsUnknown() || target.Arch.ValueString() == "" || target.StateDir.IsUnknown() {
		return "", false, diags
	}
	return target.Arch.ValueString(), true, diags
}

// seccompInputsKnown reports whether every attribute that the policy depends on is known.
func seccompInputsKnown(m seccompProfileModel) bool {
	if seccompAnyUnknown(m.Name, m.DefaultAction, m.IncludeRuntimeBase, m.AllowCompatABIs) {
		return false
	}
	return seccompFullyKnown(m.Syscalls) && seccompFullyKnown(m.Rules) && seccompFullyKnown(m.Recordings)
}

// seccompFullyKnown reports whether value and everything nested in it are known.
func seccompFullyKnown(value attr.Value) bool {
	if value.IsUnknown() {
		return false
	}
	switch v := value.(type) {
	case types.Set:
		return seccompAllKnown(v.Elements())
	case types.List:
		return seccompAllKnown(v.Elements())
	case types.Object:
		for _, attribute := range v.Attributes() {
			if !seccompFullyKnown(attribute) {
				return false
			}
		}
	}
	return true
}

func seccompAllKnown(values []attr.Value) bool {
	for _, value := range values {
		if !seccompFullyKnown(value) {
			return false
		}
	}
	return true
}

func seccompAnyUnknown(values ...attr.Value) bool {
	for _, value := range values {
		if value.IsUnknown() {
			return true
		}
	}
	return false
}

func setSeccompPolicyUnknown(plan *seccompProfileModel) {
	plan.RuntimeBase = types.SetUnknown(types.StringType)
	plan.Allowed = types.SetUnknown(types.StringType)
	plan.Policy = types.StringUnknown()
	plan.SHA256 = types.StringUnknown()
	plan.Path = types.StringUnknown()
}

// renderSeccompPolicy validates the profile for the device's machine, sets runtime_base,
// allowed, policy, sha256 and path, and returns the metadata that the helper stores next to the policy.
// It is a pure function of m and machine, so plan and apply agree.
func renderSeccompPolicy(ctx context.Context, m *seccompProfileModel, machine string) (protocol.ProfileMetadata, diag.Diagnostics) {
	metadata, diags := seccompPolicyMetadata(ctx, *m, machine)
	if diags.HasError() {
		return protocol.ProfileMetadata{}, diags
	}
	policy, err := seccomp.Render(metadata.SeccompProfile(), seccomp.Arch(metadata.Arch))
	if err != nil {
		addSeccompProblems(&diags, err)
		return protocol.ProfileMetadata{}, diags
	}

	target, d := seccompTargetModel(ctx, m.Device)
	diags.Append(d...)
	base, d := seccompStringSet(metadata.RuntimeBase)
	diags.Append(d...)
	allowed, d := seccompAllowedValue(metadata)
	diags.Append(d...)
	m.Allowed = allowed
	sum := sha256.Sum256([]byte(policy))
	m.RuntimeBase = base
	m.Policy = types.StringValue(policy)
	m.SHA256 = types.StringValue(hex.EncodeToString(sum[:]))
	m.Path = types.StringValue(seccompPolicyPath(target.StateDir.ValueString(), m.Name.ValueString(), m.SHA256.ValueString()))
	metadata.SHA256 = m.SHA256.ValueString()
	return metadata, diags
}

// seccompPolicyMetadata returns the metadata of the profile for machine, the runtime base
// included. The metadata's SHA256 stays empty until the policy is rendered.
func seccompPolicyMetadata(ctx context.Context, m seccompProfileModel, machine string) (protocol.ProfileMetadata, diag.Diagnostics) {
	var diags diag.Diagnostics
	arch, err := seccomp.ArchForMachine(machine)
	if err != nil {
		diags.AddAttributeError(tfpath.Root("device").AtName("arch"), "Unsupported Device Architecture",
			fmt.Sprintf("The device reports machine %q, which seccomp profiles do not support: %v.", machine, err))
		return protocol.ProfileMetadata{}, diags
	}
	base, err := seccomp.RuntimeBase(arch)
	if err != nil {
		diags.AddError("Runtime Base Unavailable", fmt.Sprintf("Could not map the runtime base to %s: %v. "+
			"This is a bug in the provider; please report it.", arch, err))
		return protocol.ProfileMetadata{}, diags
	}
	return seccompProfileMetadata(ctx, m, arch, base)
}

// seccompPolicyPath returns where the helper writes a policy: named after its SHA-256, so
// that every change of the policy changes the path that containers name.
func seccompPolicyPath(stateDir, name, sha string) string {
	return path.Join(stateDir, "profiles", name, sha+".policy")
}
