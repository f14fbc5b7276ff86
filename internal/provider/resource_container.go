package provider

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

var (
	_ resource.Resource                   = &containerResource{}
	_ resource.ResourceWithConfigure      = &containerResource{}
	_ resource.ResourceWithImportState    = &containerResource{}
	_ resource.ResourceWithModifyPlan     = &containerResource{}
	_ resource.ResourceWithValidateConfig = &containerResource{}
)

// Default timeouts. Creating includes uploading a rootfs tarball, which over a slow link to an
// IoT device takes minutes.
const (
	defaultCreateTimeout = 10 * time.Minute
	defaultUpdateTimeout = 5 * time.Minute
	defaultDeleteTimeout = 5 * time.Minute
)

type containerResource struct {
	data *providerData
}

// NewContainerResource returns the iotfleet_container resource.
func NewContainerResource() resource.Resource {
	return &containerResource{}
}

func (r *containerResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_container"
}

func (r *containerResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *containerResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan containerResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	timeout, diags := plan.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	target, client := r.connect(ctx, plan, "apply", &resp.Diagnostics)
	if client == nil {
		return
	}

	// A container of the same name that this state does not hold belongs to someone else.
	name := protocol.ContainerName{Name: plan.Name.ValueString()}
	var existing protocol.ContainerState
	err := callHelper(ctx, client, protocol.OpContainerGet, name, &existing)
	if err == nil {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Container Already Exists",
			fmt.Sprintf("A container named %q already exists on %s. Import it with `terraform import` and the ID %q, "+
				"or choose another name.", plan.Name.ValueString(), target, containerID(target, plan.Name.ValueString())))
		return
	}
	if !errors.Is(err, protocol.ErrNotFound) {
		addContainerError(&resp.Diagnostics, "apply", target, err, nil)
		return
	}

	if !r.importRootfs(ctx, client, target, plan, &resp.Diagnostics) {
		return
	}

	result, ok := r.apply(ctx, client, target, plan, &resp.Diagnostics)
	if !ok {
		r.recordFailedCreate(ctx, client, plan, resp)
		return
	}
	settleApplied(&plan, result.State, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *containerResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state containerResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	target, diags := containerTarget(ctx, state, r.data.defaultUser)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}

	client, err := r.data.pool.Get(ctx, target)
	if rejectedHostKey(ctx, err, target, resp) {
		return
	}
	if err != nil {
		addDeviceError(&resp.Diagnostics, "read", target, err)
		return
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateRejectedHostKey, nil)...)

	var observed protocol.ContainerState
	name := protocol.ContainerName{Name: state.Name.ValueString()}
	err = callHelper(ctx, client, protocol.OpContainerGet, name, &observed)
	if errors.Is(err, protocol.ErrNotFound) {
		tflog.Warn(ctx, "container is gone from the device; removing it from state", map[string]any{
			"device": target.ID(), "container": state.Name.ValueString(),
		})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addDeviceError(&resp.Diagnostics, "read", target, err)
		return
	}

	mergeObserved(&state, observed)
	state.ID = types.StringValue(containerID(target, state.Name.ValueString()))
	resp.Diagnostics.Append(recordConfigDrift(ctx, target, observed, resp.Private)...)
	resp.Diagnostics.Append(recordNICDrift(ctx, observed.Networks, resp.Private)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *containerResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan containerResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	timeout, diags := plan.Timeouts.Update(ctx, defaultUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	target, client := r.connect(ctx, plan, "apply", &resp.Diagnostics)
	if client == nil {
		return
	}

	result, ok := r.apply(ctx, client, target, plan, &resp.Diagnostics)
	if !ok {
		return
	}
	settleApplied(&plan, result.State, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateConfigDrift, nil)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateNICDrift, nil)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateRejectedHostKey, nil)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *containerResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state containerResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	timeout, diags := state.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	target, client := r.connect(ctx, state, "destroy", &resp.Diagnostics)
	if client == nil {
		return
	}

	// The helper treats a missing container as deleted; not found covers an older helper.
	err := client.Call(ctx, protocol.OpContainerDelete, protocol.ContainerName{Name: state.Name.ValueString()}, nil)
	if err != nil && !errors.Is(err, protocol.ErrNotFound) {
		addContainerError(&resp.Diagnostics, "destroy", target, err, nil)
		return
	}
	tflog.Info(ctx, "destroyed container", map[string]any{"device": target.ID(), "container": state.Name.ValueString()})
}

func (r *containerResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	defaultUser := device.DefaultUser
	if r.data != nil {
		defaultUser = r.data.defaultUser
	}
	user, host, port, name, err := parseContainerID(req.ID, defaultUser)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", err.Error())
		return
	}

	target := device.Target{Host: host, Port: port, User: user}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("device"), importedDeviceObject(user, host, port))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), containerID(target, name))...)
}

// connect reaches the device and makes sure that it runs the helper bundled with this provider,
// so that a change is never applied by a helper from another release.
func (r *containerResource) connect(ctx context.Context, m containerResourceModel, action string,
	diags *diag.Diagnostics) (device.Target, *device.Client) {
	target, d := containerTarget(ctx, m, r.data.defaultUser)
	diags.Append(d...)
	if diags.HasError() {
		return target, nil
	}
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(diags, action, target, err)
		return target, nil
	}
	if _, err := client.ReadyHelper(ctx); err != nil {
		addDeviceError(diags, action, target, err)
		return target, nil
	}
	return target, client
}
