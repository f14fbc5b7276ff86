package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// LXC state names that the helper reports and that the plan predicts.
const (
	stateRunning = "RUNNING"
	stateStopped = "STOPPED"
)

// containerResourceModel is the state of an iotfleet_container.
type containerResourceModel struct {
	ID        types.String `tfsdk:"id"`
	Device    types.Object `tfsdk:"device"`
	Name      types.String `tfsdk:"name"`
	Running   types.Bool   `tfsdk:"running"`
	Autostart types.Bool   `tfsdk:"autostart"`
	Rootfs    types.Object `tfsdk:"rootfs"`

	Command     types.List   `tfsdk:"command"`
	Environment types.Map    `tfsdk:"environment"`
	WorkingDir  types.String `tfsdk:"working_dir"`
	User        types.Int64  `tfsdk:"user"`
	Group       types.Int64  `tfsdk:"group"`
	Files       types.List   `tfsdk:"files"`

	Capabilities    types.Set    `tfsdk:"capabilities"`
	NoNewPrivs      types.Bool   `tfsdk:"no_new_privs"`
	ReadOnlyRootfs  types.Bool   `tfsdk:"read_only_rootfs"`
	MemoryLimit     types.String `tfsdk:"memory_limit"`
	CPUWeight       types.Int64  `tfsdk:"cpu_weight"`
	CPULimit        types.String `tfsdk:"cpu_limit"`
	PidsLimit       types.Int64  `tfsdk:"pids_limit"`
	IdmapSize       types.Int64  `tfsdk:"idmap_size"`
	SeccompProfile  types.String `tfsdk:"seccomp_profile"`
	AppArmorProfile types.String `tfsdk:"apparmor_profile"`

	Networks   types.List   `tfsdk:"network"`
	ResolvConf types.String `tfsdk:"resolv_conf"`

	State        types.String `tfsdk:"state"`
	InitPID      types.Int64  `tfsdk:"init_pid"`
	HostUIDStart types.Int64  `tfsdk:"host_uid_start"`
	HostGIDStart types.Int64  `tfsdk:"host_gid_start"`
	ConfigSHA256 types.String `tfsdk:"config_sha256"`
	RootfsBytes  types.Int64  `tfsdk:"rootfs_bytes"`
	ImageSHA256  types.String `tfsdk:"image_sha256"`

	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

// rootfsModel is the rootfs attribute of an iotfleet_container.
type rootfsModel struct {
	Busybox       types.Bool   `tfsdk:"busybox"`
	Tarball       types.String `tfsdk:"tarball"`
	TarballSHA256 types.String `tfsdk:"tarball_sha256"`
	SHA256        types.String `tfsdk:"sha256"`
}

var rootfsAttrTypes = map[string]attr.Type{
	"busybox":        types.BoolType,
	"tarball":        types.StringType,
	"tarball_sha256": types.StringType,
	"sha256":         types.StringType,
}

// fileModel is one element of the files attribute of an iotfleet_container.
type fileModel struct {
	Path    types.String `tfsdk:"path"`
	Content types.String `tfsdk:"content"`
	Source  types.String `tfsdk:"source"`
	Mode    types.String `tfsdk:"mode"`
	UID     types.Int64  `tfsdk:"uid"`
	GID     types.Int64  `tfsdk:"gid"`
	SHA256  types.String `tfsdk:"sha256"`
}

var fileAttrTypes = map[string]attr.Type{
	"path":    types.StringType,
	"content": types.StringType,
	"source":  types.StringType,
	"mode":    types.StringType,
	"uid":     types.Int64Type,
	"gid":     types.Int64Type,
	"sha256":  types.StringType,
}

var fileObjectType = types.ObjectType{AttrTypes: fileAttrTypes}

// containerTarget returns the device of a container, with the provider's user when the
// configuration sets none.
func containerTarget(ctx context.Context, m containerResourceModel, defaultUser string) (device.Target, diag.Diagnostics) {
	target, diags := targetFromObject(ctx, m.Device)
	if target.User == "" {
		target.User = defaultUser
	}
	return target, diags
}

// containerID returns the ID of a container: its device's ID and its name.
func containerID(target device.Target, name string) string {
	return target.ID() + "/" + name
}

func (m containerResourceModel) rootfs(ctx context.Context) (rootfsModel, diag.Diagnostics) {
	var rootfs rootfsModel
	if m.Rootfs.IsNull() || m.Rootfs.IsUnknown() {
		return rootfsModel{
			Busybox: types.BoolUnknown(), Tarball: types.StringUnknown(),
			TarballSHA256: types.StringUnknown(), SHA256: types.StringUnknown(),
		}, nil
	}
	diags := m.Rootfs.As(ctx, &rootfs, basetypes.ObjectAsOptions{})
	return rootfs, diags
}

func (m containerResourceModel) files(ctx context.Context) ([]fileModel, diag.Diagnostics) {
	var files []fileModel
	if m.Files.IsNull() || m.Files.IsUnknown() || hasUnknown(m.Files.Elements()) {
		return nil, nil
	}
	diags := m.Files.ElementsAs(ctx, &files, false)
	return files, diags
}

// usesBusybox reports whether a rootfs selects the device's busybox rather than a tarball.
func (r rootfsModel) usesBusybox() bool {
	return r.Busybox.ValueBool() && r.Tarball.IsNull()
}

// containerSpec converts a fully known plan into the helper's spec. File contents come from
// fileContents, because reading local files belongs to apply.
func containerSpec(ctx context.Context, m containerResourceModel,
	files []protocol.File) (protocol.ContainerSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	rootfs, d := m.rootfs(ctx)
	diags.Append(d...)
	spec := protocol.ContainerSpec{
		Name:            m.Name.ValueString(),
		Rootfs:          protocol.RootfsBusybox,
		Running:         m.Running.ValueBool(),
		Autostart:       m.Autostart.ValueBool(),
		Command:         stringList(m.Command),
		Environment:     stringMap(m.Environment),
		WorkingDir:      m.WorkingDir.ValueString(),
		User:            int(m.User.ValueInt64()),
		Group:           int(m.Group.ValueInt64()),
		Files:           sortedFiles(files),
		NoNewPrivs:      m.NoNewPrivs.ValueBool(),
		ReadOnlyRootfs:  m.ReadOnlyRootfs.ValueBool(),
		IdmapSize:       int(m.IdmapSize.ValueInt64()),
		SeccompProfile:  m.SeccompProfile.ValueString(),
		AppArmorProfile: m.AppArmorProfile.ValueString(),
		ResolvConf:      m.ResolvConf.ValueString(),
	}
	spec.Networks = containerNICs(m)
	if !rootfs.usesBusybox() {
		spec.Rootfs = protocol.RootfsImage
		spec.ImageSHA256 = rootfs.SHA256.ValueString()
	}

	capabilities, err := normalizedCapabilities(m.Capabilities)
	if err != nil {
		diags.AddError("Invalid Capabilities", err.Error())
	}
	spec.Capabilities = capabilities

	limits, err := containerLimits(m)
	if err != nil {
		diags.AddError("Invalid Limits", err.Error())
	}
	spec.Limits = limits
	return spec, diags
}

// sortedFiles returns files in path order. An image rootfs bind-mounts each file in the order
// of the spec, so reordering the files attribute must not change the LXC configuration.
func sortedFiles(files []protocol.File) []protocol.File {
	sorted := slices.Clone(files)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	return sorted
}

// containerLimits converts the limit attributes into cgroup limits.
func containerLimits(m containerResourceModel) (protocol.Limits, error) {
	limits := protocol.Limits{CPUWeight: m.CPUWeight.ValueInt64(), Pids: m.PidsLimit.ValueInt64()}
	memory, err := parseMemoryLimit(m.MemoryLimit.ValueString())
	if err != nil {
		return limits, err
	}
	limits.MemoryBytes = memory
	if cpu := m.CPULimit.ValueString(); cpu != "" {
		quota, period, err := parseCPULimit(cpu)
		if err != nil {
			return limits, err
		}
		limits.CPUQuotaMicros, limits.CPUPeriodMicros = quota, period
	}
	return limits, nil
}

// normalizedCapabilities returns the sorted, normalized keep-list; never nil, because the helper
// reads a missing list differently from an empty one.
func normalizedCapabilities(set types.Set) ([]string, error) {
	names := []string{}
	for _, name := range stringElements(set.Elements()) {
		normalized, err := normalizeCapability(name)
		if err != nil {
			return nil, err
		}
		names = append(names, normalized)
	}
	sort.Strings(names)
	return names, nil
}

// fileContents returns the files of a plan with their content, reading sources from the local
// disk. A source whose SHA-256 differs from the plan is an error: the file changed after the plan.
func fileContents(files []fileModel) ([]protocol.File, error) {
	result := make([]protocol.File, 0, len(files))
	for _, f := range files {
		content := []byte(f.Content.ValueString())
		if !f.Source.IsNull() {
			data, err := os.ReadFile(f.Source.ValueString())
			if err != nil {
				return nil, fmt.Errorf("read source of file %s: %w", f.Path.ValueString(), err)
			}
			if sum := sha256Hex(data); sum != f.SHA256.ValueString() {
				return nil, fmt.Errorf("source %q of file %s changed after the plan: its SHA-256 is now %s, the plan "+
					"has %s; run terraform plan again", f.Source.ValueString(), f.Path.ValueString(), sum, f.SHA256.ValueString())
			}
			content = data
		}
		mode, err := parseFileMode(f.Mode.ValueString())
		if err != nil {
			return nil, err
		}
		result = append(result, protocol.File{
			Path: f.Path.ValueString(), Content: content, Mode: mode,
			UID: int(f.UID.ValueInt64()), GID: int(f.GID.ValueInt64()),
		})
	}
	return result, nil
}

// setObserved copies what the helper observed into m. The init PID of a stopped container is 0.
func setObserved(m *containerResourceModel, observed protocol.ContainerState) {
	m.State = types.StringValue(observed.State)
	m.InitPID = types.Int64Value(int64(max(observed.InitPID, 0)))
	if observed.State != stateRunning {
		m.InitPID = types.Int64Value(0)
	}
	m.HostUIDStart = types.Int64Value(int64(observed.HostUIDStart))
	m.HostGIDStart = types.Int64Value(int64(observed.HostGIDStart))
	m.ConfigSHA256 = types.StringValue(observed.ConfigSHA256)
	m.ImageSHA256 = types.StringValue(observed.Spec.ImageSHA256)
}

// fileFromSpec converts a file as the helper recorded it. Content that is not UTF-8 text cannot
// be an attribute value, so only its SHA-256 is kept.
func fileFromSpec(f protocol.File) attr.Value {
	content := types.StringNull()
	if utf8.Valid(f.Content) {
		content = types.StringValue(string(f.Content))
	}
	return types.ObjectValueMust(fileAttrTypes, map[string]attr.Value{
		"path":    types.StringValue(f.Path),
		"content": content,
		"source":  types.StringNull(),
		"mode":    types.StringValue(fmt.Sprintf("%04o", f.Mode)),
		"uid":     types.Int64Value(int64(f.UID)),
		"gid":     types.Int64Value(int64(f.GID)),
		"sha256":  types.StringValue(sha256Hex(f.Content)),
	})
}

// rootfsFromSpec describes the rootfs of a container as the helper recorded it. The local path
// of an image's tarball is unknown on the device, so only its SHA-256 is set.
func rootfsFromSpec(spec protocol.ContainerSpec) types.Object {
	if spec.Rootfs == protocol.RootfsBusybox {
		return types.ObjectValueMust(rootfsAttrTypes, map[string]attr.Value{
			"busybox": types.BoolValue(true), "tarball": types.StringNull(),
			"tarball_sha256": types.StringNull(), "sha256": types.StringNull(),
		})
	}
	return types.ObjectValueMust(rootfsAttrTypes, map[string]attr.Value{
		"busybox": types.BoolNull(), "tarball": types.StringNull(),
		"tarball_sha256": types.StringValue(spec.ImageSHA256), "sha256": types.StringValue(spec.ImageSHA256),
	})
}

func stringElements(values []attr.Value) []string {
	result := make([]string, 0, len(values))
	for _, v := range values {
		if s, ok := v.(types.String); ok {
			result = append(result, s.ValueString())
		}
	}
	return result
}

func stringList(list types.List) []string {
	if list.IsNull() || list.IsUnknown() {
		return nil
	}
	return stringElements(list.Elements())
}

func stringMap(m types.Map) map[string]string {
	if m.IsNull() || m.IsUnknown() {
		return nil
	}
	result := make(map[string]string, len(m.Elements()))
	for key, v := range m.Elements() {
		if s, ok := v.(types.String); ok {
			result[key] = s.ValueString()
		}
	}
	return result
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// lowerHex normalizes a SHA-256 for comparison.
func lowerHex(s string) string {
	return strings.ToLower(strings.TrimSpace(s))
}
