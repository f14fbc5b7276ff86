package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// networkResourceModel is the state of an iotfleet_network.
type networkResourceModel struct {
	ID       types.String `tfsdk:"id"`
	Device   types.Object `tfsdk:"device"`
	Name     types.String `tfsdk:"name"`
	Mode     types.String `tfsdk:"mode"`
	IPv4CIDR types.String `tfsdk:"ipv4_cidr"`
	Uplink   types.String `tfsdk:"uplink"`
	MTU      types.Int64  `tfsdk:"mtu"`

	Bridge       types.String `tfsdk:"bridge"`
	Subnet       types.String `tfsdk:"subnet"`
	Forwarding   types.Bool   `tfsdk:"forwarding"`
	RulesInPlace types.Bool   `tfsdk:"rules_in_place"`
}

func (r *networkResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A container network on a device: a Linux bridge with the device's gateway address, " +
			"and the firewall rules and forwarding settings of its mode.\n\n" +
			"* `bridge`: containers reach each other and the device. The device routes none of their traffic.\n" +
			"* `nat`: as `bridge`, plus outbound traffic masqueraded behind the device's address on `uplink`. " +
			"Traffic between two `nat` networks of one device is routed without masquerading, so each container " +
			"sees the other's real address.\n" +
			"* `isolated`: containers reach the device only, not each other.\n\n" +
			"Rules live in the nftables table `ip iotfleet`, which the provider replaces as a whole and never " +
			"touches other tables. A `drop` in another table still applies. Where the device runs systemd, a " +
			"unit recreates the networks at boot and then starts the autostart containers.\n\n" +
			"Destroying a network fails while a container on the device has a NIC on it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The network as `user@host:port/name`, also its import ID.",
				Computed:            true,
			},
			"device": networkDeviceAttribute(),
			"name": schema.StringAttribute{
				MarkdownDescription: "Name of the network and of its bridge interface: 1 to 15 characters of `a-z`, " +
					"`0-9` and `-`, starting with a letter. Changing it replaces the network.",
				Required:      true,
				Validators:    []validator.String{networkNameValidator()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"mode": schema.StringAttribute{
				MarkdownDescription: "How the network connects its containers: `bridge`, `nat` or `isolated`.",
				Required:            true,
				Validators:          []validator.String{stringvalidator.OneOf(protocol.NetworkModes...)},
			},
			"ipv4_cidr": schema.StringAttribute{
				MarkdownDescription: "Gateway address of the device on the network with the subnet's prefix length, " +
					"for example `10.80.0.1/24`. The prefix length is /8 to /30, and the address must be a host " +
					"address: neither the network nor the broadcast address. It cannot change while containers are " +
					"attached.",
				Required:   true,
				Validators: []validator.String{networkCIDRValidator()},
			},
			"uplink": schema.StringAttribute{
				MarkdownDescription: "Interface that `nat` traffic leaves the device through, such as `eth0`. Only " +
					"`nat` networks take it. When unset, the plan uses the interface of the device's IPv4 default " +
					"route, and fails when the device has none.",
				Optional:   true,
				Computed:   true,
				Validators: []validator.String{interfaceNameValidator()},
			},
			"mtu": schema.Int64Attribute{
				MarkdownDescription: "MTU of the bridge in bytes, from 68 to 65535. Containers take it when they " +
					"start. When unset, a new bridge keeps the kernel's default, and the attribute shows the MTU " +
					"the bridge has.",
				Optional:      true,
				Computed:      true,
				Validators:    []validator.Int64{int64validator.Between(protocol.MinMTU, protocol.MaxMTU)},
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},

			"bridge": schema.StringAttribute{
				MarkdownDescription: "Name of the bridge interface on the device; empty when the bridge is missing, " +
					"which the next apply repairs.",
				Computed: true,
			},
			"subnet": schema.StringAttribute{
				MarkdownDescription: "The network's subnet, such as `10.80.0.0/24`.",
				Computed:            true,
			},
			"forwarding": schema.BoolAttribute{
				MarkdownDescription: "Whether the device routes IPv4 traffic of the network: `true` for `nat` " +
					"networks, whose bridge and uplink forward, and `false` for the others.",
				Computed: true,
			},
			"rules_in_place": schema.BoolAttribute{
				MarkdownDescription: "Whether the firewall rules, the bridge port isolation and the port hook of the " +
					"network are as the provider set them. It turns `false` when they were changed on the device, " +
					"and the next apply restores them.",
				Computed: true,
			},
		},
	}
}

// networkDeviceAttribute is the network's device: the target object of an iotfleet_device.
func networkDeviceAttribute() schema.SingleNestedAttribute {
	return deviceAttribute("The device that the network is on, usually `iotfleet_device.<name>.target`. Changing " +
		"its host, port, `state_dir` or `lxc_path` replaces the network; `user`, `host_key` and `arch` change " +
		"in place.")
}

func networkNameValidator() validator.String {
	return funcValidator{"value must be a network name of at most 15 characters", protocol.ValidateNetworkName}
}

func networkCIDRValidator() validator.String {
	return funcValidator{"value must be a gateway address with prefix length, such as 10.80.0.1/24",
		func(cidr string) error {
			_, err := protocol.ParseNetworkCIDR(cidr)
			return err
		}}
}

func interfaceNameValidator() validator.String {
	return funcValidator{"value must be an interface name", protocol.ValidateInterfaceName}
}
