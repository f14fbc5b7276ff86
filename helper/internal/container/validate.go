package container

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/capability"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/image"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/rootfs"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// namePattern is stricter than LXC, which accepts most characters: a DNS label, so the name
// also works as the container's host name, in paths and in cgroup names.
var namePattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

const nameRule = "1 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"

// ValidateName returns a CodeInvalid error unless name can name a container.
func ValidateName(name string) error {
	if !namePattern.MatchString(name) {
		return protocol.Errorf(protocol.CodeInvalid, "invalid container name %q: use %s", name, nameRule)
	}
	return nil
}

// Bounds of spec values.
const (
	DefaultIdmapSize = 65536
	MaxIdmapSize     = 16 * 65536

	minMemoryBytes = 4 << 20
	maxCPUWeight   = 10000
	minCPUMicros   = 1000
	maxCPUPeriod   = 1000000
)

var (
	envKeyPattern   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	appArmorPattern = regexp.MustCompile(`^[A-Za-z0-9_.:/-]+$`)
)

// Host holds the facts about the device that validation needs.
type Host struct {
	LastCap  int
	AppArmor bool
}

// idmapSize returns the spec's idmap size with the default applied.
func idmapSize(spec protocol.ContainerSpec) int {
	if spec.IdmapSize == 0 {
		return DefaultIdmapSize
	}
	return spec.IdmapSize
}

// ValidateSpec checks every field that does not depend on the rootfs. Files are checked
// against the rootfs later, before anything changes.
func ValidateSpec(spec protocol.ContainerSpec, host Host) error {
	checks := []func(protocol.ContainerSpec, Host) error{
		checkRootfs, checkCommand, checkIDs, checkCapabilities, checkLimits, checkProfiles, checkNetworks,
		checkResolvConf,
	}
	if err := ValidateName(spec.Name); err != nil {
		return err
	}
	for _, check := range checks {
		if err := check(spec, host); err != nil {
			return protocol.Errorf(protocol.CodeInvalid, "container %q: %v", spec.Name, err)
		}
	}
	return nil
}

func checkRootfs(spec protocol.ContainerSpec, _ Host) error {
	switch spec.Rootfs {
	case protocol.RootfsBusybox:
		if spec.ImageSHA256 != "" {
			return fmt.Errorf("image_sha256 is set but rootfs is %q; set rootfs to %q or drop image_sha256",
				spec.Rootfs, protocol.RootfsImage)
		}
	case protocol.RootfsImage:
		if !spec.ReadOnlyRootfs {
			return fmt.Errorf("an image rootfs is shared by every container built from it and is always " +
				"read-only, with tmpfs on /tmp and /run; set read_only_rootfs to true")
		}
		return image.ValidateSHA256("image_sha256", spec.ImageSHA256)
	default:
		return fmt.Errorf("invalid rootfs %q: use %q or %q", spec.Rootfs, protocol.RootfsBusybox, protocol.RootfsImage)
	}
	return nil
}

func checkCommand(spec protocol.ContainerSpec, _ Host) error {
	if len(spec.Command) > 0 && spec.Command[0] == "" {
		return fmt.Errorf("command[0] is empty; name the program to run")
	}
	for i, arg := range spec.Command {
		if strings.ContainsRune(arg, 0) {
			return fmt.Errorf("command[%d] contains a NUL byte", i)
		}
	}
	for key, value := range spec.Environment {
		if !envKeyPattern.MatchString(key) {
			return fmt.Errorf("invalid environment variable name %q: use letters, digits and '_', "+
				"not starting with a digit", key)
		}
		if strings.ContainsRune(value, 0) {
			return fmt.Errorf("environment variable %s contains a NUL byte", key)
		}
	}
	if spec.WorkingDir != "" {
		if _, err := rootfs.CheckPath(spec.WorkingDir); err != nil {
			return fmt.Errorf("invalid working_dir: %v", err)
		}
	}
	return nil
}

func checkIDs(spec protocol.ContainerSpec, _ Host) error {
	size := idmapSize(spec)
	if size < 1 || size > MaxIdmapSize {
		return fmt.Errorf("invalid idmap_size %d: use 1 to %d, or 0 for %d", spec.IdmapSize, MaxIdmapSize, DefaultIdmapSize)
	}
	if spec.User < 0 || spec.User >= size {
		return fmt.Errorf("invalid user %d: use an ID from 0 to %d, the container's mapped IDs", spec.User, size-1)
	}
	if spec.Group < 0 || spec.Group >= size {
		return fmt.Errorf("invalid group %d: use an ID from 0 to %d, the container's mapped IDs", spec.Group, size-1)
	}
	return nil
}

func checkCapabilities(spec protocol.ContainerSpec, host Host) error {
	seen := map[string]bool{}
	for _, name := range spec.Capabilities {
		if err := capability.Validate(name, host.LastCap); err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("capability %q is listed twice", name)
		}
		seen[name] = true
	}
	return nil
}

func checkLimits(spec protocol.ContainerSpec, _ Host) error {
	limits := spec.Limits
	for name, value := range map[string]int64{
		"memory_bytes": limits.MemoryBytes, "cpu_weight": limits.CPUWeight,
		"cpu_quota_us": limits.CPUQuotaMicros, "cpu_period_us": limits.CPUPeriodMicros, "pids": limits.Pids,
	} {
		if value < 0 {
			return fmt.Errorf("invalid limit %s %d: use 0 for no limit or a positive value", name, value)
		}
	}
	switch {
	case limits.MemoryBytes != 0 && limits.MemoryBytes < minMemoryBytes:
		return fmt.Errorf("invalid memory_bytes %d: use at least %d (4 MiB), or 0 for no limit",
			limits.MemoryBytes, minMemoryBytes)
	case limits.CPUWeight > maxCPUWeight:
		return fmt.Errorf("invalid cpu_weight %d: use 1 to %d, or 0 for the default", limits.CPUWeight, maxCPUWeight)
	case limits.CPUQuotaMicros != 0 && limits.CPUQuotaMicros < minCPUMicros:
		return fmt.Errorf("invalid cpu_quota_us %d: use at least %d, or 0 for no quota", limits.CPUQuotaMicros, minCPUMicros)
	case limits.CPUPeriodMicros != 0 && (limits.CPUPeriodMicros < minCPUMicros || limits.CPUPeriodMicros > maxCPUPeriod):
		return fmt.Errorf("invalid cpu_period_us %d: use %d to %d, or 0 for %d",
			limits.CPUPeriodMicros, minCPUMicros, maxCPUPeriod, 100000)
	case limits.CPUPeriodMicros != 0 && limits.CPUQuotaMicros == 0:
		return fmt.Errorf("cpu_period_us is set without cpu_quota_us; set both or neither")
	}
	return nil
}

func checkProfiles(spec protocol.ContainerSpec, host Host) error {
	if spec.SeccompProfile != "" {
		if err := server.ValidatePath("seccomp_profile", spec.SeccompProfile); err != nil {
			return fmt.Errorf("%s", err.Message)
		}
		info, err := os.Stat(spec.SeccompProfile)
		if err != nil || !info.Mode().IsRegular() {
			return fmt.Errorf("seccomp_profile %s is not a file on the device; create the profile first",
				spec.SeccompProfile)
		}
	}
	if spec.AppArmorProfile != "" {
		if !host.AppArmor {
			return fmt.Errorf("apparmor_profile %q is set but AppArmor is not enabled on this device; "+
				"remove the setting", spec.AppArmorProfile)
		}
		if !appArmorPattern.MatchString(spec.AppArmorProfile) {
			return fmt.Errorf("invalid apparmor_profile %q: use letters, digits and _.:/-", spec.AppArmorProfile)
		}
	}
	return nil
}

// checkNetworks checks the NICs' network names. network.Attach checks the addresses against
// each network when it allocates them.
func checkNetworks(spec protocol.ContainerSpec, _ Host) error {
	for i, nic := range spec.Networks {
		if err := protocol.ValidateNetworkName(nic.Network); err != nil {
			return fmt.Errorf("networks[%d]: %v", i, err)
		}
	}
	return nil
}

func checkResolvConf(spec protocol.ContainerSpec, _ Host) error {
	if spec.ResolvConf == "" {
		return nil
	}
	for _, file := range spec.Files {
		if file.Path == resolvConfPath {
			return fmt.Errorf("resolv_conf and the file %q in files both set %s; remove one of them",
				file.Path, resolvConfPath)
		}
	}
	return nil
}
