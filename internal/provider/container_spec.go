package provider

import (
	"encoding/json"
	"sort"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// specAttribute ties one attribute of the container to its part of the helper's spec. Values are
// compared in a canonical form, so that "CAP_CHOWN" equals "chown" and "1G" equals "1024MiB":
// plans compare the configuration with the state, and Read compares the state with the device.
type specAttribute struct {
	name string

	// effect is what a change does to a running container.
	effect changeEffect

	// fromModel returns the attribute's canonical value, and false when it is unknown or invalid.
	// A null optional attribute has the canonical value of its absence, such as "" or 0.
	fromModel func(m *containerResourceModel) (any, bool)

	// fromSpec returns the canonical value of the same part of a spec.
	fromSpec func(s *protocol.ContainerSpec) any

	// setFromSpec stores the spec's value in m, in its canonical spelling.
	setFromSpec func(m *containerResourceModel, s *protocol.ContainerSpec)
}

// changeEffect is what the helper does to apply a change of one attribute. Its container.apply
// restarts a running container when the LXC configuration changes in more than limits and
// autostart. command, environment and working_dir live in the init's spec file instead, and
// count as restarts because a running init keeps its old command until it starts again.
type changeEffect int

const (
	// effectNone changes neither the LXC configuration nor the running container: files in a
	// busybox rootfs are written in place.
	effectNone changeEffect = iota

	// effectConfig rewrites the configuration without a restart (autostart).
	effectConfig

	// effectLive writes cgroup limits into the running container. When the kernel rejects a
	// live value, such as a memory limit below the current usage, the helper restarts the
	// container instead, so the plan cannot promise the init PID.
	effectLive

	// effectRestart restarts a running container.
	effectRestart
)

// fileKey is the canonical form of one file: its content is compared by SHA-256.
type fileKey struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Mode   uint32 `json:"mode"`
	UID    int64  `json:"uid"`
	GID    int64  `json:"gid"`
}

// specAttributes lists every configurable attribute that reaches the helper's spec, except
// name, rootfs and running, which plans treat apart.
var specAttributes = []specAttribute{
	boolAttribute("autostart", effectConfig, func(m *containerResourceModel) *types.Bool { return &m.Autostart },
		func(s *protocol.ContainerSpec) bool { return s.Autostart }),
	{name: "command", effect: effectRestart, fromModel: commandFromModel,
		fromSpec:    func(s *protocol.ContainerSpec) any { return nonNilStrings(s.Command) },
		setFromSpec: setCommandFromSpec},
	{name: "environment", effect: effectRestart, fromModel: environmentFromModel,
		fromSpec:    func(s *protocol.ContainerSpec) any { return nonNilMap(s.Environment) },
		setFromSpec: setEnvironmentFromSpec},
	optionalStringAttribute("working_dir", func(m *containerResourceModel) *types.String { return &m.WorkingDir },
		func(s *protocol.ContainerSpec) string { return s.WorkingDir }),
	int64Attribute("user", effectRestart, func(m *containerResourceModel) *types.Int64 { return &m.User },
		func(s *protocol.ContainerSpec) int64 { return int64(s.User) }),
	int64Attribute("group", effectRestart, func(m *containerResourceModel) *types.Int64 { return &m.Group },
		func(s *protocol.ContainerSpec) int64 { return int64(s.Group) }),
	{name: "files", effect: effectNone, fromModel: filesFromModel,
		fromSpec: filesFromSpec, setFromSpec: setFilesFromSpec},
	{name: "capabilities", effect: effectRestart, fromModel: capabilitiesFromModel,
		fromSpec: capabilitiesFromSpec, setFromSpec: setCapabilitiesFromSpec},
	boolAttribute("no_new_privs", effectRestart, func(m *containerResourceModel) *types.Bool { return &m.NoNewPrivs },
		func(s *protocol.ContainerSpec) bool { return s.NoNewPrivs }),
	boolAttribute("read_only_rootfs", effectRestart, func(m *containerResourceModel) *types.Bool { return &m.ReadOnlyRootfs },
		func(s *protocol.ContainerSpec) bool { return s.ReadOnlyRootfs }),
	{name: "memory_limit", effect: effectLive, fromModel: memoryFromModel,
		fromSpec: func(s *protocol.ContainerSpec) any { return s.Limits.MemoryBytes },
		setFromSpec: func(m *containerResourceModel, s *protocol.ContainerSpec) {
			m.MemoryLimit = types.StringValue(formatMemoryLimit(s.Limits.MemoryBytes))
		}},
	int64Attribute("cpu_weight", effectLive, func(m *containerResourceModel) *types.Int64 { return &m.CPUWeight },
		func(s *protocol.ContainerSpec) int64 { return s.Limits.CPUWeight }),
	{name: "cpu_limit", effect: effectLive, fromModel: cpuLimitFromModel,
		fromSpec: func(s *protocol.ContainerSpec) any {
			return formatCPULimit(s.Limits.CPUQuotaMicros, s.Limits.CPUPeriodMicros)
		},
		setFromSpec: func(m *containerResourceModel, s *protocol.ContainerSpec) {
			m.CPULimit = nullIfEmpty(formatCPULimit(s.Limits.CPUQuotaMicros, s.Limits.CPUPeriodMicros))
		}},
	int64Attribute("pids_limit", effectLive, func(m *containerResourceModel) *types.Int64 { return &m.PidsLimit },
		func(s *protocol.ContainerSpec) int64 { return s.Limits.Pids }),
	int64Attribute("idmap_size", effectRestart, func(m *containerResourceModel) *types.Int64 { return &m.IdmapSize },
		func(s *protocol.ContainerSpec) int64 { return int64(s.IdmapSize) }),
	optionalStringAttribute("seccomp_profile", func(m *containerResourceModel) *types.String { return &m.SeccompProfile },
		func(s *protocol.ContainerSpec) string { return s.SeccompProfile }),
	optionalStringAttribute("apparmor_profile", func(m *containerResourceModel) *types.String { return &m.AppArmorProfile },
		func(s *protocol.ContainerSpec) string { return s.AppArmorProfile }),
	resolvConfAttribute(),
}

// resolvConfAttribute describes resolv_conf, which the helper places like a file: in place on
// a busybox rootfs, and as a bind mount on an image rootfs, where adding or removing it
// restarts the container as for files.
func resolvConfAttribute() specAttribute {
	attribute := optionalStringAttribute("resolv_conf", func(m *containerResourceModel) *types.String { return &m.ResolvConf },
		func(s *protocol.ContainerSpec) string { return s.ResolvConf })
	attribute.effect = effectNone
	return attribute
}

// equalCanonical reports whether two canonical values are the same.
func equalCanonical(a, b any) bool {
	left, errLeft := json.Marshal(a)
	right, errRight := json.Marshal(b)
	return errLeft == nil && errRight == nil && string(left) == string(right)
}

func boolAttribute(name string, effect changeEffect, field func(*containerResourceModel) *types.Bool,
	value func(*protocol.ContainerSpec) bool) specAttribute {
	return specAttribute{
		name: name, effect: effect,
		fromModel: func(m *containerResourceModel) (any, bool) {
			v := *field(m)
			return v.ValueBool(), !v.IsNull() && !v.IsUnknown()
		},
		fromSpec: func(s *protocol.ContainerSpec) any { return value(s) },
		setFromSpec: func(m *containerResourceModel, s *protocol.ContainerSpec) {
			*field(m) = types.BoolValue(value(s))
		},
	}
}

// int64Attribute describes an attribute with a default, so null counts as unknown.
func int64Attribute(name string, effect changeEffect, field func(*containerResourceModel) *types.Int64,
	value func(*protocol.ContainerSpec) int64) specAttribute {
	return specAttribute{
		name: name, effect: effect,
		fromModel: func(m *containerResourceModel) (any, bool) {
			v := *field(m)
			return v.ValueInt64(), !v.IsNull() && !v.IsUnknown()
		},
		fromSpec: func(s *protocol.ContainerSpec) any { return value(s) },
		setFromSpec: func(m *containerResourceModel, s *protocol.ContainerSpec) {
			*field(m) = types.Int64Value(value(s))
		},
	}
}

// optionalStringAttribute describes an attribute without a default, whose null is "".
func optionalStringAttribute(name string, field func(*containerResourceModel) *types.String,
	value func(*protocol.ContainerSpec) string) specAttribute {
	return specAttribute{
		name: name, effect: effectRestart,
		fromModel: func(m *containerResourceModel) (any, bool) {
			v := *field(m)
			return v.ValueString(), !v.IsUnknown()
		},
		fromSpec: func(s *protocol.ContainerSpec) any { return value(s) },
		setFromSpec: func(m *containerResourceModel, s *protocol.ContainerSpec) {
			*field(m) = nullIfEmpty(value(s))
		},
	}
}

func commandFromModel(m *containerResourceModel) (any, bool) {
	if m.Command.IsUnknown() || hasUnknown(m.Command.Elements()) {
		return nil, false
	}
	return nonNilStrings(stringList(m.Command)), true
}

func setCommandFromSpec(m *containerResourceModel, s *protocol.ContainerSpec) {
	m.Command = types.ListNull(types.StringType)
	if len(s.Command) > 0 {
		m.Command = types.ListValueMust(types.StringType, stringValues(s.Command))
	}
}

func environmentFromModel(m *containerResourceModel) (any, bool) {
	if m.Environment.IsUnknown() || hasUnknownMap(m.Environment.Elements()) {
		return nil, false
	}
	return nonNilMap(stringMap(m.Environment)), true
}

func setEnvironmentFromSpec(m *containerResourceModel, s *protocol.ContainerSpec) {
	m.Environment = types.MapNull(types.StringType)
	if len(s.Environment) > 0 {
		values := make(map[string]attr.Value, len(s.Environment))
		for key, value := range s.Environment {
			values[key] = types.StringValue(value)
		}
		m.Environment = types.MapValueMust(types.StringType, values)
	}
}

func capabilitiesFromModel(m *containerResourceModel) (any, bool) {
	if m.Capabilities.IsNull() || m.Capabilities.IsUnknown() || hasUnknown(m.Capabilities.Elements()) {
		return nil, false
	}
	names, err := normalizedCapabilities(m.Capabilities)
	return names, err == nil
}

func capabilitiesFromSpec(s *protocol.ContainerSpec) any {
	names := make([]string, 0, len(s.Capabilities))
	for _, name := range s.Capabilities {
		if normalized, err := normalizeCapability(name); err == nil {
			name = normalized
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func setCapabilitiesFromSpec(m *containerResourceModel, s *protocol.ContainerSpec) {
	names, _ := capabilitiesFromSpec(s).([]string)
	m.Capabilities = types.SetValueMust(types.StringType, stringValues(names))
}

func memoryFromModel(m *containerResourceModel) (any, bool) {
	if m.MemoryLimit.IsNull() || m.MemoryLimit.IsUnknown() {
		return nil, false
	}
	bytes, err := parseMemoryLimit(m.MemoryLimit.ValueString())
	return bytes, err == nil
}

func cpuLimitFromModel(m *containerResourceModel) (any, bool) {
	if m.CPULimit.IsUnknown() {
		return nil, false
	}
	if m.CPULimit.IsNull() {
		return "", true
	}
	quota, period, err := parseCPULimit(m.CPULimit.ValueString())
	return formatCPULimit(quota, period), err == nil
}

func filesFromModel(m *containerResourceModel) (any, bool) {
	if m.Files.IsUnknown() {
		return nil, false
	}
	keys := []fileKey{}
	for _, element := range m.Files.Elements() {
		object, ok := element.(types.Object)
		if !ok || object.IsUnknown() {
			return nil, false
		}
		key, ok := fileKeyFromObject(object)
		if !ok {
			return nil, false
		}
		keys = append(keys, key)
	}
	sortFileKeys(keys)
	return keys, true
}

func fileKeyFromObject(object types.Object) (fileKey, bool) {
	attributes := object.Attributes()
	path, _ := attributes["path"].(types.String)
	sum, _ := attributes["sha256"].(types.String)
	modeText, _ := attributes["mode"].(types.String)
	uid, _ := attributes["uid"].(types.Int64)
	gid, _ := attributes["gid"].(types.Int64)
	if hasUnknown([]attr.Value{path, sum, modeText, uid, gid}) {
		return fileKey{}, false
	}
	mode, err := parseFileMode(modeText.ValueString())
	if err != nil {
		return fileKey{}, false
	}
	return fileKey{
		Path: path.ValueString(), SHA256: lowerHex(sum.ValueString()), Mode: mode,
		UID: uid.ValueInt64(), GID: gid.ValueInt64(),
	}, true
}

func filesFromSpec(s *protocol.ContainerSpec) any {
	keys := make([]fileKey, 0, len(s.Files))
	for _, f := range s.Files {
		keys = append(keys, fileKey{
			Path: f.Path, SHA256: sha256Hex(f.Content), Mode: f.Mode, UID: int64(f.UID), GID: int64(f.GID),
		})
	}
	sortFileKeys(keys)
	return keys
}

func setFilesFromSpec(m *containerResourceModel, s *protocol.ContainerSpec) {
	m.Files = types.ListNull(fileObjectType)
	if len(s.Files) == 0 {
		return
	}
	files := make([]attr.Value, 0, len(s.Files))
	for _, f := range s.Files {
		files = append(files, fileFromSpec(f))
	}
	m.Files = types.ListValueMust(fileObjectType, files)
}

func sortFileKeys(keys []fileKey) {
	sort.Slice(keys, func(i, j int) bool { return keys[i].Path < keys[j].Path })
}

func hasUnknown(values []attr.Value) bool {
	for _, v := range values {
		if v == nil || v.IsUnknown() {
			return true
		}
	}
	return false
}

func hasUnknownMap(values map[string]attr.Value) bool {
	for _, v := range values {
		if v.IsUnknown() {
			return true
		}
	}
	return false
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func stringValues(s []string) []attr.Value {
	values := make([]attr.Value, 0, len(s))
	for _, v := range s {
		values = append(values, types.StringValue(v))
	}
	return values
}

func nullIfEmpty(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}
