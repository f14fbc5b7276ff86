// Package facts collects what the provider needs to know about a device: its architecture,
// kernel, LXC version and the kernel features that container settings depend on.
package facts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Kernel interfaces that facts are read from.
const (
	CgroupRoot          = "/sys/fs/cgroup"
	CgroupUnified       = "/sys/fs/cgroup/unified"
	SeccompActionsFile  = "/proc/sys/kernel/seccomp/actions_avail"
	AppArmorEnabledFile = "/sys/module/apparmor/parameters/enabled"
)

// Host is the source of facts. Tests replace its functions; NewHost returns the real device.
type Host struct {
	// Uname returns the machine name and kernel release from uname(2).
	Uname func() (machine, release string, err error)

	// StatfsType returns the file system magic number of the file system mounted at path,
	// as statfs(2) reports it in f_type.
	StatfsType func(path string) (int64, error)

	ReadFile func(path string) ([]byte, error)

	// LXCVersion returns the version of the liblxc that the helper runs with.
	LXCVersion func() (string, error)
}

// NewHost returns a Host that reads the running kernel, with lxcVersion as the LXC source.
func NewHost(lxcVersion func() (string, error)) Host {
	return Host{
		Uname:      uname,
		StatfsType: statfsType,
		ReadFile:   os.ReadFile,
		LXCVersion: lxcVersion,
	}
}

// Collect gathers the facts of the host.
func (h Host) Collect() (protocol.Facts, error) {
	machine, release, err := h.Uname()
	if err != nil {
		return protocol.Facts{}, fmt.Errorf("read kernel identity: %w", err)
	}
	lxcVersion, err := h.LXCVersion()
	if err != nil {
		return protocol.Facts{}, fmt.Errorf("read lxc version: %w", err)
	}
	layout, err := CgroupLayout(h.StatfsType)
	if err != nil {
		return protocol.Facts{}, err
	}
	actions, err := h.seccompActions()
	if err != nil {
		return protocol.Facts{}, err
	}
	appArmor, err := h.appArmorEnabled()
	if err != nil {
		return protocol.Facts{}, err
	}
	return protocol.Facts{
		Arch:           machine,
		KernelRelease:  release,
		LXCVersion:     lxcVersion,
		CgroupLayout:   layout,
		SeccompActions: actions,
		AppArmor:       appArmor,
	}, nil
}

// CgroupLayout classifies the cgroup mounts. A cgroup2 file system at CgroupRoot is v2. A v1
// layout, which is a tmpfs of per-controller mounts, is hybrid when CgroupUnified is a cgroup2
// file system. Anything else is v1.
func CgroupLayout(statfsType func(path string) (int64, error)) (string, error) {
	rootType, err := statfsType(CgroupRoot)
	if err != nil {
		return "", fmt.Errorf("read cgroup layout: %w", err)
	}
	if rootType == unix.CGROUP2_SUPER_MAGIC {
		return protocol.CgroupV2, nil
	}
	if rootType != unix.TMPFS_MAGIC {
		return protocol.CgroupV1, nil
	}

	unifiedType, err := statfsType(CgroupUnified)
	if errors.Is(err, fs.ErrNotExist) {
		return protocol.CgroupV1, nil
	}
	if err != nil {
		return "", fmt.Errorf("read cgroup layout: %w", err)
	}
	if unifiedType == unix.CGROUP2_SUPER_MAGIC {
		return protocol.CgroupHybrid, nil
	}
	return protocol.CgroupV1, nil
}

// seccompActions lists the seccomp actions that the kernel offers, in the kernel's order. A
// kernel without the file (before Linux 4.14, or without seccomp) offers none that the helper
// can name, so the list is empty.
func (h Host) seccompActions() ([]string, error) {
	data, err := h.ReadFile(SeccompActionsFile)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read seccomp actions: %w", err)
	}
	actions := strings.Fields(string(data))
	if actions == nil {
		actions = []string{}
	}
	return actions, nil
}

// appArmorEnabled reports whether the AppArmor module is loaded and enabled.
func (h Host) appArmorEnabled() (bool, error) {
	data, err := h.ReadFile(AppArmorEnabledFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read apparmor state: %w", err)
	}
	return strings.TrimSpace(string(data)) == "Y", nil
}

func uname() (machine, release string, err error) {
	var name unix.Utsname
	if err := unix.Uname(&name); err != nil {
		return "", "", fmt.Errorf("uname: %w", err)
	}
	return unix.ByteSliceToString(name.Machine[:]), unix.ByteSliceToString(name.Release[:]), nil
}

func statfsType(path string) (int64, error) {
	var stat unix.Statfs_t
	if err := unix.Statfs(path, &stat); err != nil {
		return 0, &fs.PathError{Op: "statfs", Path: path, Err: err}
	}
	return int64(stat.Type), nil
}
