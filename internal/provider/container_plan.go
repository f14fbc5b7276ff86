package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

// privateConfigDrift is the private state key under which Read records that the container's
// LXC configuration on the device is not the one the helper last wrote.
const privateConfigDrift = "config_drift"

// configDrift is the value stored under privateConfigDrift.
type configDrift struct {
	Current string `json:"current"`
	Applied string `json:"applied"`
}

// privateGetter is the part of the framework's private state that ModifyPlan reads.
type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

// containerChanges is the outcome of comparing a plan with the state of an existing container.
type containerChanges struct {
	// changed lists the spec attributes whose canonical value changes or is not known yet.
	changed []specAttribute

	// restarts lists, for a running container that stays running, the attributes that make the
	// helper restart it.
	restarts []string
}

func (r *containerResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan containerResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *containerResourceModel
	if !req.State.Raw.IsNull() {
		state = &containerResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}

	if state != nil && hostKeyStillRejected(ctx, req.Private, plan, *state, &resp.Diagnostics) {
		return
	}
	var configUser types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("device").AtName("user"), &configUser)...)
	var configNetworks types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("network"), &configNetworks)...)
	r.planDevice(ctx, &plan, configUser, &resp.Diagnostics)
	planRootfs(ctx, &plan, &resp.Diagnostics)
	planFiles(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}

	if state == nil {
		planNetworks(&plan, nil, configuredAddresses(configNetworks), nil)
		planCreate(&plan)
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}

	replacedRootfs := rootfsReplacement(ctx, plan, *state)
	resp.RequiresReplace = append(resp.RequiresReplace, replacedRootfs...)
	// A replacement is a new container, which gets new addresses unless the configuration
	// sets them.
	replaced := len(replacedRootfs) > 0 || replacedByAttribute(plan, *state)
	if replaced {
		planNetworks(&plan, nil, configuredAddresses(configNetworks), nil)
	} else {
		nicDrift := readNICDrift(ctx, req.Private, &resp.Diagnostics)
		planNetworks(&plan, state, configuredAddresses(configNetworks), nicDrift)
	}
	drift := readConfigDrift(ctx, req.Private, &resp.Diagnostics)
	changes := planUpdate(&plan, *state, drift != nil)
	target, _ := containerTarget(ctx, plan, r.data.defaultUser)
	// Terraform plans a replacement again as a create, so update warnings would mislead.
	if replaced {
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
		return
	}
	if drift != nil {
		resp.Diagnostics.AddWarning("Container Configuration Changed Outside Terraform",
			fmt.Sprintf("The LXC configuration of container %q on %s has SHA-256 %s, but the provider last wrote %s. "+
				"Applying this plan writes the configuration again.", plan.Name.ValueString(), target, drift.Current, drift.Applied))
	}
	if len(changes.restarts) > 0 {
		resp.Diagnostics.AddWarning("Container Restarts To Apply Changes",
			fmt.Sprintf("Container %q on %s restarts to apply: %s. Its processes are stopped and started again, "+
				"so init_pid changes.", plan.Name.ValueString(), target, strings.Join(changes.restarts, ", ")))
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// hostKeyStillRejected fails the plan when the last read found another host key than the one
// pinned, and the plan keeps that pin.
func hostKeyStillRejected(ctx context.Context, private privateGetter, plan, state containerResourceModel,
	diags *diag.Diagnostics) bool {
	plannedKey, _ := plan.Device.Attributes()["host_key"].(types.String)
	currentKey, _ := state.Device.Attributes()["host_key"].(types.String)
	if !plannedKey.Equal(currentKey) {
		return false
	}
	rejected, d := private.GetKey(ctx, privateRejectedHostKey)
	diags.Append(d...)
	message, err := strconv.Unquote(string(rejected))
	if err != nil || message == "" {
		return false
	}
	diags.AddAttributeError(path.Root("device").AtName("host_key"), "Host Key Verification Failed", message)
	return true
}

// planDevice fills the device's user from the provider when the configuration sets none, and
// the container's ID once the device and name are known.
func (r *containerResource) planDevice(ctx context.Context, plan *containerResourceModel, configUser types.String,
	diags *diag.Diagnostics) {
	plan.ID = types.StringUnknown()
	if plan.Device.IsUnknown() || plan.Device.IsNull() {
		return
	}
	var device targetModel
	diags.Append(plan.Device.As(ctx, &device, basetypes.ObjectAsOptions{})...)
	if diags.HasError() {
		return
	}
	if configUser.IsNull() {
		device.User = types.StringValue(r.data.defaultUser)
		object, d := types.ObjectValueFrom(ctx, targetAttrTypes, device)
		diags.Append(d...)
		plan.Device = object
	}
	if hasUnknown([]attr.Value{device.Host, device.Port, device.User, device.StateDir, device.LXCPath, plan.Name}) {
		return
	}
	target, d := containerTarget(ctx, *plan, r.data.defaultUser)
	diags.Append(d...)
	plan.ID = types.StringValue(containerID(target, plan.Name.ValueString()))
}

// planRootfs hashes a tarball rootfs, checks it against tarball_sha256, and plans the image
// that the container will use.
func planRootfs(ctx context.Context, plan *containerResourceModel, diags *diag.Diagnostics) {
	plan.ImageSHA256 = types.StringUnknown()
	if plan.Rootfs.IsUnknown() || plan.Rootfs.IsNull() {
		return
	}
	rootfs, d := plan.rootfs(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return
	}

	switch {
	case rootfs.Busybox.IsUnknown() || rootfs.Tarball.IsUnknown():
		rootfs.SHA256 = types.StringUnknown()
	case rootfs.usesBusybox():
		rootfs.SHA256 = types.StringNull()
		plan.ImageSHA256 = types.StringValue("")
	default:
		rootfs.SHA256 = types.StringUnknown()
		sum, err := inspectTarball(rootfs.Tarball.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root("rootfs").AtName("tarball"), "Invalid Rootfs Tarball", err.Error())
			return
		}
		pinned := rootfs.TarballSHA256
		if !pinned.IsNull() && !pinned.IsUnknown() && lowerHex(pinned.ValueString()) != sum {
			diags.AddAttributeError(path.Root("rootfs").AtName("tarball_sha256"), "Rootfs Tarball Hash Mismatch",
				fmt.Sprintf("The tarball %q has SHA-256 %s, but tarball_sha256 pins %s. Use the tarball that was "+
					"pinned, or pin the new hash after checking where the tarball came from.",
					rootfs.Tarball.ValueString(), sum, lowerHex(pinned.ValueString())))
			return
		}
		rootfs.SHA256 = types.StringValue(sum)
		plan.ImageSHA256 = rootfs.SHA256
	}
	object, d := types.ObjectValueFrom(ctx, rootfsAttrTypes, rootfs)
	diags.Append(d...)
	plan.Rootfs = object
}

// planFiles computes the SHA-256 of every file's content, reading sources from the local disk.
func planFiles(ctx context.Context, plan *containerResourceModel, diags *diag.Diagnostics) {
	files, d := plan.files(ctx)
	diags.Append(d...)
	if len(files) == 0 || diags.HasError() {
		return
	}
	var total int64
	for i := range files {
		sum, size, err := fileSHA256(files[i])
		if err != nil {
			diags.AddAttributeError(path.Root("files").AtListIndex(i).AtName("source"), "Invalid File Source", err.Error())
			continue
		}
		files[i].SHA256 = sum
		total += size
	}
	if total > maxFilesBytes {
		diags.AddAttributeError(path.Root("files"), "Files Too Large",
			fmt.Sprintf("The files hold %d bytes together, more than the limit of %d bytes, because they travel inside "+
				"one helper request. Put large files into the rootfs tarball instead.", total, maxFilesBytes))
	}
	list, d := types.ListValueFrom(ctx, fileObjectType, files)
	diags.Append(d...)
	plan.Files = list
}

// planCreate plans the computed values of a new container: those the device assigns are
// unknown until it runs.
func planCreate(plan *containerResourceModel) {
	plan.State = plannedState(plan.Running)
	plan.InitPID = types.Int64Unknown()
	if !plan.Running.IsUnknown() && !plan.Running.ValueBool() {
		plan.InitPID = types.Int64Value(0)
	}
	plan.HostUIDStart = types.Int64Unknown()
	plan.HostGIDStart = types.Int64Unknown()
	plan.ConfigSHA256 = types.StringUnknown()
	plan.RootfsBytes = types.Int64Unknown()
}

// planUpdate plans the computed values of an existing container from its state and reports
// what changes. configDrifted means the configuration on the device must be written again.
func planUpdate(plan *containerResourceModel, state containerResourceModel, configDrifted bool) containerChanges {
	var changes containerChanges
	configChanges, mayRestart := configDrifted, false
	restarts := []string{}
	if configDrifted {
		restarts = append(restarts, "config_sha256")
	}
	for _, attribute := range specAttributes {
		planned, plannedKnown := attribute.fromModel(plan)
		current, currentKnown := attribute.fromModel(&state)
		if plannedKnown && currentKnown && equalCanonical(planned, current) {
			continue
		}
		changes.changed = append(changes.changed, attribute)
		effect := attribute.effect
		if attribute.name == "files" && imageFilePathsChange(plan, &state, plannedKnown && currentKnown) {
			effect = effectRestart
		}
		if attribute.name == "resolv_conf" && resolvConfMountChange(plan, &state) {
			effect = effectRestart
		}
		switch effect {
		case effectRestart:
			restarts = append(restarts, attribute.name)
			configChanges = true
		case effectLive:
			configChanges, mayRestart = true, true
		case effectConfig:
			configChanges = true
		}
	}

	if networksChange(*plan, state) {
		changes.changed = append(changes.changed, networkChange)
		restarts = append(restarts, networkChange.name)
		configChanges = true
	}

	wasRunning := state.State.ValueString() == stateRunning
	staysRunning := wasRunning && !plan.Running.IsUnknown() && plan.Running.ValueBool()
	restartNeeded := staysRunning && len(restarts) > 0

	plan.State = plannedState(plan.Running)
	plan.HostUIDStart = state.HostUIDStart
	plan.HostGIDStart = state.HostGIDStart
	plan.ConfigSHA256 = state.ConfigSHA256
	plan.RootfsBytes = state.RootfsBytes
	plan.InitPID = state.InitPID
	switch {
	case plan.Running.IsUnknown():
		plan.InitPID = types.Int64Unknown()
	case !plan.Running.ValueBool():
		plan.InitPID = types.Int64Value(0)
	case !wasRunning || restartNeeded || mayRestart:
		plan.InitPID = types.Int64Unknown()
	}
	if configChanges {
		plan.ConfigSHA256 = types.StringUnknown()
	}
	if changed(changes.changed, "idmap_size") {
		plan.HostUIDStart = types.Int64Unknown()
		plan.HostGIDStart = types.Int64Unknown()
	}
	if restartNeeded {
		changes.restarts = restarts
	}
	return changes
}

// imageFilePathsChange reports whether files are added to or removed from an image rootfs.
// Each such file is a bind mount in the LXC configuration, so adding or removing one restarts
// the container. Files of a busybox rootfs are written in place. known is false while either
// list is unknown.
func imageFilePathsChange(plan, state *containerResourceModel, known bool) bool {
	if state.ImageSHA256.ValueString() == "" && plan.ImageSHA256.ValueString() == "" {
		return false
	}
	if !known {
		return true
	}
	planned, _ := filesFromModel(plan)
	current, _ := filesFromModel(state)
	return !slices.Equal(filePaths(planned), filePaths(current))
}

// resolvConfMountChange reports whether resolv_conf is added to or removed from an image
// rootfs, where it is a bind mount in the LXC configuration like each file.
func resolvConfMountChange(plan, state *containerResourceModel) bool {
	if state.ImageSHA256.ValueString() == "" && plan.ImageSHA256.ValueString() == "" {
		return false
	}
	return plan.ResolvConf.IsUnknown() || plan.ResolvConf.IsNull() != state.ResolvConf.IsNull()
}

func filePaths(keys any) []string {
	files, _ := keys.([]fileKey)
	paths := make([]string, 0, len(files))
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	return paths
}

// replacedByAttribute reports whether the schema's RequiresReplace modifiers replace the
// container, because of a new name or a new device address. The framework does not pass
// their result to ModifyPlan.
func replacedByAttribute(plan, state containerResourceModel) bool {
	if !plan.Name.Equal(state.Name) {
		return true
	}
	planned, current := plan.Device.Attributes(), state.Device.Attributes()
	for _, name := range []string{"host", "port", "state_dir", "lxc_path"} {
		if planned[name] == nil || !planned[name].Equal(current[name]) {
			return true
		}
	}
	return false
}

// rootfsReplacement returns the paths whose change replaces the container: a different kind of
// rootfs, or a different image.
func rootfsReplacement(ctx context.Context, plan, state containerResourceModel) []path.Path {
	planned, diags := plan.rootfs(ctx)
	if diags.HasError() || state.Rootfs.IsNull() {
		return nil
	}
	current, diags := state.rootfs(ctx)
	if diags.HasError() {
		return nil
	}
	if planned.Busybox.IsUnknown() || planned.Tarball.IsUnknown() || planned.usesBusybox() != current.usesBusybox() {
		return []path.Path{path.Root("rootfs")}
	}
	if !plan.ImageSHA256.Equal(state.ImageSHA256) {
		return []path.Path{path.Root("rootfs").AtName("sha256")}
	}
	return nil
}

// readConfigDrift returns the drift that Read recorded, or nil.
func readConfigDrift(ctx context.Context, private privateGetter, diags *diag.Diagnostics) *configDrift {
	raw, d := private.GetKey(ctx, privateConfigDrift)
	diags.Append(d...)
	if len(raw) == 0 {
		return nil
	}
	var drift configDrift
	if err := json.Unmarshal(raw, &drift); err != nil || drift.Current == "" {
		return nil
	}
	return &drift
}

func plannedState(running types.Bool) types.String {
	switch {
	case running.IsUnknown():
		return types.StringUnknown()
	case running.ValueBool():
		return types.StringValue(stateRunning)
	}
	return types.StringValue(stateStopped)
}

func changed(attributes []specAttribute, name string) bool {
	for _, attribute := range attributes {
		if attribute.name == name {
			return true
		}
	}
	return false
}
