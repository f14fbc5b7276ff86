package provider

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// importRootfs uploads and imports the tarball of a plan that uses one, and reports success.
func (r *containerResource) importRootfs(ctx context.Context, client *device.Client, target device.Target,
	plan containerResourceModel, diags *diag.Diagnostics) bool {
	rootfs, d := plan.rootfs(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return false
	}
	if rootfs.usesBusybox() {
		return true
	}
	_, err := importTarball(ctx, client, target, rootfs.Tarball.ValueString(), rootfs.SHA256.ValueString())
	if err != nil {
		addContainerError(diags, "apply", target, err, nil)
		return false
	}
	return true
}

// apply sends the plan's spec to the helper, which creates the container or changes it to match.
func (r *containerResource) apply(ctx context.Context, client *device.Client, target device.Target,
	plan containerResourceModel, diags *diag.Diagnostics) (protocol.ContainerApplyResult, bool) {
	var result protocol.ContainerApplyResult
	files, d := plan.files(ctx)
	diags.Append(d...)
	contents, err := fileContents(files)
	if err != nil {
		diags.AddAttributeError(path.Root("files"), "Invalid File Source", err.Error())
	}
	spec, d := containerSpec(ctx, plan, contents)
	diags.Append(d...)
	if diags.HasError() {
		return result, false
	}

	if err := client.Call(ctx, protocol.OpContainerApply, spec, &result); err != nil {
		addContainerError(diags, "apply", target, err, filePathsOf(files))
		return result, false
	}
	tflog.Info(ctx, "applied container", map[string]any{
		"device": target.ID(), "container": spec.Name, "state": result.State.State, "restarted": result.Restarted,
	})
	return result, true
}

// filePathsOf returns the paths of files in the order of the files attribute.
func filePathsOf(files []fileModel) []string {
	paths := make([]string, 0, len(files))
	for _, f := range files {
		paths = append(paths, f.Path.ValueString())
	}
	return paths
}

// recordFailedCreate keeps a container that a failed create left on the device in state, so
// Terraform marks it tainted and replaces it on the next apply instead of failing on the name.
func (r *containerResource) recordFailedCreate(ctx context.Context, client *device.Client,
	plan containerResourceModel, resp *resource.CreateResponse) {
	var observed protocol.ContainerState
	err := client.Call(ctx, protocol.OpContainerGet, protocol.ContainerName{Name: plan.Name.ValueString()}, &observed)
	if err != nil {
		return
	}
	setObserved(&plan, observed)
	settleNetworks(&plan, observed.Networks)
	plan.RootfsBytes = types.Int64Value(observed.RootfsBytes)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// settleApplied stores what the helper reports after an apply in plan. Terraform rejects a
// result that differs from a value the plan knew, so a difference is reported as an error
// that names it, with the device's values kept in state for the next plan.
func settleApplied(plan *containerResourceModel, observed protocol.ContainerState, diags *diag.Diagnostics) {
	planned := *plan
	setObserved(plan, observed)
	networkMismatches := settleNetworks(plan, observed.Networks)
	if plan.RootfsBytes.IsUnknown() {
		plan.RootfsBytes = types.Int64Value(observed.RootfsBytes)
	}

	if planned.State.ValueString() == stateRunning && observed.State != stateRunning {
		diags.AddError("Container Did Not Start",
			fmt.Sprintf("Container %q is %s after the apply, not RUNNING. Its command probably exited at once: "+
				"check command, user and the rootfs, and look at the container's log on the device.",
				observed.Name, observed.State))
		return
	}
	mismatches := []string{}
	compare := func(name string, want, got attr.Value) {
		if !want.IsUnknown() && !want.Equal(got) {
			mismatches = append(mismatches, fmt.Sprintf("%s is %s, the plan had %s", name, got, want))
		}
	}
	compare("state", planned.State, plan.State)
	compare("init_pid", planned.InitPID, plan.InitPID)
	compare("host_uid_start", planned.HostUIDStart, plan.HostUIDStart)
	compare("host_gid_start", planned.HostGIDStart, plan.HostGIDStart)
	compare("config_sha256", planned.ConfigSHA256, plan.ConfigSHA256)
	compare("image_sha256", planned.ImageSHA256, plan.ImageSHA256)
	mismatches = append(mismatches, networkMismatches...)
	if len(mismatches) > 0 {
		diags.AddError("Unexpected Container State",
			fmt.Sprintf("After the apply, container %q on the device differs from the plan: %s. The state now "+
				"records what the device reports; run terraform plan to review it. This is a bug in the provider "+
				"or its helper; please report it.", observed.Name, strings.Join(mismatches, "; ")))
	}
}

// callHelper is Client.Call for reads. When the device has no helper, or one from another
// release that lacks the operation, it installs the bundled helper and calls again.
func callHelper(ctx context.Context, client *device.Client, op string, params, result any) error {
	err := client.Call(ctx, op, params, result)
	if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, protocol.ErrUnknownOp) &&
		!errors.Is(err, protocol.ErrUnsupportedVersion) {
		return err
	}
	if _, installErr := client.ReadyHelper(ctx); installErr != nil {
		return installErr
	}
	return client.Call(ctx, op, params, result)
}
