package provider

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

var (
	_ resource.Resource                     = &seccompRecordingResource{}
	_ resource.ResourceWithConfigure        = &seccompRecordingResource{}
	_ resource.ResourceWithImportState      = &seccompRecordingResource{}
	_ resource.ResourceWithConfigValidators = &seccompRecordingResource{}
	_ resource.ResourceWithValidateConfig   = &seccompRecordingResource{}
)

// recordingCallAllowance is added to the recording's own bound (runs times the timeout of
// one run) for the SSH round trip and the helper's work around the runs.
const recordingCallAllowance = time.Minute

type seccompRecordingResource struct {
	data *providerData
}

// NewSeccompRecordingResource returns the iotfleet_seccomp_recording resource.
func NewSeccompRecordingResource() resource.Resource {
	return &seccompRecordingResource{}
}

func (r *seccompRecordingResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_seccomp_recording"
}

func (r *seccompRecordingResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig applies the helper's own checks, such as a timeout that must exceed the
// duration, once every value they need is known.
func (r *seccompRecordingResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var config seccompRecordingModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if seccompAnyUnknown(config.Name, config.DurationSeconds, config.Runs, config.TimeoutSeconds) ||
		!seccompFullyKnown(config.Command) {
		return
	}
	params, diags := recordingRunParams(ctx, config)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The attribute validators already report a missing or double workload and an unknown
	// mechanism; checking them again here would show each mistake twice.
	if params.Name == "" || (params.DurationSeconds == 0) == (len(params.Command) == 0) ||
		(params.Mechanism != "" && !slices.Contains(protocol.ValidMechanisms, params.Mechanism)) {
		return
	}
	if err := params.Validate(); err != nil {
		resp.Diagnostics.AddError("Invalid Seccomp Recording", err.Error()+".")
	}
}

func (r *seccompRecordingResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan seccompRecordingModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	target, diags := targetFromObject(ctx, plan.Device)
	resp.Diagnostics.Append(diags...)
	params, diags := recordingRunParams(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(&resp.Diagnostics, "apply", target, err)
		return
	}

	// Terraform sets no deadline of its own, so bound the call by the recording's own bound.
	bound := time.Duration(params.RunCount())*params.Timeout() + recordingCallAllowance
	callCtx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	tflog.Info(ctx, "recording syscalls", map[string]any{
		"device": target.ID(), "recording": params.Name, "container": params.Container,
		"workload": params.Workload(), "runs": params.RunCount(), "timeout": bound.String(),
	})
	var recorded protocol.RecordingState
	err = client.Call(callCtx, protocol.OpRecordingRun, params, &recorded)
	if err != nil {
		addRecordingRunError(&resp.Diagnostics, target, params, err)
		return
	}

	plan.ID = types.StringValue(seccompProfileID(target, params.Name))
	resp.Diagnostics.Append(setRecordingObserved(ctx, &plan, target, recorded)...)
	addRecordingWarnings(&resp.Diagnostics, recorded.Result)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *seccompRecordingResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state seccompRecordingModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	target, diags := targetFromObject(ctx, state.Device)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(&resp.Diagnostics, "read", target, err)
		return
	}

	var found protocol.RecordingState
	err = client.Call(ctx, protocol.OpRecordingGet, protocol.RecordingName{Name: state.Name.ValueString()}, &found)
	if errors.Is(err, protocol.ErrNotFound) {
		tflog.Warn(ctx, "seccomp recording is gone from the device", map[string]any{
			"device": target.ID(), "recording": state.Name.ValueString(),
		})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		addDeviceError(&resp.Diagnostics, "read", target, err)
		return
	}
	if known := state.SHA256.ValueString(); known != "" && known != found.SHA256 {
		tflog.Warn(ctx, "seccomp recording on the device changed since it was recorded, so the state takes the new result",
			map[string]any{"device": target.ID(), "recording": state.Name.ValueString(), "sha256": found.SHA256})
	}

	imported, diags := req.Private.GetKey(ctx, privateSeccompImported)
	resp.Diagnostics.Append(diags...)
	if len(imported) > 0 {
		state.Device, diags = completeImportedTarget(ctx, state.Device, client)
		resp.Diagnostics.Append(diags...)
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSeccompImported, nil)...)
	}
	resp.Diagnostics.Append(setRecordingObserved(ctx, &state, target, found)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes only what needs no new recording: the device's user, host key and arch.
// Every other argument requires a replacement.
func (r *seccompRecordingResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan seccompRecordingModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *seccompRecordingResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state seccompRecordingModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	target, diags := targetFromObject(ctx, state.Device)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(&resp.Diagnostics, "destroy", target, err)
		return
	}

	var result protocol.RecordingDeleteResult
	err = client.Call(ctx, protocol.OpRecordingDelete, protocol.RecordingName{Name: state.Name.ValueString()}, &result)
	if err != nil {
		addDeviceError(&resp.Diagnostics, "destroy", target, err)
		return
	}
	tflog.Info(ctx, "removed seccomp recording", map[string]any{
		"device": target.ID(), "recording": state.Name.ValueString(), "deleted": result.Deleted,
	})
}

// ImportState reads an ID of the form user@host:port/name. The device's state_dir and
// lxc_path take their defaults; Read fills its host key and architecture from the device and
// everything else from the stored result. timeout_seconds and triggers are not stored, so they
// stay unset.
func (r *seccompRecordingResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	user, host, port, name, err := parseObjectID(req.ID, "recording", protocol.ValidateRecordingName, r.data.defaultUser)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", err.Error())
		return
	}
	object := importedDeviceObject(user, host, port)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("device"), object)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateSeccompImported, []byte(`true`))...)
}
