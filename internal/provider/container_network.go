package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// privateNICDrift is the private state key under which Read records, by network name, the
// helper's address of each NIC whose address on the device is another one.
const privateNICDrift = "nic_drift"

// resolvConfPath is the file inside the container that resolv_conf sets.
const resolvConfPath = "/etc/resolv.conf"

// networkModel is one network block of an iotfleet_container.
type networkModel struct {
	Name        types.String `tfsdk:"name"`
	IPv4Address types.String `tfsdk:"ipv4_address"`
}

var networkAttrTypes = map[string]attr.Type{
	"name":         types.StringType,
	"ipv4_address": types.StringType,
}

var networkObjectType = types.ObjectType{AttrTypes: networkAttrTypes}

// networkChange represents the network blocks in containerChanges. They are not in
// specAttributes, because the device reports their addresses with the NICs, not in the spec.
var networkChange = specAttribute{name: "network", effect: effectRestart}

func containerNetworkBlock() schema.ListNestedBlock {
	return schema.ListNestedBlock{
		MarkdownDescription: "A NIC on a network that an `iotfleet_network` created on the same device. The first " +
			"block is `eth0` inside the container and carries the default route through its network's gateway; " +
			"the next ones are `eth1`, `eth2` and so on. Without a block the container has loopback only. Adding, " +
			"removing, reordering or readdressing NICs restarts a running container. Set `name` from the network " +
			"resource, as in `iotfleet_network.lan.name`, so that Terraform creates the network before the " +
			"container and destroys it after.",
		Validators: []validator.List{uniqueNetworkNamesValidator{}},
		NestedObject: schema.NestedBlockObject{
			Attributes: map[string]schema.Attribute{
				"name": schema.StringAttribute{
					MarkdownDescription: "Name of the network, usually `iotfleet_network.<name>.name`.",
					Required:            true,
					Validators:          []validator.String{networkNameValidator()},
				},
				"ipv4_address": schema.StringAttribute{
					MarkdownDescription: "IPv4 address of the container on the network, without prefix length, such " +
						"as `10.80.0.10`. It must be a host address of the network's subnet, not the gateway and not " +
						"another container's; the helper checks that at apply time, because the network may not " +
						"exist when the plan is made. When unset, the device allocates the lowest free address, " +
						"which then stays the container's across restarts and updates until the block is removed. " +
						"An address changed on the device shows in the plan, and applying restores it with a restart.",
					Optional:   true,
					Computed:   true,
					Validators: []validator.String{nicAddressValidator()},
				},
			},
		},
	}
}

func nicAddressValidator() validator.String {
	return funcValidator{"value must be an IPv4 address without prefix length", validateNICAddress}
}

// validateNICAddress accepts an IPv4 unicast address that a network's subnet can hold.
func validateNICAddress(s string) error {
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is4() {
		return fmt.Errorf("invalid ipv4_address %q: use an IPv4 address without prefix length, such as \"10.80.0.10\"", s)
	}
	if addr.IsUnspecified() || addr.IsLoopback() || addr.IsMulticast() || addr.IsLinkLocalUnicast() ||
		addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("invalid ipv4_address %q: it is a reserved address, which no network's subnet "+
			"contains; use an address from the network's subnet, such as \"10.80.0.10\" in 10.80.0.0/24", s)
	}
	return nil
}

// networks returns the network blocks of m, and false while the list or one of its blocks is
// unknown. A null list has no blocks. Attributes of a block may be unknown.
func (m containerResourceModel) networks() ([]networkModel, bool) {
	if m.Networks.IsUnknown() || hasUnknown(m.Networks.Elements()) {
		return nil, false
	}
	networks := make([]networkModel, 0, len(m.Networks.Elements()))
	for _, element := range m.Networks.Elements() {
		object, ok := element.(types.Object)
		if !ok {
			return nil, false
		}
		name, _ := object.Attributes()["name"].(types.String)
		address, _ := object.Attributes()["ipv4_address"].(types.String)
		networks = append(networks, networkModel{Name: name, IPv4Address: address})
	}
	return networks, true
}

// networkList returns networks as the value of the network blocks; never null, because
// Terraform represents absent blocks as an empty list.
func networkList(networks []networkModel) types.List {
	values := make([]attr.Value, 0, len(networks))
	for _, n := range networks {
		values = append(values, types.ObjectValueMust(networkAttrTypes, map[string]attr.Value{
			"name": n.Name, "ipv4_address": n.IPv4Address,
		}))
	}
	return types.ListValueMust(networkObjectType, values)
}

// containerNICs converts the network blocks of a fully known plan for the helper's spec. A
// known address is sent as requested, whether the configuration set it or the plan kept the
// one the device allocated before, so the helper never hands out another one than planned.
func containerNICs(m containerResourceModel) []protocol.ContainerNIC {
	networks, _ := m.networks()
	nics := make([]protocol.ContainerNIC, 0, len(networks))
	for _, n := range networks {
		nics = append(nics, protocol.ContainerNIC{Network: n.Name.ValueString(), IPv4Address: n.IPv4Address.ValueString()})
	}
	return nics
}

// observedNICAddress returns the address that the state records for a NIC: the helper's while
// the NIC has exactly that one, otherwise one that shows the change: the first other address
// the NIC has, or "" when it has none.
func observedNICAddress(nic protocol.ContainerNICState) string {
	if slices.Equal(nic.ObservedIPv4Addresses, []string{nic.IPv4Address}) {
		return nic.IPv4Address
	}
	for _, address := range nic.ObservedIPv4Addresses {
		if address != nic.IPv4Address {
			return address
		}
	}
	return ""
}

// networksFromState returns the network blocks of the NICs the helper reports.
func networksFromState(nics []protocol.ContainerNICState) []networkModel {
	networks := make([]networkModel, 0, len(nics))
	for _, nic := range nics {
		networks = append(networks, networkModel{
			Name: types.StringValue(nic.Network), IPv4Address: types.StringValue(observedNICAddress(nic)),
		})
	}
	return networks
}

// nicDrift returns, by network name, the helper's address of each NIC whose address on the
// device is another one.
func nicDrift(nics []protocol.ContainerNICState) map[string]string {
	drift := map[string]string{}
	for _, nic := range nics {
		if observedNICAddress(nic) != nic.IPv4Address {
			drift[nic.Network] = nic.IPv4Address
		}
	}
	return drift
}

// recordNICDrift remembers nicDrift for the next plan, which plans the helper's addresses
// back for the NICs whose configuration sets none.
func recordNICDrift(ctx context.Context, nics []protocol.ContainerNICState, private privateSetter) diag.Diagnostics {
	drift := nicDrift(nics)
	if len(drift) == 0 {
		return private.SetKey(ctx, privateNICDrift, nil)
	}
	value, err := json.Marshal(drift)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Cannot Record NIC Address Drift", err.Error())
		return diags
	}
	return private.SetKey(ctx, privateNICDrift, value)
}

// readNICDrift returns what recordNICDrift stored, or an empty map.
func readNICDrift(ctx context.Context, private privateGetter, diags *diag.Diagnostics) map[string]string {
	drift := map[string]string{}
	raw, d := private.GetKey(ctx, privateNICDrift)
	diags.Append(d...)
	if len(raw) > 0 {
		// A value this provider did not write plans the addresses as the state has them.
		_ = json.Unmarshal(raw, &drift)
	}
	return drift
}

// planNetworks plans the address of each network block that the configuration leaves unset:
// the address the container holds on that network, found by name, or unknown for a network
// it joins. configured lists the configuration's addresses by block index.
func planNetworks(plan *containerResourceModel, state *containerResourceModel, configured []types.String,
	drift map[string]string) {
	networks, known := plan.networks()
	if !known || len(networks) == 0 {
		return
	}
	currentAddresses := map[string]string{}
	if state != nil {
		current, _ := state.networks()
		for _, n := range current {
			currentAddresses[n.Name.ValueString()] = n.IPv4Address.ValueString()
		}
	}
	for name, address := range drift {
		if _, ok := currentAddresses[name]; ok {
			currentAddresses[name] = address
		}
	}

	for i := range networks {
		if i < len(configured) && !configured[i].IsNull() {
			continue
		}
		networks[i].IPv4Address = types.StringUnknown()
		if networks[i].Name.IsUnknown() {
			continue
		}
		if address := currentAddresses[networks[i].Name.ValueString()]; address != "" {
			networks[i].IPv4Address = types.StringValue(address)
		}
	}
	plan.Networks = networkList(networks)
}

// networksChange reports whether the NICs of plan differ from those of state, in order, or
// are not known yet.
func networksChange(plan, state containerResourceModel) bool {
	planned, plannedKnown := plan.networks()
	current, currentKnown := state.networks()
	if !plannedKnown || !currentKnown || len(planned) != len(current) {
		return true
	}
	for i := range planned {
		if !planned[i].Name.Equal(current[i].Name) || !planned[i].IPv4Address.Equal(current[i].IPv4Address) {
			return true
		}
	}
	return false
}

// settleNetworks stores the NICs that the helper reports after an apply in plan, and returns
// a description of each difference from a value the plan knew.
func settleNetworks(plan *containerResourceModel, nics []protocol.ContainerNICState) []string {
	planned, known := plan.networks()
	observed := networksFromState(nics)
	plan.Networks = networkList(observed)

	if !known {
		return nil
	}
	if len(planned) != len(observed) {
		return []string{fmt.Sprintf("the container has %d NICs, the plan had %d", len(observed), len(planned))}
	}
	var mismatches []string
	for i := range planned {
		want, got := planned[i].IPv4Address, observed[i].IPv4Address
		if !planned[i].Name.Equal(observed[i].Name) || !want.IsUnknown() && !want.Equal(got) {
			mismatches = append(mismatches, fmt.Sprintf("network %d is %s with %s, the plan had %s with %s",
				i, observed[i].Name, got, planned[i].Name, want))
		}
	}
	return mismatches
}

// uniqueNetworkNamesValidator rejects two network blocks on the same network: the helper
// gives a container one NIC per network.
type uniqueNetworkNamesValidator struct{}

func (uniqueNetworkNamesValidator) Description(context.Context) string {
	return "each network block must name another network"
}

func (v uniqueNetworkNamesValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (uniqueNetworkNamesValidator) ValidateList(_ context.Context, req validator.ListRequest,
	resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	seen := map[string]int{}
	for i, element := range req.ConfigValue.Elements() {
		object, ok := element.(types.Object)
		if !ok || object.IsNull() || object.IsUnknown() {
			continue
		}
		name, ok := object.Attributes()["name"].(types.String)
		if !ok || name.IsNull() || name.IsUnknown() {
			continue
		}
		if first, duplicate := seen[name.ValueString()]; duplicate {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i).AtName("name"), "Duplicate Network",
				fmt.Sprintf("Network blocks %d and %d both attach to network %q, but a container has one NIC per "+
					"network. Remove one of the blocks.", first, i, name.ValueString()))
			continue
		}
		seen[name.ValueString()] = i
	}
}

// configuredAddresses returns the ipv4_address of each network block in the configuration, by
// block index.
func configuredAddresses(config types.List) []types.String {
	addresses := make([]types.String, 0, len(config.Elements()))
	for _, element := range config.Elements() {
		address := types.StringNull()
		if object, ok := element.(types.Object); ok && !object.IsNull() && !object.IsUnknown() {
			address, _ = object.Attributes()["ipv4_address"].(types.String)
		}
		addresses = append(addresses, address)
	}
	return addresses
}
