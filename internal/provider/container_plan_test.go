package provider

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
)

// testContainerState returns the state of a running busybox container with every default.
func testContainerState() containerResourceModel {
	target := device.Target{Host: "10.0.0.2", Port: 22, User: "root", StateDir: device.DefaultStateDir,
		LXCPath: device.DefaultLXCPath}
	return containerResourceModel{
		ID:        types.StringValue("root@10.0.0.2:22/web"),
		Device:    targetObject(target, types.StringValue("x86_64")),
		Name:      types.StringValue("web"),
		Running:   types.BoolValue(true),
		Autostart: types.BoolValue(false),
		Rootfs: types.ObjectValueMust(rootfsAttrTypes, map[string]attr.Value{
			"busybox": types.BoolValue(true), "tarball": types.StringNull(),
			"tarball_sha256": types.StringNull(), "sha256": types.StringNull(),
		}),
		Command:         types.ListNull(types.StringType),
		Environment:     types.MapNull(types.StringType),
		WorkingDir:      types.StringNull(),
		User:            types.Int64Value(0),
		Group:           types.Int64Value(0),
		Files:           types.ListNull(fileObjectType),
		Capabilities:    types.SetValueMust(types.StringType, nil),
		NoNewPrivs:      types.BoolValue(true),
		ReadOnlyRootfs:  types.BoolValue(true),
		MemoryLimit:     types.StringValue(defaultMemoryLimit),
		CPUWeight:       types.Int64Value(defaultCPUWeight),
		CPULimit:        types.StringNull(),
		PidsLimit:       types.Int64Value(defaultPidsLimit),
		IdmapSize:       types.Int64Value(defaultIdmapSize),
		SeccompProfile:  types.StringNull(),
		AppArmorProfile: types.StringNull(),
		Networks:        types.ListValueMust(networkObjectType, []attr.Value{}),
		ResolvConf:      types.StringNull(),
		State:           types.StringValue(stateRunning),
		InitPID:         types.Int64Value(4242),
		HostUIDStart:    types.Int64Value(100000),
		HostGIDStart:    types.Int64Value(100000),
		ConfigSHA256:    types.StringValue("c0ffee"),
		RootfsBytes:     types.Int64Value(4096),
		ImageSHA256:     types.StringValue(""),
	}
}

func testFiles(t *testing.T, files ...fileModel) types.List {
	t.Helper()
	list, diags := types.ListValueFrom(context.Background(), fileObjectType, files)
	if diags.HasError() {
		t.Fatalf("build files: %v", diags)
	}
	return list
}

func testFile(p, content string) fileModel {
	return fileModel{
		Path: types.StringValue(p), Content: types.StringValue(content), Source: types.StringNull(),
		Mode: types.StringValue("0644"), UID: types.Int64Value(0), GID: types.Int64Value(0),
		SHA256: types.StringValue(sha256Hex([]byte(content))),
	}
}

func changedNames(changes containerChanges) []string {
	names := []string{}
	for _, attribute := range changes.changed {
		names = append(names, attribute.name)
	}
	return names
}

func TestPlanUpdateNoChange(t *testing.T) {
	state := testContainerState()
	plan := state
	changes := planUpdate(&plan, state, false)
	if len(changes.changed) != 0 || len(changes.restarts) != 0 {
		t.Errorf("planUpdate of an unchanged container changed %v and restarts %v, want nothing", changedNames(changes), changes.restarts)
	}
	for name, pair := range map[string][2]attr.Value{
		"state":          {plan.State, state.State},
		"init_pid":       {plan.InitPID, state.InitPID},
		"config_sha256":  {plan.ConfigSHA256, state.ConfigSHA256},
		"host_uid_start": {plan.HostUIDStart, state.HostUIDStart},
		"rootfs_bytes":   {plan.RootfsBytes, state.RootfsBytes},
	} {
		if !pair[0].Equal(pair[1]) {
			t.Errorf("planned %s = %s, want the state's %s", name, pair[0], pair[1])
		}
	}
}

func TestPlanUpdateRestart(t *testing.T) {
	state := testContainerState()
	plan := state
	plan.MemoryLimit = types.StringValue("96MiB")
	plan.Capabilities = types.SetValueMust(types.StringType, []attr.Value{types.StringValue("net_bind_service")})

	changes := planUpdate(&plan, state, false)
	if want := []string{"capabilities"}; !slices.Equal(changes.restarts, want) {
		t.Errorf("restarts = %v, want %v", changes.restarts, want)
	}
	if !plan.InitPID.IsUnknown() {
		t.Errorf("planned init_pid = %s, want unknown because the container restarts", plan.InitPID)
	}
	if !plan.ConfigSHA256.IsUnknown() {
		t.Errorf("planned config_sha256 = %s, want unknown", plan.ConfigSHA256)
	}
	if plan.HostUIDStart.IsUnknown() || plan.State.ValueString() != stateRunning {
		t.Errorf("planned host_uid_start = %s and state = %s, want the state's values", plan.HostUIDStart, plan.State)
	}
}

func TestPlanUpdateLiveLimits(t *testing.T) {
	state := testContainerState()
	plan := state
	plan.MemoryLimit = types.StringValue("96MiB")
	plan.PidsLimit = types.Int64Value(64)

	changes := planUpdate(&plan, state, false)
	if len(changes.restarts) != 0 {
		t.Errorf("restarts = %v, want none: the helper writes limits into the running container", changes.restarts)
	}
	if !plan.InitPID.IsUnknown() {
		t.Errorf("planned init_pid = %s, want unknown: a limit the kernel rejects live restarts the container", plan.InitPID)
	}
	if !plan.ConfigSHA256.IsUnknown() {
		t.Errorf("planned config_sha256 = %s, want unknown", plan.ConfigSHA256)
	}
}

func TestPlanUpdateImageFiles(t *testing.T) {
	state := testContainerState()
	state.ImageSHA256 = types.StringValue("aa")
	state.Files = testFiles(t, testFile("/etc/a", "1"))

	changedContent := state
	changedContent.Files = testFiles(t, testFile("/etc/a", "2"))
	if changes := planUpdate(&changedContent, state, false); len(changes.restarts) != 0 {
		t.Errorf("new content of a bind-mounted file restarts %v, want no restart", changes.restarts)
	}

	added := state
	added.Files = testFiles(t, testFile("/etc/a", "1"), testFile("/etc/b", "1"))
	if changes := planUpdate(&added, state, false); !slices.Equal(changes.restarts, []string{"files"}) {
		t.Errorf("a new file on an image restarts %v, want [files]", changes.restarts)
	}

	busybox := testContainerState()
	busybox.Files = state.Files
	busyboxAdded := busybox
	busyboxAdded.Files = added.Files
	if changes := planUpdate(&busyboxAdded, busybox, false); len(changes.restarts) != 0 {
		t.Errorf("a new file in a busybox rootfs restarts %v, want no restart", changes.restarts)
	}
}

func TestPlanUpdateRespelledValues(t *testing.T) {
	state := testContainerState()
	state.Capabilities = types.SetValueMust(types.StringType, []attr.Value{types.StringValue("chown")})
	state.MemoryLimit = types.StringValue("1024MiB")
	state.CPULimit = types.StringValue("0.5")
	plan := state
	plan.Capabilities = types.SetValueMust(types.StringType, []attr.Value{types.StringValue("CAP_CHOWN")})
	plan.MemoryLimit = types.StringValue("1G")
	plan.CPULimit = types.StringValue("0.500")
	plan.Command = types.ListValueMust(types.StringType, []attr.Value{})

	changes := planUpdate(&plan, state, false)
	if len(changes.changed) != 0 {
		t.Errorf("respelled values changed %v, want nothing", changedNames(changes))
	}
	if plan.InitPID.IsUnknown() || plan.ConfigSHA256.IsUnknown() {
		t.Errorf("planned init_pid = %s, config_sha256 = %s; want both known", plan.InitPID, plan.ConfigSHA256)
	}
}

func TestPlanUpdateInPlace(t *testing.T) {
	tests := []struct {
		name          string
		change        func(*containerResourceModel)
		configChanges bool
	}{
		{"files", func(m *containerResourceModel) { m.Files = testFiles(t, testFile("/etc/app.conf", "x=1\n")) }, false},
		{"autostart", func(m *containerResourceModel) { m.Autostart = types.BoolValue(true) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := testContainerState()
			plan := state
			tt.change(&plan)
			changes := planUpdate(&plan, state, false)
			if !slices.Equal(changedNames(changes), []string{tt.name}) {
				t.Errorf("changed = %v, want [%s]", changedNames(changes), tt.name)
			}
			if len(changes.restarts) != 0 {
				t.Errorf("restarts = %v, want none", changes.restarts)
			}
			if !plan.InitPID.Equal(state.InitPID) {
				t.Errorf("planned init_pid = %s, want the state's %s", plan.InitPID, state.InitPID)
			}
			if plan.ConfigSHA256.IsUnknown() != tt.configChanges {
				t.Errorf("planned config_sha256 unknown = %v, want %v", plan.ConfigSHA256.IsUnknown(), tt.configChanges)
			}
		})
	}
}

func TestPlanUpdateStartsStoppedContainer(t *testing.T) {
	state := testContainerState()
	state.Running = types.BoolValue(false)
	state.State = types.StringValue(stateStopped)
	state.InitPID = types.Int64Value(0)
	plan := state
	plan.Running = types.BoolValue(true)
	plan.MemoryLimit = types.StringValue("64MiB")

	changes := planUpdate(&plan, state, false)
	if len(changes.restarts) != 0 {
		t.Errorf("restarts = %v, want none: a stopped container starts with the change", changes.restarts)
	}
	if !plan.InitPID.IsUnknown() || plan.State.ValueString() != stateRunning {
		t.Errorf("planned init_pid = %s, state = %s; want unknown and RUNNING", plan.InitPID, plan.State)
	}
}

func TestPlanUpdateStop(t *testing.T) {
	state := testContainerState()
	plan := state
	plan.Running = types.BoolValue(false)
	plan.PidsLimit = types.Int64Value(64)

	changes := planUpdate(&plan, state, false)
	if len(changes.restarts) != 0 {
		t.Errorf("restarts = %v, want none: the container stops", changes.restarts)
	}
	if plan.InitPID.ValueInt64() != 0 || plan.InitPID.IsUnknown() || plan.State.ValueString() != stateStopped {
		t.Errorf("planned init_pid = %s, state = %s; want 0 and STOPPED", plan.InitPID, plan.State)
	}
}

func TestPlanUpdateConfigDrift(t *testing.T) {
	state := testContainerState()
	plan := state
	changes := planUpdate(&plan, state, true)
	if !slices.Equal(changes.restarts, []string{"config_sha256"}) {
		t.Errorf("restarts = %v, want [config_sha256]", changes.restarts)
	}
	if !plan.ConfigSHA256.IsUnknown() || !plan.InitPID.IsUnknown() {
		t.Errorf("planned config_sha256 = %s, init_pid = %s; want both unknown", plan.ConfigSHA256, plan.InitPID)
	}
}

func TestPlanUpdateIdmapSize(t *testing.T) {
	state := testContainerState()
	plan := state
	plan.IdmapSize = types.Int64Value(1000)
	planUpdate(&plan, state, false)
	if !plan.HostUIDStart.IsUnknown() || !plan.HostGIDStart.IsUnknown() {
		t.Errorf("planned host_uid_start = %s, host_gid_start = %s; want unknown after an idmap change",
			plan.HostUIDStart, plan.HostGIDStart)
	}
}

func TestPlanUpdateUnknownCommand(t *testing.T) {
	state := testContainerState()
	plan := state
	plan.Command = types.ListUnknown(types.StringType)
	changes := planUpdate(&plan, state, false)
	if !slices.Equal(changes.restarts, []string{"command"}) {
		t.Errorf("restarts = %v, want [command] because the new command is not known yet", changes.restarts)
	}
}

func TestPlanCreate(t *testing.T) {
	plan := testContainerState()
	planCreate(&plan)
	if plan.State.ValueString() != stateRunning || !plan.InitPID.IsUnknown() || !plan.HostUIDStart.IsUnknown() ||
		!plan.ConfigSHA256.IsUnknown() || !plan.RootfsBytes.IsUnknown() {
		t.Errorf("planCreate(running) = state %s, init_pid %s, host_uid_start %s, config_sha256 %s, rootfs_bytes %s; "+
			"want RUNNING and the rest unknown", plan.State, plan.InitPID, plan.HostUIDStart, plan.ConfigSHA256, plan.RootfsBytes)
	}

	stopped := testContainerState()
	stopped.Running = types.BoolValue(false)
	planCreate(&stopped)
	if stopped.State.ValueString() != stateStopped || stopped.InitPID.IsUnknown() || stopped.InitPID.ValueInt64() != 0 {
		t.Errorf("planCreate(stopped) = state %s, init_pid %s; want STOPPED and 0", stopped.State, stopped.InitPID)
	}
}

func TestRootfsReplacement(t *testing.T) {
	ctx := context.Background()
	image := func(sum string) types.Object {
		return types.ObjectValueMust(rootfsAttrTypes, map[string]attr.Value{
			"busybox": types.BoolNull(), "tarball": types.StringValue("rootfs.tar.gz"),
			"tarball_sha256": types.StringNull(), "sha256": types.StringValue(sum),
		})
	}
	busybox := testContainerState()
	fromImage := testContainerState()
	fromImage.Rootfs, fromImage.ImageSHA256 = image("aa"), types.StringValue("aa")
	otherImage := testContainerState()
	otherImage.Rootfs, otherImage.ImageSHA256 = image("bb"), types.StringValue("bb")

	tests := []struct {
		name        string
		plan, state containerResourceModel
		want        []path.Path
	}{
		{"same busybox", busybox, busybox, nil},
		{"same image", fromImage, fromImage, nil},
		{"busybox to image", fromImage, busybox, []path.Path{path.Root("rootfs")}},
		{"image to busybox", busybox, fromImage, []path.Path{path.Root("rootfs")}},
		{"new image", otherImage, fromImage, []path.Path{path.Root("rootfs").AtName("sha256")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rootfsReplacement(ctx, tt.plan, tt.state)
			if !slices.EqualFunc(got, tt.want, func(a, b path.Path) bool { return a.Equal(b) }) {
				t.Errorf("rootfsReplacement = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestReplacedByAttribute(t *testing.T) {
	state := testContainerState()
	if replacedByAttribute(state, state) {
		t.Error("replacedByAttribute(state, state) = true, want false")
	}

	renamed := state
	renamed.Name = types.StringValue("api")
	if !replacedByAttribute(renamed, state) {
		t.Error("a new name does not replace the container")
	}

	moved := state
	moved.Device = targetObject(device.Target{Host: "10.0.0.3", Port: 22, User: "root",
		StateDir: device.DefaultStateDir, LXCPath: device.DefaultLXCPath}, types.StringValue("x86_64"))
	if !replacedByAttribute(moved, state) {
		t.Error("a new device host does not replace the container")
	}

	newUser := state
	newUser.Device = targetObject(device.Target{Host: "10.0.0.2", Port: 22, User: "ops",
		StateDir: device.DefaultStateDir, LXCPath: device.DefaultLXCPath}, types.StringValue("x86_64"))
	if replacedByAttribute(newUser, state) {
		t.Error("a new device user replaces the container, want an update in place")
	}
}

func TestPlanFilesComputesHashes(t *testing.T) {
	plan := testContainerState()
	first, second := testFile("/etc/a", "1"), testFile("/etc/b", "2")
	first.SHA256, second.SHA256 = types.StringUnknown(), types.StringUnknown()
	plan.Files = testFiles(t, first, second)

	var diags diag.Diagnostics
	planFiles(context.Background(), &plan, &diags)
	if diags.HasError() {
		t.Fatalf("planFiles: %v", diags)
	}
	files, _ := plan.files(context.Background())
	for i, want := range []string{"1", "2"} {
		if got := files[i].SHA256.ValueString(); got != sha256Hex([]byte(want)) {
			t.Errorf("files[%d].sha256 = %s, want the SHA-256 of %q", i, got, want)
		}
	}
}

func TestPlanFilesTooLarge(t *testing.T) {
	plan := testContainerState()
	half := strings.Repeat("x", maxFilesBytes/2+1)
	plan.Files = testFiles(t, testFile("/etc/a", half), testFile("/etc/b", half))

	var diags diag.Diagnostics
	planFiles(context.Background(), &plan, &diags)
	if !diags.HasError() || diags[0].Summary() != "Files Too Large" {
		t.Errorf("planFiles with %d bytes = %v, want a Files Too Large error", 2*len(half), diags)
	}
}
