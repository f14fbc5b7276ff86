package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
)

// deviceResourceModel is the state of an iotfleet_device.
type deviceResourceModel struct {
	ID       types.String `tfsdk:"id"`
	Host     types.String `tfsdk:"host"`
	Port     types.Int64  `tfsdk:"port"`
	User     types.String `tfsdk:"user"`
	HostKey  types.String `tfsdk:"host_key"`
	StateDir types.String `tfsdk:"state_dir"`
	LXCPath  types.String `tfsdk:"lxc_path"`

	Arch           types.String `tfsdk:"arch"`
	KernelRelease  types.String `tfsdk:"kernel_release"`
	LXCVersion     types.String `tfsdk:"lxc_version"`
	CgroupLayout   types.String `tfsdk:"cgroup_layout"`
	SeccompActions types.List   `tfsdk:"seccomp_actions"`
	AppArmor       types.Bool   `tfsdk:"apparmor"`
	HelperVersion  types.String `tfsdk:"helper_version"`
	HelperSHA256   types.String `tfsdk:"helper_sha256"`

	Target types.Object `tfsdk:"target"`
}

func (r *deviceResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	// Facts refresh on every read; between reads a plan shows the stored value.
	fact := func(description string) schema.StringAttribute {
		return schema.StringAttribute{
			MarkdownDescription: description,
			Computed:            true,
			PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
		}
	}

	resp.Schema = schema.Schema{
		MarkdownDescription: "A Linux device reached over SSH. Creating it installs the provider's helper on the device " +
			"(uploaded only when its SHA-256 differs) and reads the facts that containers depend on: architecture, " +
			"kernel, LXC version, cgroup layout, seccomp actions and AppArmor.\n\n" +
			"The host key is always verified, against `host_key` when set, else against the provider's `known_hosts_file`. " +
			"Other resources target the device through its `target` attribute, which holds no secret.\n\n" +
			"Destroying the device removes the helper and its state folder, and fails while containers, networks, profiles " +
			"or recordings managed by the provider remain on it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The device as `user@host:port`. Import takes this ID, optionally followed by a space and the host key " +
					"to pin (for a device that the provider's `known_hosts_file` does not list); a device imported with a " +
					"non-default `state_dir` or `lxc_path` is planned for replacement.",
				Computed: true,
			},
			"host": schema.StringAttribute{
				MarkdownDescription: "Host name, IPv4 or IPv6 address of the device (an IPv6 address without brackets). " +
					"Changing it replaces the device.",
				Required:      true,
				Validators:    []validator.String{hostValidator()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"port": schema.Int64Attribute{
				MarkdownDescription: "SSH port of the device. Defaults to `22`.",
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(device.DefaultPort),
				Validators:          []validator.Int64{int64validator.Between(1, 65535)},
			},
			"user": schema.StringAttribute{
				MarkdownDescription: "User to log in as. Defaults to the provider's `user`. The helper runs as this user " +
					"and manages LXC containers, so it must be `root` on the device.",
				Optional:   true,
				Computed:   true,
				Validators: []validator.String{userValidator()},
			},
			"host_key": schema.StringAttribute{
				MarkdownDescription: "Pinned SSH host public key, one line as a `.pub` file or `ssh-keyscan` prints it, " +
					"for example `ssh-ed25519 AAAAC3Nza...`. When unset, the key must be listed in the provider's " +
					"`known_hosts_file`. Changing it updates the device in place: this is how a rotated host key is accepted.",
				Optional:   true,
				Validators: []validator.String{hostKeyValidator()},
			},
			"state_dir": schema.StringAttribute{
				MarkdownDescription: "Folder on the device for the helper and its records. Defaults to `" +
					device.DefaultStateDir + "`. Changing it replaces the device.",
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString(device.DefaultStateDir),
				Validators:    []validator.String{devicePathValidator()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"lxc_path": schema.StringAttribute{
				MarkdownDescription: "LXC path on the device, where container folders live. Defaults to `" +
					device.DefaultLXCPath + "`. Changing it replaces the device.",
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString(device.DefaultLXCPath),
				Validators:    []validator.String{devicePathValidator()},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},

			"arch":           fact("Machine architecture as `uname -m` prints it, such as `x86_64` or `aarch64`."),
			"kernel_release": fact("Kernel release as `uname -r` prints it."),
			"lxc_version":    fact("Version of liblxc on the device."),
			"cgroup_layout":  fact("Cgroup layout of the device: `v1`, `v2` or `hybrid`."),
			"seccomp_actions": schema.ListAttribute{
				MarkdownDescription: "Seccomp actions the device's kernel offers, as listed in `/proc/sys/kernel/seccomp/actions_avail`.",
				ElementType:         types.StringType,
				Computed:            true,
				PlanModifiers:       []planmodifier.List{listplanmodifier.UseStateForUnknown()},
			},
			"apparmor": schema.BoolAttribute{
				MarkdownDescription: "Whether AppArmor is enabled in the device's kernel.",
				Computed:            true,
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()},
			},
			"helper_version": fact("Release of the helper installed on the device."),
			"helper_sha256": schema.StringAttribute{
				MarkdownDescription: "SHA-256 of the helper installed on the device. A plan shows a change when the helper " +
					"is missing, was altered on the device, or this provider bundles a different one; applying it uploads " +
					"the bundled helper.",
				Computed: true,
			},
			"target": schema.SingleNestedAttribute{
				MarkdownDescription: "How other resources reach this device, for example " +
					"`device = iotfleet_device.gateway.target`. It carries no secret.",
				Computed:   true,
				Attributes: targetSchemaAttributes(),
			},
		},
	}
}

func targetSchemaAttributes() map[string]schema.Attribute {
	attributes := make(map[string]schema.Attribute, len(targetDescriptions))
	for name, description := range targetDescriptions {
		if name == "port" {
			attributes[name] = schema.Int64Attribute{MarkdownDescription: description, Computed: true}
			continue
		}
		attributes[name] = schema.StringAttribute{MarkdownDescription: description, Computed: true}
	}
	return attributes
}
