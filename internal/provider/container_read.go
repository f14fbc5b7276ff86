package provider

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// privateSetter is the part of the framework's private state that Read writes.
type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

// mergeObserved updates state with what the device reports. An attribute whose value means the
// same as the device's keeps its spelling, so "CAP_CHOWN" or "1G" do not show as drift. Any
// other attribute takes the device's value, and the next plan shows the change back.
func mergeObserved(state *containerResourceModel, observed protocol.ContainerState) {
	spec := observed.Spec
	for _, attribute := range specAttributes {
		current, known := attribute.fromModel(state)
		if known && equalCanonical(current, attribute.fromSpec(&spec)) {
			continue
		}
		attribute.setFromSpec(state, &spec)
	}

	if state.Rootfs.IsNull() || rootfsKindDiffers(state.Rootfs, spec) {
		state.Rootfs = rootfsFromSpec(spec)
	}
	state.Networks = networkList(networksFromState(observed.Networks))
	state.Running = types.BoolValue(observed.State == stateRunning)
	setObserved(state, observed)
	state.RootfsBytes = types.Int64Value(observed.RootfsBytes)
}

// rootfsKindDiffers reports whether the state's rootfs and the device's differ in kind.
func rootfsKindDiffers(rootfs types.Object, spec protocol.ContainerSpec) bool {
	busybox, _ := rootfs.Attributes()["busybox"].(types.Bool)
	tarball, _ := rootfs.Attributes()["tarball"].(types.String)
	stateBusybox := busybox.ValueBool() && tarball.IsNull()
	return stateBusybox != (spec.Rootfs == protocol.RootfsBusybox)
}

// recordConfigDrift remembers, for the next plan, whether the container's LXC configuration on
// the device is the one the helper last wrote.
func recordConfigDrift(ctx context.Context, target device.Target, observed protocol.ContainerState,
	private privateSetter) diag.Diagnostics {
	if observed.AppliedConfigSHA256 == "" || observed.ConfigSHA256 == observed.AppliedConfigSHA256 {
		return private.SetKey(ctx, privateConfigDrift, nil)
	}
	tflog.Warn(ctx, "container configuration was changed outside Terraform", map[string]any{
		"device": target.ID(), "container": observed.Name,
		"config_sha256": observed.ConfigSHA256, "applied_config_sha256": observed.AppliedConfigSHA256,
	})
	value, err := json.Marshal(configDrift{Current: observed.ConfigSHA256, Applied: observed.AppliedConfigSHA256})
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Cannot Record Configuration Drift", err.Error())
		return diags
	}
	return private.SetKey(ctx, privateConfigDrift, value)
}

// rejectedHostKey handles a device that offers another host key than the one pinned in state.
// Nothing is read from an untrusted device, so the state stays as it was. The plan then fails
// in ModifyPlan unless the configuration pins a new key, which is how a rotated key is accepted.
func rejectedHostKey(ctx context.Context, err error, target device.Target, resp *resource.ReadResponse) bool {
	var hostKeyErr *device.HostKeyError
	if !errors.As(err, &hostKeyErr) || target.HostKey == "" {
		return false
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateRejectedHostKey, []byte(strconv.Quote(err.Error())))...)
	return true
}
