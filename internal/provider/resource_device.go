package provider

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

var (
	_ resource.Resource                   = &deviceResource{}
	_ resource.ResourceWithConfigure      = &deviceResource{}
	_ resource.ResourceWithImportState    = &deviceResource{}
	_ resource.ResourceWithModifyPlan     = &deviceResource{}
	_ resource.ResourceWithValidateConfig = &deviceResource{}
)

// privateRejectedHostKey is the private state key under which Read records that the device
// offered a host key other than the pinned one. Its value is the quoted error message.
const privateRejectedHostKey = "rejected_host_key"

type deviceResource struct {
	data *providerData
}

// NewDeviceResource returns the iotfleet_device resource.
func NewDeviceResource() resource.Resource {
	return &deviceResource{}
}

func (r *deviceResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_device"
}

func (r *deviceResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *deviceResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var config deviceResourceModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() || config.StateDir.IsUnknown() || config.LXCPath.IsUnknown() {
		return
	}

	stateDir := config.StateDir.ValueString()
	if config.StateDir.IsNull() {
		stateDir = device.DefaultStateDir
	}
	lxcPath := config.LXCPath.ValueString()
	if config.LXCPath.IsNull() {
		lxcPath = device.DefaultLXCPath
	}
	if err := validateDeviceFolders(stateDir, lxcPath); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("state_dir"), "Invalid Attribute Value", err.Error())
	}
}

func (r *deviceResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan deviceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}

	r.apply(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *deviceResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state deviceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}

	target := targetFromModel(state, r.data.defaultUser)
	client, err := r.data.pool.Get(ctx, target)
	var hostKeyErr *device.HostKeyError
	if errors.As(err, &hostKeyErr) && target.HostKey != "" {
		// A pinned key that the device no longer offers fails the plan in ModifyPlan, unless the
		// configuration pins a new key: that is how a rotated key is accepted. Nothing is read
		// from a device whose key is not trusted, so the state stays as it was.
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateRejectedHostKey, []byte(strconv.Quote(err.Error())))...)
		return
	}
	if err != nil {
		addDeviceError(&resp.Diagnostics, "read", target, err)
		return
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateRejectedHostKey, nil)...)

	// Hash what is installed. A missing or altered helper is not an error here: the hash then
	// differs from the bundled one, and the next plan shows the upload that repairs it.
	sum, err := client.InstalledHelperSHA256(ctx)
	switch {
	case errors.Is(err, device.ErrHelperMissing):
		tflog.Warn(ctx, "helper is missing on the device or cannot run", map[string]any{"device": target.ID()})
		state.HelperSHA256 = types.StringValue("")
		state.HelperVersion = types.StringValue("")
	case err != nil:
		addDeviceError(&resp.Diagnostics, "read", target, err)
		return
	default:
		state.HelperSHA256 = types.StringValue(sum)
	}

	if sum != "" {
		if err := readFacts(ctx, client, &state); err != nil {
			tflog.Warn(ctx, "installed helper returned no response; the next apply replaces it", map[string]any{
				"device": target.ID(), "error": err.Error(),
			})
			state.HelperVersion = types.StringValue("")
		}
	}
	if state.Arch.IsNull() || state.Arch.ValueString() == "" {
		machine, err := client.Machine(ctx)
		if err != nil {
			addDeviceError(&resp.Diagnostics, "read", target, err)
			return
		}
		state.Arch = types.StringValue(machine)
	}

	setIdentity(&state, target, client.HostKey())
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *deviceResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan deviceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}

	r.apply(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	// apply verified the host key that the plan pins.
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateRejectedHostKey, nil)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *deviceResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state deviceResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}

	target := targetFromModel(state, r.data.defaultUser)
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(&resp.Diagnostics, "destroy", target, err)
		return
	}

	// The uninstall runs in the helper, so a missing or altered helper is replaced first.
	if _, err := client.EnsureHelper(ctx); err != nil {
		addDeviceError(&resp.Diagnostics, "destroy", target, err)
		return
	}

	var result protocol.UninstallResult
	err = client.Call(ctx, protocol.OpUninstall, nil, &result)
	if errors.Is(err, protocol.ErrConflict) {
		resp.Diagnostics.AddError("Device Still In Use",
			fmt.Sprintf("The provider left its helper and state folder on %s: %s.\n\n"+
				"To leave everything on the device as it is instead, remove the device from state with "+
				"`terraform state rm`.", target, helperMessage(err)))
		return
	}
	if err != nil {
		addDeviceError(&resp.Diagnostics, "destroy", target, err)
		return
	}
	tflog.Info(ctx, "removed the helper and its state folder", map[string]any{
		"device": target.ID(), "state_dir": target.StateDir, "removed": result.Removed,
	})
}

func (r *deviceResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	// An ID may carry the host key to pin after the address, as ssh-keyscan prints it, so that a
	// device missing from known_hosts can be imported too.
	id, hostKey, _ := strings.Cut(strings.TrimSpace(req.ID), " ")
	user, host, port, err := parseDeviceID(id, r.data.defaultUser)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", err.Error())
		return
	}
	if hostKey = strings.TrimSpace(hostKey); hostKey != "" {
		if err := validateHostKey(hostKey); err != nil {
			resp.Diagnostics.AddError("Invalid Import ID", err.Error())
			return
		}
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host_key"), normalizedHostKey(hostKey))...)
	}

	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host"), host)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("port"), int64(port))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("user"), user)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("state_dir"), device.DefaultStateDir)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("lxc_path"), device.DefaultLXCPath)...)
}

// apply makes the device match plan: it installs the bundled helper when the device lacks it and
// fills the computed attributes that the plan left unknown.
func (r *deviceResource) apply(ctx context.Context, plan *deviceResourceModel, diags *diag.Diagnostics) {
	target := targetFromModel(*plan, r.data.defaultUser)
	client, err := r.data.pool.Get(ctx, target)
	if err != nil {
		addDeviceError(diags, "apply", target, err)
		return
	}

	status, err := client.EnsureHelper(ctx)
	if err != nil {
		addDeviceError(diags, "apply", target, err)
		return
	}
	tflog.Info(ctx, "helper is in place", map[string]any{
		"device": target.ID(), "helper_sha256": status.SHA256, "uploaded": status.Uploaded,
	})

	// Values known in the plan stay as planned, because Terraform rejects an apply whose result
	// differs from a known planned value, and a saved plan may be applied long after it was made.
	fresh := *plan
	if err := readFacts(ctx, client, &fresh); err != nil {
		addDeviceError(diags, "apply", target, err)
		return
	}
	fresh.HelperSHA256 = types.StringValue(status.SHA256)
	setIdentity(&fresh, target, client.HostKey())
	fillUnknown(plan, fresh)
}
