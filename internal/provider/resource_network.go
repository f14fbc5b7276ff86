package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

var (
	_ resource.Resource                   = &networkResource{}
	_ resource.ResourceWithConfigure      = &networkResource{}
	_ resource.ResourceWithImportState    = &networkResource{}
	_ resource.ResourceWithModifyPlan     = &networkResource{}
	_ resource.ResourceWithValidateConfig = &networkResource{}
)

type networkResource struct {
	data *providerData
}

// NewNetworkResource returns the iotfleet_network resource.
func NewNetworkResource() resource.Resource {
	return &networkResource{}
}

func (r *networkResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_network"
}

func (r *networkResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *networkResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var config networkResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !config.Uplink.IsNull() && !config.Uplink.IsUnknown() && !config.Mode.IsUnknown() &&
		config.Mode.ValueString() != protocol.NetworkModeNAT {
		resp.Diagnostics.AddAttributeError(path.Root("uplink"), "Invalid Attribute Combination",
			fmt.Sprintf("uplink %q is set but mode is %q; only %q networks use an uplink, so remove uplink or "+
				"set mode to %q.", config.Uplink.ValueString(), config.Mode.ValueString(),
				protocol.NetworkModeNAT, protocol.NetworkModeNAT))
	}
}

func (r *networkResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan networkResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}

	r.apply(ctx, &plan, true, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *networkResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state networkResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	target, client, ok := r.connect(ctx, state, "read", &resp.Diagnostics)
	if !ok {
		return
	}

	// An import sets only the device's address and leaves the ID null. The key that the
	// connection verified fills in the host key.
	if state.ID.IsNull() {
		resp.Diagnostics.Append(completeImportedDevice(ctx, client, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
	}

	var observed protocol.NetworkState
	err := client.Call(ctx, protocol.OpNetworkGet, protocol.NetworkName{Name: state.Name.ValueString()}, &observed)
	if errors.Is(err, protocol.ErrNotFound) {
		tflog.Info(ctx, "network is gone from the device; removing it from state", map[string]any{
			"device": target.ID(), "network": state.Name.ValueString(),
		})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addDeviceError(&resp.Diagnostics, "read", target, err)
		return
	}
	setObservedNetwork(&state, observed)
	state.ID = types.StringValue(networkID(target, state.Name.ValueString()))
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *networkResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan networkResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}

	r.apply(ctx, &plan, false, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *networkResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state networkResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	target, client, ok := r.connect(ctx, state, "destroy", &resp.Diagnostics)
	if !ok {
		return
	}

	var result protocol.NetworkDeleteResult
	err := client.Call(ctx, protocol.OpNetworkDelete, protocol.NetworkName{Name: state.Name.ValueString()}, &result)
	if errors.Is(err, protocol.ErrConflict) {
		resp.Diagnostics.AddError("Network Still In Use",
			fmt.Sprintf("The provider did not destroy network %q on %s: %s.", state.Name.ValueString(), target,
				helperMessage(err)))
		return
	}
	if err != nil {
		addDeviceError(&resp.Diagnostics, "destroy", target, err)
		return
	}
	tflog.Info(ctx, "destroyed network", map[string]any{
		"device": target.ID(), "network": state.Name.ValueString(), "existed": result.Deleted,
	})
}

func (r *networkResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	user, host, port, name, err := parseNetworkID(req.ID, r.data.defaultUser)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", err.Error())
		return
	}

	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("device"), importedDeviceObject(user, host, port))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}

// apply sends plan's spec to the helper and fills the values that the plan left unknown. A
// device without systemd gets a warning on create, because its networks do not survive a
// reboot.
func (r *networkResource) apply(ctx context.Context, plan *networkResourceModel, create bool, diags *diag.Diagnostics) {
	target, client, ok := r.connect(ctx, *plan, "apply", diags)
	if !ok {
		return
	}

	var result protocol.NetworkApplyResult
	if err := client.Call(ctx, protocol.OpNetworkApply, networkSpec(*plan), &result); err != nil {
		addNetworkError(diags, "apply", target, plan.Name.ValueString(), err)
		return
	}
	tflog.Info(ctx, "applied network", map[string]any{
		"device": target.ID(), "network": plan.Name.ValueString(), "boot_hook": result.BootHook,
	})
	if create && strings.HasPrefix(result.BootHook, protocol.NoBootHook) {
		diags.AddWarning("Network Not Restored At Boot",
			fmt.Sprintf("Network %q on %s is up, but %s.", plan.Name.ValueString(), target, result.BootHook))
	}

	observed := *plan
	setObservedNetwork(&observed, result.State)
	fillUnknownNetwork(plan, observed)
	plan.ID = types.StringValue(networkID(target, plan.Name.ValueString()))
}

// connect returns the device target of m and its shared connection. On failure it reports the
// error for action and returns false.
func (r *networkResource) connect(ctx context.Context, m networkResourceModel, action string,
	diags *diag.Diagnostics) (device.Target, *device.Client, bool) {
	target, d := networkTarget(ctx, m, r.data.defaultUser)
	diags.Append(d...)
	if diags.HasError() {
		return target, nil, false
	}
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(diags, action, target, err)
		return target, nil, false
	}
	return target, client, true
}

// addNetworkError reports a failed network operation. Errors that the helper raised because of
// the configuration get their own summary, so the user looks at the configuration first.
func addNetworkError(diags *diag.Diagnostics, action string, target device.Target, name string, err error) {
	if errors.Is(err, protocol.ErrInvalid) || errors.Is(err, protocol.ErrConflict) {
		diags.AddError("Invalid Network Configuration",
			fmt.Sprintf("The helper on %s rejected network %q: %s.", target, name, helperMessage(err)))
		return
	}
	addDeviceError(diags, action, target, err)
}
