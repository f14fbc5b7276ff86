package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// seccompRecordingMechanismAttribute is the mechanism argument. Unset, the device chooses
// and the state holds the mechanism it used.
func seccompRecordingMechanismAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "How the device records: `ebpf` counts each syscall in the kernel with BPF programs " +
			"attached to the `sys_enter` tracepoint, which slows the workload little but needs a kernel with " +
			"`CONFIG_BPF_SYSCALL`, `CONFIG_BPF_EVENTS` and a cgroup v2 hierarchy; `ptrace` stops the workload at " +
			"each syscall, which is slow but works on any Linux 5.3 or later. Unset, the device uses eBPF where it " +
			"can load the programs and ptrace otherwise, and this attribute shows the one it used; `auto` chooses " +
			"the same way but keeps the value `auto`. Setting another mechanism than the recording used records again.",
		Optional:      true,
		Computed:      true,
		Validators:    []validator.String{stringvalidator.OneOf(protocol.ValidMechanisms...)},
		PlanModifiers: []planmodifier.String{recordingMechanismModifier{}},
	}
}

// recordingMechanismModifier plans mechanism against the recording in the state: an unset
// value keeps the mechanism it used, auto accepts either, and any other value that differs
// from it records again.
type recordingMechanismModifier struct{}

func (m recordingMechanismModifier) Description(context.Context) string {
	return "Keeps the recorded mechanism when unset and records again when set to another one."
}

func (m recordingMechanismModifier) MarkdownDescription(ctx context.Context) string {
	return m.Description(ctx)
}

func (m recordingMechanismModifier) PlanModifyString(_ context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	// A new recording (also after a replacement, which Terraform plans without a prior state)
	// leaves an unset value unknown until the device reports its choice.
	if req.StateValue.IsNull() || req.StateValue.IsUnknown() {
		return
	}
	if req.ConfigValue.IsNull() {
		resp.PlanValue = req.StateValue
		return
	}
	if req.ConfigValue.IsUnknown() {
		resp.RequiresReplace = true
		return
	}
	config := req.ConfigValue.ValueString()
	if config != req.StateValue.ValueString() && config != protocol.MechanismAuto {
		resp.RequiresReplace = true
	}
}
