package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
)

// targetModel is how other resources reach a device: the device resource exports it as its
// `target` attribute, and container, network and profile resources take it as their `device`.
// It carries no secret, so it is safe in state; credentials come from the provider configuration.
type targetModel struct {
	Host     types.String `tfsdk:"host"`
	Port     types.Int64  `tfsdk:"port"`
	User     types.String `tfsdk:"user"`
	HostKey  types.String `tfsdk:"host_key"`
	StateDir types.String `tfsdk:"state_dir"`
	LXCPath  types.String `tfsdk:"lxc_path"`
	Arch     types.String `tfsdk:"arch"`
}

var targetAttrTypes = map[string]attr.Type{
	"host":      types.StringType,
	"port":      types.Int64Type,
	"user":      types.StringType,
	"host_key":  types.StringType,
	"state_dir": types.StringType,
	"lxc_path":  types.StringType,
	"arch":      types.StringType,
}

// targetDescriptions documents each target field, for every schema that shows one.
var targetDescriptions = map[string]string{
	"host":      "Host name or IP address of the device.",
	"port":      "SSH port of the device.",
	"user":      "User the provider logs in as.",
	"host_key":  "Verified SSH host public key of the device, in authorized_keys form.",
	"state_dir": "Folder on the device where the helper and its records live.",
	"lxc_path":  "LXC path on the device.",
	"arch":      "Machine architecture of the device as `uname -m` prints it, so that resources can check architecture-specific values, such as syscall names, at plan time.",
}

// targetObject returns the target object of t; arch is the device's `uname -m`, unknown when
// arch is unknown.
func targetObject(t device.Target, arch types.String) basetypes.ObjectValue {
	return types.ObjectValueMust(targetAttrTypes, map[string]attr.Value{
		"host":      types.StringValue(t.Host),
		"port":      types.Int64Value(int64(t.Port)),
		"user":      types.StringValue(t.User),
		"host_key":  types.StringValue(t.HostKey),
		"state_dir": types.StringValue(t.StateDir),
		"lxc_path":  types.StringValue(t.LXCPath),
		"arch":      arch,
	})
}

// targetFromObject converts a known target object back into a device target.
func targetFromObject(ctx context.Context, obj types.Object) (device.Target, diag.Diagnostics) {
	var m targetModel
	diags := obj.As(ctx, &m, basetypes.ObjectAsOptions{})
	if diags.HasError() {
		return device.Target{}, diags
	}
	return device.Target{
		Host:     m.Host.ValueString(),
		Port:     int(m.Port.ValueInt64()),
		User:     m.User.ValueString(),
		HostKey:  m.HostKey.ValueString(),
		StateDir: m.StateDir.ValueString(),
		LXCPath:  m.LXCPath.ValueString(),
	}, diags
}
