package protocol

// Operations on the device as a whole.
const (
	// OpHello returns HelloResult. It needs no state folder, so it also works on a fresh device.
	OpHello = "hello"

	// OpFacts returns Facts.
	OpFacts = "facts"

	// OpInventory returns Inventory.
	OpInventory = "inventory"

	// OpUninstall removes the state folder, the helper included, and returns UninstallResult.
	// It fails with CodeConflict, naming what remains, while the state folder still holds
	// objects that the provider manages.
	OpUninstall = "uninstall"
)

// HelloResult identifies the helper.
type HelloResult struct {
	HelperVersion   string `json:"helper_version"`
	ProtocolVersion int    `json:"protocol_version"`
}

// Cgroup layouts as reported in Facts.CgroupLayout.
const (
	CgroupV1     = "v1"
	CgroupV2     = "v2"
	CgroupHybrid = "hybrid"
)

// Facts describe the device as its kernel and LXC report them.
type Facts struct {
	// Arch is the machine name that uname(2) reports, such as "x86_64" or "aarch64".
	Arch string `json:"arch"`

	KernelRelease string `json:"kernel_release"`

	// LXCVersion is the version of the liblxc that the helper is linked against at run time.
	LXCVersion string `json:"lxc_version"`

	// CgroupLayout is one of CgroupV1, CgroupV2 or CgroupHybrid.
	CgroupLayout string `json:"cgroup_layout"`

	// SeccompActions lists the actions the kernel offers, from
	// /proc/sys/kernel/seccomp/actions_avail, in the kernel's order.
	SeccompActions []string `json:"seccomp_actions"`

	// AppArmor reports whether AppArmor is enabled in the running kernel.
	AppArmor bool `json:"apparmor"`
}

// Inventory lists the objects that the provider manages on a device, by name. Each list is
// sorted, and empty (not null) when there is nothing of that kind.
type Inventory struct {
	Containers []string `json:"containers"`
	Networks   []string `json:"networks"`
	Profiles   []string `json:"profiles"`
	Recordings []string `json:"recordings"`
}

// Empty reports whether the inventory lists nothing.
func (i Inventory) Empty() bool {
	return len(i.Containers)+len(i.Networks)+len(i.Profiles)+len(i.Recordings) == 0
}

// UninstallResult reports what OpUninstall removed.
type UninstallResult struct {
	// Removed is false when the state folder did not exist.
	Removed bool `json:"removed"`
}
