package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// testObserved returns what the helper reports for the container of testContainerState.
func testObserved(t *testing.T, m containerResourceModel) protocol.ContainerState {
	t.Helper()
	files, diags := m.files(context.Background())
	if diags.HasError() {
		t.Fatalf("files: %v", diags)
	}
	contents, err := fileContents(files)
	if err != nil {
		t.Fatalf("fileContents: %v", err)
	}
	spec, diags := containerSpec(context.Background(), m, contents)
	if diags.HasError() {
		t.Fatalf("containerSpec: %v", diags)
	}
	nics := []protocol.ContainerNICState{}
	for _, nic := range spec.Networks {
		nics = append(nics, protocol.ContainerNICState{
			Network: nic.Network, IPv4Address: nic.IPv4Address, ObservedIPv4Addresses: []string{nic.IPv4Address},
		})
	}
	return protocol.ContainerState{
		Name: spec.Name, State: stateRunning, InitPID: 4242, HostUIDStart: 100000, HostGIDStart: 100000,
		IdmapSize: spec.IdmapSize, ConfigSHA256: "c0ffee", AppliedConfigSHA256: "c0ffee", RootfsBytes: 4096, Spec: spec,
		Networks: nics,
	}
}

func TestContainerSpec(t *testing.T) {
	m := testContainerState()
	m.Capabilities = types.SetValueMust(types.StringType, []attr.Value{
		types.StringValue("CAP_NET_BIND_SERVICE"), types.StringValue("chown"),
	})
	m.MemoryLimit = types.StringValue("64M")
	m.CPULimit = types.StringValue("0.5")
	m.Command = types.ListValueMust(types.StringType, []attr.Value{types.StringValue("/bin/sh"), types.StringValue("-c")})

	spec, diags := containerSpec(context.Background(), m, nil)
	if diags.HasError() {
		t.Fatalf("containerSpec: %v", diags)
	}
	if want := []string{"chown", "net_bind_service"}; !slices.Equal(spec.Capabilities, want) {
		t.Errorf("capabilities = %v, want %v", spec.Capabilities, want)
	}
	want := protocol.Limits{MemoryBytes: 64 << 20, CPUWeight: 100, CPUQuotaMicros: 50_000, CPUPeriodMicros: 100_000, Pids: 128}
	if spec.Limits != want {
		t.Errorf("limits = %+v, want %+v", spec.Limits, want)
	}
	if spec.Rootfs != protocol.RootfsBusybox || spec.ImageSHA256 != "" {
		t.Errorf("rootfs = %q with image %q, want busybox without image", spec.Rootfs, spec.ImageSHA256)
	}
	if !spec.Running || !spec.NoNewPrivs || !spec.ReadOnlyRootfs || spec.IdmapSize != 65536 {
		t.Errorf("spec = %+v, want running, no_new_privs, read-only rootfs and idmap 65536", spec)
	}
	if !slices.Equal(spec.Command, []string{"/bin/sh", "-c"}) {
		t.Errorf("command = %q, want [/bin/sh -c]", spec.Command)
	}
}

func TestContainerSpecEmptyCapabilities(t *testing.T) {
	spec, diags := containerSpec(context.Background(), testContainerState(), nil)
	if diags.HasError() {
		t.Fatalf("containerSpec: %v", diags)
	}
	if spec.Capabilities == nil || len(spec.Capabilities) != 0 {
		t.Errorf("capabilities = %#v, want an empty, non-nil list so that every capability is dropped", spec.Capabilities)
	}
}

func TestMergeObservedKeepsSpelling(t *testing.T) {
	state := testContainerState()
	state.Capabilities = types.SetValueMust(types.StringType, []attr.Value{types.StringValue("CAP_CHOWN")})
	state.MemoryLimit = types.StringValue("1G")
	state.Files = testFiles(t, testFile("/etc/app.conf", "x=1\n"))
	observed := testObserved(t, state)

	merged := state
	mergeObserved(&merged, observed)
	for name, pair := range map[string][2]attr.Value{
		"capabilities": {merged.Capabilities, state.Capabilities},
		"memory_limit": {merged.MemoryLimit, state.MemoryLimit},
		"files":        {merged.Files, state.Files},
		"command":      {merged.Command, state.Command},
		"running":      {merged.Running, state.Running},
		"init_pid":     {merged.InitPID, state.InitPID},
	} {
		if !pair[0].Equal(pair[1]) {
			t.Errorf("merged %s = %s, want the state's %s", name, pair[0], pair[1])
		}
	}
}

func TestMergeObservedDrift(t *testing.T) {
	state := testContainerState()
	observed := testObserved(t, state)
	observed.State, observed.InitPID = stateStopped, -1
	observed.Spec.Limits.MemoryBytes = 2 << 30
	observed.Spec.Capabilities = []string{"sys_admin"}
	observed.Spec.Files = []protocol.File{{Path: "/etc/x", Content: []byte("planted"), Mode: 0o4755}}

	merged := state
	mergeObserved(&merged, observed)
	if merged.Running.ValueBool() || merged.State.ValueString() != stateStopped || merged.InitPID.ValueInt64() != 0 {
		t.Errorf("merged running = %s, state = %s, init_pid = %s; want false, STOPPED, 0", merged.Running, merged.State, merged.InitPID)
	}
	if merged.MemoryLimit.ValueString() != "2GiB" {
		t.Errorf("merged memory_limit = %s, want 2GiB", merged.MemoryLimit)
	}
	if want := types.SetValueMust(types.StringType, []attr.Value{types.StringValue("sys_admin")}); !merged.Capabilities.Equal(want) {
		t.Errorf("merged capabilities = %s, want %s", merged.Capabilities, want)
	}
	files, _ := merged.files(context.Background())
	if len(files) != 1 || files[0].Mode.ValueString() != "4755" || files[0].SHA256.ValueString() != sha256Hex([]byte("planted")) {
		t.Errorf("merged files = %+v, want the planted file with mode 4755", files)
	}
}

func TestMergeObservedImport(t *testing.T) {
	full := testContainerState()
	full.CPULimit = types.StringValue("0.25")
	full.Environment = types.MapValueMust(types.StringType, map[string]attr.Value{"A": types.StringValue("1")})
	observed := testObserved(t, full)

	// ImportState sets only device, name and id.
	imported := containerResourceModel{
		ID: full.ID, Device: full.Device, Name: full.Name,
		Rootfs: types.ObjectNull(rootfsAttrTypes), Command: types.ListNull(types.StringType),
		Environment: types.MapNull(types.StringType), Files: types.ListNull(fileObjectType),
		Capabilities: types.SetNull(types.StringType),
	}
	mergeObserved(&imported, observed)
	for name, pair := range map[string][2]attr.Value{
		"rootfs":       {imported.Rootfs, full.Rootfs},
		"running":      {imported.Running, full.Running},
		"capabilities": {imported.Capabilities, full.Capabilities},
		"memory_limit": {imported.MemoryLimit, full.MemoryLimit},
		"cpu_limit":    {imported.CPULimit, full.CPULimit},
		"environment":  {imported.Environment, full.Environment},
		"pids_limit":   {imported.PidsLimit, full.PidsLimit},
		"idmap_size":   {imported.IdmapSize, full.IdmapSize},
		"no_new_privs": {imported.NoNewPrivs, full.NoNewPrivs},
		"working_dir":  {imported.WorkingDir, full.WorkingDir},
	} {
		if !pair[0].Equal(pair[1]) {
			t.Errorf("imported %s = %s, want %s", name, pair[0], pair[1])
		}
	}
}

func TestSettleApplied(t *testing.T) {
	planned := testContainerState()
	planned.InitPID = types.Int64Unknown()
	planned.RootfsBytes = types.Int64Unknown()
	observed := testObserved(t, planned)
	observed.InitPID, observed.RootfsBytes = 5151, 8192

	var diags diag.Diagnostics
	result := planned
	settleApplied(&result, observed, &diags)
	if diags.HasError() {
		t.Fatalf("settleApplied reported %v for a result that matches the plan", diags)
	}
	if result.InitPID.ValueInt64() != 5151 || result.RootfsBytes.ValueInt64() != 8192 {
		t.Errorf("init_pid = %s, rootfs_bytes = %s; want 5151 and 8192", result.InitPID, result.RootfsBytes)
	}
}

func TestSettleAppliedReportsMismatch(t *testing.T) {
	planned := testContainerState()
	observed := testObserved(t, planned)
	observed.InitPID = 5151

	var diags diag.Diagnostics
	result := planned
	settleApplied(&result, observed, &diags)
	if !diags.HasError() || diags[0].Summary() != "Unexpected Container State" {
		t.Fatalf("settleApplied = %v, want an Unexpected Container State error", diags)
	}
	if !strings.Contains(diags[0].Detail(), "init_pid is 5151, the plan had 4242") {
		t.Errorf("detail %q does not name the init_pid mismatch", diags[0].Detail())
	}
	if result.InitPID.ValueInt64() != 5151 {
		t.Errorf("init_pid = %s, want the device's 5151 in state", result.InitPID)
	}
}

func TestSettleAppliedContainerDidNotStart(t *testing.T) {
	planned := testContainerState()
	planned.InitPID = types.Int64Unknown()
	observed := testObserved(t, planned)
	observed.State, observed.InitPID = stateStopped, -1

	var diags diag.Diagnostics
	settleApplied(&planned, observed, &diags)
	if !diags.HasError() || diags[0].Summary() != "Container Did Not Start" {
		t.Fatalf("settleApplied = %v, want a Container Did Not Start error", diags)
	}
}

func TestHelperErrorPath(t *testing.T) {
	files := []string{"/etc/a", "/etc/b c"}
	tests := map[string]path.Path{
		`container "web": invalid memory_bytes 1024: use at least 4194304 (4 MiB), or 0 for no limit`:    path.Root("memory_limit"),
		`container "web": invalid limit pids -1: use 0 for no limit or a positive value`:                 path.Root("pids_limit"),
		`container "web": cpu_period_us is set without cpu_quota_us; set both or neither`:                path.Root("cpu_limit"),
		`container "web": invalid user 70000: use an ID from 0 to 65535, the container's mapped IDs`:     path.Root("user"),
		`container "web": command[0] is empty; name the program to run`:                                  path.Root("command").AtListIndex(0),
		`container "web": invalid environment variable name "A-B": use letters`:                          path.Root("environment"),
		`container "web": capability "bpf" is not known to this kernel`:                                  path.Root("capabilities"),
		`container "web": seccomp_profile /x is not a file on the device; create the profile first`:      path.Root("seccomp_profile"),
		`container "web": file "/etc/b c": paths of files in an image rootfs cannot contain white space`: path.Root("files").AtListIndex(1),
		`file "/etc/a" is below /dev, which the helper mounts over the rootfs; choose another path`:      path.Root("files").AtListIndex(0),
		`file "/etc/unknown" is listed twice`:                                                            path.Root("files"),
		`container "web": resolv_conf: file "/etc/resolv.conf": an image rootfs is read-only`:            path.Root("resolv_conf"),
		`container "web": networks[1]: invalid network name "X"`:                                         path.Root("network").AtListIndex(1).AtName("name"),
		`networks[0]: ipv4_address 10.80.0.1 of container "web" is the gateway of network "lan0"`:        path.Root("network").AtListIndex(0).AtName("ipv4_address"),
		`networks[2]: network "wan9" does not exist on the device; create it with an iotfleet_network`:   path.Root("network").AtListIndex(2).AtName("name"),
		"limits.memory_bytes is below the limit":                                                         path.Root("memory_limit"),
		"invalid idmap_size 0: use 1 to 1048576":                                                         path.Root("idmap_size"),
	}
	for message, want := range tests {
		got, ok := helperErrorPath(message, files)
		if !ok || !got.Equal(want) {
			t.Errorf("helperErrorPath(%q) = %s, %v; want %s", message, got, ok, want)
		}
	}
	for _, message := range []string{
		"lxc-start failed", `container "web" is locked`, "invalid request", `container "web": an image rootfs is shared`,
	} {
		if got, ok := helperErrorPath(message, files); ok {
			t.Errorf("helperErrorPath(%q) = %s, want no attribute", message, got)
		}
	}
}

func TestAddContainerErrorAttachesAttribute(t *testing.T) {
	target := device.Target{Host: "10.0.0.2", Port: 22, User: "root"}
	helperErr := protocol.Errorf(protocol.CodeInvalid, "invalid limits.pids -1: use 0 or more")
	var diags diag.Diagnostics
	addContainerError(&diags, "apply", target, fmt.Errorf("helper operation: %w", helperErr), nil)

	if len(diags) != 1 {
		t.Fatalf("addContainerError added %d diagnostics, want 1", len(diags))
	}
	withPath, ok := diags[0].(diag.DiagnosticWithPath)
	if !ok || !withPath.Path().Equal(path.Root("pids_limit")) {
		t.Errorf("diagnostic %v is not attached to pids_limit", diags[0])
	}
	if diags[0].Summary() != "Helper Error" || !strings.Contains(diags[0].Detail(), "invalid limits.pids -1") {
		t.Errorf("diagnostic = %q: %q, want addDeviceError's Helper Error wording", diags[0].Summary(), diags[0].Detail())
	}
}

func TestAddContainerErrorAttachesNICConflict(t *testing.T) {
	target := device.Target{Host: "10.0.0.2", Port: 22, User: "root"}
	helperErr := protocol.Errorf(protocol.CodeConflict,
		`networks[1]: ipv4_address 10.80.0.5 on network "lan0" already belongs to container "db"`)
	var diags diag.Diagnostics
	addContainerError(&diags, "apply", target, helperErr, nil)

	withPath, ok := diags[0].(diag.DiagnosticWithPath)
	if !ok || !withPath.Path().Equal(path.Root("network").AtListIndex(1).AtName("ipv4_address")) {
		t.Errorf("diagnostic %v is not attached to network[1].ipv4_address", diags[0])
	}
	if detail := diags[0].Detail(); strings.Contains(detail, "networks[1]") || !strings.Contains(detail, "already belongs") {
		t.Errorf("detail = %q, want the helper's message without the spec field", detail)
	}
}

func TestAddContainerErrorKeepsOtherErrors(t *testing.T) {
	target := device.Target{Host: "10.0.0.2", Port: 22, User: "root"}
	var diags diag.Diagnostics
	addContainerError(&diags, "apply", target, protocol.Errorf(protocol.CodeInternal, "invalid limits.pids"), nil)
	if _, ok := diags[0].(diag.DiagnosticWithPath); ok {
		t.Errorf("an internal helper error was attached to an attribute: %v", diags[0])
	}
}
