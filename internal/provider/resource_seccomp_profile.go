package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

var (
	_ resource.Resource                = &seccompProfileResource{}
	_ resource.ResourceWithConfigure   = &seccompProfileResource{}
	_ resource.ResourceWithImportState = &seccompProfileResource{}
	_ resource.ResourceWithModifyPlan  = &seccompProfileResource{}
)

// privateSeccompImported is the private state key that ImportState sets, so that the next Read
// completes the device object from the device itself.
const privateSeccompImported = "imported"

type seccompProfileResource struct {
	data *providerData
}

// NewSeccompProfileResource returns the iotfleet_seccomp_profile resource.
func NewSeccompProfileResource() resource.Resource {
	return &seccompProfileResource{}
}

func (r *seccompProfileResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_seccomp_profile"
}

func (r *seccompProfileResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *seccompProfileResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan seccompProfileModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}

	r.put(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *seccompProfileResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state seccompProfileModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	target, diags := targetFromObject(ctx, state.Device)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(&resp.Diagnostics, "read", target, err)
		return
	}

	var found protocol.ProfileState
	err = client.Call(ctx, protocol.OpProfileGet, protocol.ProfileName{Name: state.Name.ValueString()}, &found)
	if errors.Is(err, protocol.ErrNotFound) {
		tflog.Warn(ctx, "seccomp profile is gone from the device", map[string]any{
			"device": target.ID(), "profile": state.Name.ValueString(),
		})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addDeviceError(&resp.Diagnostics, "read", target, err)
		return
	}
	for _, problem := range found.Problems {
		tflog.Warn(ctx, "seccomp profile on the device differs from the one applied; the next apply rewrites it",
			map[string]any{"device": target.ID(), "profile": found.Name, "problem": problem})
	}

	resp.Diagnostics.Append(setSeccompObserved(ctx, &state, found)...)
	imported, diags := req.Private.GetKey(ctx, privateSeccompImported)
	resp.Diagnostics.Append(diags...)
	if len(imported) > 0 {
		resp.Diagnostics.Append(completeSeccompImport(ctx, &state, client)...)
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSeccompImported, nil)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *seccompProfileResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan seccompProfileModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}

	r.put(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *seccompProfileResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state seccompProfileModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	target, diags := targetFromObject(ctx, state.Device)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(&resp.Diagnostics, "destroy", target, err)
		return
	}

	var result protocol.ProfileDeleteResult
	err = client.Call(ctx, protocol.OpProfileDelete, protocol.ProfileName{Name: state.Name.ValueString()}, &result)
	if errors.Is(err, protocol.ErrConflict) {
		resp.Diagnostics.AddError("Seccomp Profile In Use",
			fmt.Sprintf("The provider did not remove seccomp profile %q from %s: %s.\n\n"+
				"Change or destroy those containers first, then destroy the profile.",
				state.Name.ValueString(), target, helperMessage(err)))
		return
	}
	if err != nil {
		addDeviceError(&resp.Diagnostics, "destroy", target, err)
		return
	}
	tflog.Info(ctx, "removed seccomp profile", map[string]any{
		"device": target.ID(), "profile": state.Name.ValueString(), "removed": result.Removed,
	})
}

// ImportState reads an ID of the form user@host:port/name. The device's state_dir and
// lxc_path take their defaults; Read fills its host key and architecture from the device.
func (r *seccompProfileResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	user, host, port, name, err := parseObjectID(req.ID, "profile", protocol.ValidateProfileName, r.data.defaultUser)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", err.Error())
		return
	}
	object := importedDeviceObject(user, host, port)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("device"), object)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSeccompImported, []byte(`true`))...)
}

// put renders the policy if the plan could not, and writes it to the device.
func (r *seccompProfileResource) put(ctx context.Context, plan *seccompProfileModel, diags *diag.Diagnostics) {
	target, d := targetFromObject(ctx, plan.Device)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(diags, "apply", target, err)
		return
	}

	machine, err := seccompApplyMachine(ctx, *plan, client)
	if err != nil {
		addDeviceError(diags, "apply", target, err)
		return
	}
	// Rendering is a pure function of the plan and the machine, so a policy known at plan time
	// renders the same here. One that was unknown then is rendered and checked now, before
	// anything reaches the device.
	rendered := *plan
	metadata, d := renderSeccompPolicy(ctx, &rendered, machine)
	diags.Append(d...)
	if diags.HasError() {
		return
	}
	if !plan.Policy.IsUnknown() && !plan.Policy.Equal(rendered.Policy) {
		diags.AddError("Seccomp Profile Changed Since Plan",
			fmt.Sprintf("The policy for %s renders differently at apply time than in the plan, because the "+
				"device now reports machine %q. Run `terraform plan` again.", target, machine))
		return
	}
	*plan = rendered

	params := protocol.ProfilePutParams{Name: plan.Name.ValueString(), Policy: plan.Policy.ValueString(), Metadata: metadata}
	var written protocol.ProfileState
	if err := client.Call(ctx, protocol.OpProfilePut, params, &written); err != nil {
		addDeviceError(diags, "apply", target, err)
		return
	}
	if written.SHA256 != plan.SHA256.ValueString() || written.Path != plan.Path.ValueString() {
		diags.AddError("Seccomp Profile Not Written",
			fmt.Sprintf("The helper on %s reports %s with SHA-256 %q, but the plan expected %s with SHA-256 %s. "+
				"Run `terraform apply` again; if this repeats, please report it.",
				target, written.Path, written.SHA256, plan.Path.ValueString(), plan.SHA256.ValueString()))
		return
	}
	plan.ID = types.StringValue(seccompProfileID(target, plan.Name.ValueString()))
	tflog.Info(ctx, "wrote seccomp profile", map[string]any{
		"device": target.ID(), "profile": params.Name, "sha256": written.SHA256,
		"kept_versions": len(written.KeptVersions),
	})
}

// seccompApplyMachine returns the device's `uname -m`: from the device object when it is
// known, else from the device.
func seccompApplyMachine(ctx context.Context, plan seccompProfileModel, client *device.Client) (string, error) {
	machine, known, diags := seccompPlanMachine(ctx, plan)
	if diags.HasError() {
		return "", fmt.Errorf("read device architecture: %v", diags)
	}
	if known {
		return machine, nil
	}
	return client.Machine(ctx)
}

// setSeccompObserved stores what the device holds. The configured attributes come from the
// metadata when it is intact, so that an import reads the profile back. An import cannot tell
// recorded names from configured ones, so it reads them all into syscalls. When the metadata is
// damaged, the state keeps its own values.
func setSeccompObserved(ctx context.Context, m *seccompProfileModel, found protocol.ProfileState) diag.Diagnostics {
	m.SHA256 = types.StringValue(found.SHA256)
	m.Path = types.StringValue(found.Path)
	m.Policy = types.StringValue(found.Policy)
	metadata := found.Metadata
	if metadata.SHA256 == "" {
		return nil
	}

	var diags diag.Diagnostics
	m.DefaultAction = types.StringValue(metadata.DefaultAction.Text)
	m.AllowCompatABIs = types.BoolValue(metadata.AllowCompatABIs)
	m.IncludeRuntimeBase = types.BoolValue(metadata.IncludeRuntimeBase)
	configured, d := configuredSyscalls(ctx, *m, metadata)
	diags.Append(d...)
	syscalls, d := seccompStringSet(configured)
	diags.Append(d...)
	allowed, d := seccompAllowedValue(metadata)
	diags.Append(d...)
	m.Allowed = allowed
	base, d := seccompStringSet(metadata.RuntimeBase)
	diags.Append(d...)
	rules, d := seccompRulesValue(metadata.Rules)
	diags.Append(d...)
	m.Syscalls, m.RuntimeBase, m.Rules = syscalls, base, rules
	return diags
}

// completeSeccompImport fills what an import ID cannot carry: the host key that the
// connection verified and the device's architecture.
func completeSeccompImport(ctx context.Context, m *seccompProfileModel, client *device.Client) diag.Diagnostics {
	object, diags := completeImportedTarget(ctx, m.Device, client)
	m.Device = object
	return diags
}

// completeImportedTarget returns the imported device object with the host key that the
// connection verified and the device's architecture filled in.
func completeImportedTarget(ctx context.Context, object types.Object, client *device.Client) (types.Object, diag.Diagnostics) {
	target, diags := seccompTargetModel(ctx, object)
	if diags.HasError() {
		return object, diags
	}
	if target.HostKey.IsNull() {
		target.HostKey = types.StringValue(client.HostKey())
	}
	if target.Arch.IsNull() || target.Arch.ValueString() == "" {
		machine, err := client.Machine(ctx)
		if err != nil {
			diags.AddError("Device Operation Failed", fmt.Sprintf("Could not read the architecture of %s: %v.",
				client.Target(), err))
			return object, diags
		}
		target.Arch = types.StringValue(machine)
	}
	completed, d := types.ObjectValueFrom(ctx, targetAttrTypes, target)
	diags.Append(d...)
	return completed, diags
}
