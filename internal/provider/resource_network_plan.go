package provider

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// ModifyPlan plans the computed attributes as apply will leave them, so drift that Read found
// (a missing bridge, rules removed on the device, forwarding turned off) shows as a change.
// When the device is reachable, it also runs the helper's network check, so conflicts with the
// device and an unresolvable uplink fail the plan instead of the apply.
func (r *networkResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan, config networkResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	var state *networkResourceModel
	if !req.State.Raw.IsNull() {
		state = &networkResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}

	resp.Diagnostics.Append(r.planDeviceUser(ctx, &plan)...)
	planComputedNetwork(&plan, state)
	if config.Uplink.IsNull() {
		plan.Uplink = plannedUplink(plan, state)
	}
	if spec, target, ok := r.checkable(ctx, plan, state); ok {
		r.checkOnDevice(ctx, spec, target, &plan, config.Uplink.IsNull(), &resp.Diagnostics)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// planDeviceUser fills a device user that the configuration leaves unset with the provider's
// user, as the device resource does.
func (r *networkResource) planDeviceUser(ctx context.Context, plan *networkResourceModel) diag.Diagnostics {
	if plan.Device.IsUnknown() || plan.Device.IsNull() {
		return nil
	}
	var target targetModel
	diags := plan.Device.As(ctx, &target, basetypes.ObjectAsOptions{})
	if diags.HasError() || !target.User.IsUnknown() {
		return diags
	}
	target.User = types.StringValue(r.data.defaultUser)
	object, d := types.ObjectValueFrom(ctx, targetAttrTypes, target)
	diags.Append(d...)
	plan.Device = object
	return diags
}

// planComputedNetwork sets the computed attributes that follow from the configuration.
func planComputedNetwork(plan, state *networkResourceModel) {
	plan.Bridge = plan.Name
	plan.RulesInPlace = types.BoolValue(true)
	plan.Subnet = types.StringUnknown()
	if !plan.IPv4CIDR.IsUnknown() {
		if gateway, err := netip.ParsePrefix(plan.IPv4CIDR.ValueString()); err == nil {
			plan.Subnet = types.StringValue(gateway.Masked().String())
		}
	}
	plan.Forwarding = types.BoolUnknown()
	if !plan.Mode.IsUnknown() {
		plan.Forwarding = types.BoolValue(plan.Mode.ValueString() == protocol.NetworkModeNAT)
	}
	plan.ID = types.StringUnknown()
	if state != nil && plan.Name.Equal(state.Name) && plan.Device.Equal(state.Device) {
		plan.ID = state.ID
	}
}

// plannedUplink returns the uplink of a network whose configuration leaves it unset: none
// outside NAT mode, and otherwise the one the network already uses, until the device check
// resolves it again.
func plannedUplink(plan networkResourceModel, state *networkResourceModel) types.String {
	switch {
	case plan.Mode.IsUnknown():
		return types.StringUnknown()
	case plan.Mode.ValueString() != protocol.NetworkModeNAT:
		return types.StringNull()
	case state != nil && state.Mode.ValueString() == protocol.NetworkModeNAT && !state.Uplink.IsNull():
		return state.Uplink
	}
	return types.StringUnknown()
}

// checkable returns the spec and device of a plan that the helper can check now: every value
// is known, and the plan updates a network in place or creates one. A replacement is not
// checked, because the network it replaces still holds the device's resources.
func (r *networkResource) checkable(ctx context.Context, plan networkResourceModel,
	state *networkResourceModel) (protocol.NetworkSpec, device.Target, bool) {
	values := []attr.Value{plan.Device, plan.Name, plan.Mode, plan.IPv4CIDR}
	if slices.ContainsFunc(values, attr.Value.IsUnknown) || hasUnknownAttribute(plan.Device) {
		return protocol.NetworkSpec{}, device.Target{}, false
	}
	if state != nil && (!plan.Name.Equal(state.Name) || !sameDeviceAddress(ctx, plan.Device, state.Device)) {
		return protocol.NetworkSpec{}, device.Target{}, false
	}
	target, diags := networkTarget(ctx, plan, r.data.defaultUser)
	if diags.HasError() {
		return protocol.NetworkSpec{}, device.Target{}, false
	}
	spec := networkSpec(plan)
	if plan.Uplink.IsUnknown() {
		spec.Uplink = ""
	}
	return spec, target, true
}

// checkOnDevice runs the helper's network check. A rejection fails the plan; a device that
// cannot be asked, for example because the helper is not installed yet, only skips the check.
// When resolveUplink is set, the plan takes the uplink that the helper resolved.
func (r *networkResource) checkOnDevice(ctx context.Context, spec protocol.NetworkSpec, target device.Target,
	plan *networkResourceModel, resolveUplink bool, diags *diag.Diagnostics) {
	client, err := r.data.pool.Get(ctx, target)
	var result protocol.NetworkCheckResult
	if err == nil {
		err = client.Call(ctx, protocol.OpNetworkCheck, spec, &result)
	}
	if errors.Is(err, protocol.ErrInvalid) || errors.Is(err, protocol.ErrConflict) {
		addNetworkError(diags, "plan", target, spec.Name, err)
		return
	}
	if err != nil {
		tflog.Debug(ctx, "skipped the device check of the network", map[string]any{
			"device": target.ID(), "network": spec.Name, "error": err.Error(),
		})
		return
	}
	if resolveUplink && spec.Mode == protocol.NetworkModeNAT {
		plan.Uplink = types.StringValue(result.Uplink)
	}
}

// sameDeviceAddress reports whether two device objects name the same host, port, state folder
// and LXC path: the attributes that replace a network when they change.
func sameDeviceAddress(ctx context.Context, a, b types.Object) bool {
	var left, right targetModel
	if a.As(ctx, &left, basetypes.ObjectAsOptions{}).HasError() ||
		b.As(ctx, &right, basetypes.ObjectAsOptions{}).HasError() {
		return false
	}
	return left.Host.Equal(right.Host) && left.Port.Equal(right.Port) &&
		left.StateDir.Equal(right.StateDir) && left.LXCPath.Equal(right.LXCPath)
}

// networkSpec converts the model into the helper's spec. A known uplink is sent even when the
// configuration left it unset, so apply uses the uplink that the plan showed.
func networkSpec(m networkResourceModel) protocol.NetworkSpec {
	spec := protocol.NetworkSpec{
		Name:     m.Name.ValueString(),
		Mode:     m.Mode.ValueString(),
		IPv4CIDR: m.IPv4CIDR.ValueString(),
	}
	if !m.Uplink.IsUnknown() && !m.Uplink.IsNull() {
		spec.Uplink = m.Uplink.ValueString()
	}
	if !m.MTU.IsUnknown() && !m.MTU.IsNull() {
		spec.MTU = int(m.MTU.ValueInt64())
	}
	return spec
}

// setObservedNetwork stores in m what the helper observed. The address shows the drift: the
// spec's gateway while the bridge has exactly that address, else another address it has, or
// "" when it has none. A missing bridge keeps the recorded address and MTU, because the empty
// bridge attribute shows that drift already.
func setObservedNetwork(m *networkResourceModel, observed protocol.NetworkState) {
	spec := observed.Spec
	m.Name = types.StringValue(spec.Name)
	m.Mode = types.StringValue(spec.Mode)
	m.IPv4CIDR = types.StringValue(observedCIDR(observed))
	m.Uplink = types.StringNull()
	if spec.Mode == protocol.NetworkModeNAT {
		m.Uplink = types.StringValue(observed.Uplink)
	}
	if observed.Bridge != "" {
		m.MTU = types.Int64Value(int64(observed.MTU))
	} else if m.MTU.IsUnknown() || m.MTU.IsNull() {
		m.MTU = types.Int64Value(int64(spec.MTU))
	}
	m.Bridge = types.StringValue(observed.Bridge)
	m.Subnet = types.StringValue(observed.Subnet)
	m.Forwarding = types.BoolValue(observed.Forwarding)
	m.RulesInPlace = types.BoolValue(observed.RulesInPlace)
}

// observedCIDR returns the address that the ipv4_cidr attribute shows for observed.
func observedCIDR(observed protocol.NetworkState) string {
	want := observed.Spec.IPv4CIDR
	switch {
	case observed.Bridge == "":
		return want
	case len(observed.IPv4Addresses) == 0:
		return ""
	case len(observed.IPv4Addresses) == 1 && observed.IPv4Addresses[0] == want:
		return want
	}
	for _, addr := range observed.IPv4Addresses {
		if addr != want {
			return addr
		}
	}
	return want
}

// fillUnknownNetwork copies into plan every value that the plan left unknown.
func fillUnknownNetwork(plan *networkResourceModel, observed networkResourceModel) {
	if plan.Uplink.IsUnknown() {
		plan.Uplink = observed.Uplink
	}
	if plan.MTU.IsUnknown() {
		plan.MTU = observed.MTU
	}
	if plan.Subnet.IsUnknown() {
		plan.Subnet = observed.Subnet
	}
	if plan.Forwarding.IsUnknown() {
		plan.Forwarding = observed.Forwarding
	}
	if plan.Bridge.IsUnknown() {
		plan.Bridge = observed.Bridge
	}
}

// networkTarget returns the device target of m.
func networkTarget(ctx context.Context, m networkResourceModel, defaultUser string) (device.Target, diag.Diagnostics) {
	target, diags := targetFromObject(ctx, m.Device)
	if target.User == "" {
		target.User = defaultUser
	}
	return target, diags
}

// networkID returns the ID of a network: its device's ID and its name.
func networkID(target device.Target, name string) string {
	return target.ID() + "/" + name
}

// completeImportedDevice fills the host key and architecture of a device object that an
// import left null: the key that the connection verified and the device's `uname -m`.
func completeImportedDevice(ctx context.Context, client *device.Client, m *networkResourceModel) diag.Diagnostics {
	var target targetModel
	diags := m.Device.As(ctx, &target, basetypes.ObjectAsOptions{})
	if diags.HasError() || !target.HostKey.IsNull() || !target.Arch.IsNull() {
		return diags
	}
	machine, err := client.Machine(ctx)
	if err != nil {
		diags.AddError("Device Operation Failed", fmt.Sprintf("Could not read the architecture of %s: %v.",
			client.Target(), err))
		return diags
	}
	target.HostKey = types.StringValue(client.HostKey())
	target.Arch = types.StringValue(machine)
	object, d := types.ObjectValueFrom(ctx, targetAttrTypes, target)
	diags.Append(d...)
	m.Device = object
	return diags
}
