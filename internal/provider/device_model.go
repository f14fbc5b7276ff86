package provider

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/helperbin"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func (r *deviceResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan deviceResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var configUser types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("user"), &configUser)...)
	var state *deviceResourceModel
	if !req.State.Raw.IsNull() {
		state = &deviceResourceModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	if resp.Diagnostics.HasError() {
		return
	}

	// An unset user follows the provider's user, so changing that shows up here.
	if configUser.IsNull() {
		plan.User = types.StringValue(r.data.defaultUser)
	}
	if !plan.Host.IsUnknown() && !plan.Port.IsUnknown() && !plan.User.IsUnknown() {
		target := targetFromModel(plan, r.data.defaultUser)
		plan.ID = types.StringValue(target.ID())
	}

	if state != nil && plan.HostKey.Equal(state.HostKey) {
		rejected, diags := req.Private.GetKey(ctx, privateRejectedHostKey)
		resp.Diagnostics.Append(diags...)
		if message, err := strconv.Unquote(string(rejected)); err == nil && message != "" {
			resp.Diagnostics.AddAttributeError(path.Root("host_key"), "Host Key Verification Failed", message)
			return
		}
	}

	planTarget(&plan, state)
	if state != nil {
		planHelper(&plan, *state)
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// planTarget fills the target object when the plan determines it: a pinned host key
// fixes it, and an unpinned key keeps what the last read verified while the address stays.
func planTarget(plan, state *deviceResourceModel) {
	for _, v := range []interface{ IsUnknown() bool }{plan.Host, plan.Port, plan.User, plan.HostKey, plan.StateDir, plan.LXCPath} {
		if v.IsUnknown() {
			plan.Target = types.ObjectUnknown(targetAttrTypes)
			return
		}
	}
	if !plan.HostKey.IsNull() {
		target := targetFromModel(*plan, "")
		target.HostKey = normalizedHostKey(target.HostKey)
		arch := types.StringUnknown()
		if state != nil && !state.Arch.IsNull() && state.Arch.ValueString() != "" {
			arch = state.Arch
		}
		plan.Target = targetObject(target, arch)
		return
	}
	if state != nil && state.HostKey.IsNull() && !state.Target.IsNull() &&
		plan.Host.Equal(state.Host) && plan.Port.Equal(state.Port) && plan.User.Equal(state.User) &&
		plan.StateDir.Equal(state.StateDir) && plan.LXCPath.Equal(state.LXCPath) {
		plan.Target = state.Target
		return
	}
	plan.Target = types.ObjectUnknown(targetAttrTypes)
}

// planHelper plans an upload when the installed helper is not the one this provider bundles for
// the device's architecture. The facts are then left unknown, because the new helper reads them.
func planHelper(plan *deviceResourceModel, state deviceResourceModel) {
	plan.HelperSHA256 = state.HelperSHA256
	if state.Arch.ValueString() == "" {
		return
	}
	bundled, err := helperbin.ForMachine(state.Arch.ValueString())
	if err != nil || state.HelperSHA256.ValueString() == bundled.SHA256 {
		return
	}
	plan.HelperSHA256 = types.StringValue(bundled.SHA256)
	plan.HelperVersion = types.StringUnknown()
	plan.KernelRelease = types.StringUnknown()
	plan.LXCVersion = types.StringUnknown()
	plan.CgroupLayout = types.StringUnknown()
	plan.SeccompActions = types.ListUnknown(types.StringType)
	plan.AppArmor = types.BoolUnknown()
}

// targetFromModel builds the device target of a device resource; defaultUser fills an unset user.
func targetFromModel(m deviceResourceModel, defaultUser string) device.Target {
	t := device.Target{
		Host:     m.Host.ValueString(),
		Port:     int(m.Port.ValueInt64()),
		User:     m.User.ValueString(),
		HostKey:  m.HostKey.ValueString(),
		StateDir: m.StateDir.ValueString(),
		LXCPath:  m.LXCPath.ValueString(),
	}
	if t.Port == 0 {
		t.Port = device.DefaultPort
	}
	if t.User == "" {
		t.User = defaultUser
	}
	if t.StateDir == "" {
		t.StateDir = device.DefaultStateDir
	}
	if t.LXCPath == "" {
		t.LXCPath = device.DefaultLXCPath
	}
	return t
}

// setIdentity records the target's identity in m. verifiedKey is the host key that the
// connection verified; the target object pins it for other resources.
func setIdentity(m *deviceResourceModel, target device.Target, verifiedKey string) {
	m.ID = types.StringValue(target.ID())
	m.User = types.StringValue(target.User)
	m.Port = types.Int64Value(int64(target.Port))
	m.StateDir = types.StringValue(target.StateDir)
	m.LXCPath = types.StringValue(target.LXCPath)
	target.HostKey = normalizedHostKey(target.HostKey)
	if target.HostKey == "" {
		target.HostKey = verifiedKey
	}
	m.Target = targetObject(target, m.Arch)
}

// normalizedHostKey drops the comment or ssh-keyscan host field of a pinned key. The schema
// validator has parsed the key already, so an error cannot occur here; the text is kept if it does.
func normalizedHostKey(key string) string {
	if key == "" {
		return ""
	}
	normalized, err := device.NormalizeHostKey(key)
	if err != nil {
		return key
	}
	return normalized
}

// readFacts reads the helper version and the device facts from the helper and stores them in m.
// The two calls run at once, so that the device package sends them in one request.
func readFacts(ctx context.Context, client *device.Client, m *deviceResourceModel) error {
	var hello protocol.HelloResult
	var helloErr error
	var wg sync.WaitGroup
	wg.Go(func() { helloErr = client.Call(ctx, protocol.OpHello, nil, &hello) })
	var facts protocol.Facts
	factsErr := client.Call(ctx, protocol.OpFacts, nil, &facts)
	wg.Wait()
	if helloErr != nil {
		return fmt.Errorf("call helper: %w", helloErr)
	}
	if factsErr != nil {
		return fmt.Errorf("read device facts: %w", factsErr)
	}

	actions, diags := types.ListValueFrom(ctx, types.StringType, facts.SeccompActions)
	if diags.HasError() {
		return fmt.Errorf("store seccomp actions: %v", diags)
	}
	m.HelperVersion = types.StringValue(hello.HelperVersion)
	m.Arch = types.StringValue(facts.Arch)
	m.KernelRelease = types.StringValue(facts.KernelRelease)
	m.LXCVersion = types.StringValue(facts.LXCVersion)
	m.CgroupLayout = types.StringValue(facts.CgroupLayout)
	m.SeccompActions = actions
	m.AppArmor = types.BoolValue(facts.AppArmor)
	return nil
}

// fillUnknown copies into plan every value that the plan left unknown.
func fillUnknown(plan *deviceResourceModel, fresh deviceResourceModel) {
	pick := func(planned *types.String, value types.String) {
		if planned.IsUnknown() {
			*planned = value
		}
	}
	pick(&plan.ID, fresh.ID)
	pick(&plan.User, fresh.User)
	pick(&plan.Arch, fresh.Arch)
	pick(&plan.KernelRelease, fresh.KernelRelease)
	pick(&plan.LXCVersion, fresh.LXCVersion)
	pick(&plan.CgroupLayout, fresh.CgroupLayout)
	pick(&plan.HelperVersion, fresh.HelperVersion)
	pick(&plan.HelperSHA256, fresh.HelperSHA256)
	if plan.SeccompActions.IsUnknown() {
		plan.SeccompActions = fresh.SeccompActions
	}
	if plan.AppArmor.IsUnknown() {
		plan.AppArmor = fresh.AppArmor
	}
	if plan.Target.IsUnknown() || hasUnknownAttribute(plan.Target) {
		plan.Target = fresh.Target
	}
}

// hasUnknownAttribute reports whether a known object has an unknown attribute.
func hasUnknownAttribute(obj types.Object) bool {
	for _, value := range obj.Attributes() {
		if value.IsUnknown() {
			return true
		}
	}
	return false
}

// parseDeviceID parses an import ID of the form [user@]host[:port], with an IPv6 host in
// brackets when a port follows.
func parseDeviceID(id, defaultUser string) (user, host string, port int, err error) {
	const form = "use user@host:port, for example root@192.0.2.10:22 or root@[2001:db8::10]:22"
	user, address := defaultUser, id
	if at := strings.LastIndex(id, "@"); at >= 0 {
		user, address = id[:at], id[at+1:]
	}
	if err := validateUser(user); err != nil {
		return "", "", 0, fmt.Errorf("invalid import ID %q: %w", id, err)
	}

	host, port = address, device.DefaultPort
	if h, p, splitErr := net.SplitHostPort(address); splitErr == nil {
		n, convErr := strconv.Atoi(p)
		if convErr != nil || n < 1 || n > 65535 {
			return "", "", 0, fmt.Errorf("invalid import ID %q: port %q is not a number from 1 to 65535; %s", id, p, form)
		}
		host, port = h, n
	} else if strings.HasPrefix(address, "[") && strings.HasSuffix(address, "]") {
		host = strings.TrimSuffix(strings.TrimPrefix(address, "["), "]")
	}
	if err := validateHost(host); err != nil {
		return "", "", 0, fmt.Errorf("invalid import ID %q: %w; %s", id, err, form)
	}
	return user, host, port, nil
}

// configuredData extracts the provider data handed to a resource's Configure.
func configuredData(raw any, diags *diag.Diagnostics) *providerData {
	if raw == nil {
		return nil
	}
	data, ok := raw.(*providerData)
	if !ok {
		diags.AddError("Unexpected Provider Data",
			fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", raw))
		return nil
	}
	return data
}
