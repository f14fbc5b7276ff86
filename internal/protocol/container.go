package protocol

// Operations on containers. Every container op takes the container's name in its params.
const (
	// OpContainerApply creates the container described by ContainerSpec, or changes an existing
	// one to match it, and returns ContainerApplyResult. A change that LXC can only load at start
	// restarts a running container, and so does a NIC whose address was changed on the device.
	OpContainerApply = "container.apply"

	// OpContainerGet returns ContainerState, or CodeNotFound when the container does not exist.
	OpContainerGet = "container.get"

	// OpContainerDelete stops and destroys the container, removes its rootfs, configuration and
	// records, returns its idmap range to the pool, releases its addresses on networks and
	// returns ContainerDeleteResult. A missing container is not an error.
	OpContainerDelete = "container.delete"

	// OpContainerExec runs a command inside a running container and returns ExecResult.
	OpContainerExec = "container.exec"

	// OpImageImport unpacks an uploaded rootfs tarball into a shared read-only image, once per
	// SHA-256, and returns ImageImportResult.
	OpImageImport = "image.import"
)

// Rootfs kinds.
const (
	// RootfsBusybox builds a minimal rootfs from the device's own static busybox.
	RootfsBusybox = "busybox"

	// RootfsImage uses an image that OpImageImport unpacked.
	RootfsImage = "image"
)

// ContainerName is the params of OpContainerGet and OpContainerDelete.
type ContainerName struct {
	Name string `json:"name"`
}

// ContainerSpec is the desired state of one container.
type ContainerSpec struct {
	Name string `json:"name"`

	// Rootfs is RootfsBusybox or RootfsImage.
	Rootfs string `json:"rootfs"`

	// ImageSHA256 names the image for RootfsImage: the SHA-256 of the tarball it was unpacked from.
	ImageSHA256 string `json:"image_sha256,omitempty"`

	// Running is the desired run state; Autostart starts the container when the device boots.
	Running   bool `json:"running"`
	Autostart bool `json:"autostart"`

	// Command is the argv of the container's init, run without a shell. Empty runs a minimal
	// init that waits for signals.
	Command     []string          `json:"command,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	WorkingDir  string            `json:"working_dir,omitempty"`

	// User and Group are the numeric IDs, inside the container, that Command runs as.
	User  int `json:"user"`
	Group int `json:"group"`

	// Files are placed into the rootfs before start, and updated in place.
	Files []File `json:"files,omitempty"`

	// Capabilities is the keep-list of capability names without the CAP_ prefix, lowercase
	// ("net_bind_service"). Every other capability is dropped.
	Capabilities []string `json:"capabilities"`

	NoNewPrivs     bool `json:"no_new_privs"`
	ReadOnlyRootfs bool `json:"read_only_rootfs"`

	Limits Limits `json:"limits"`

	// IdmapSize is the number of host uids and gids mapped into the container.
	IdmapSize int `json:"idmap_size"`

	// SeccompProfile is the path on the device of an LXC seccomp policy, empty for none.
	SeccompProfile string `json:"seccomp_profile,omitempty"`

	// AppArmorProfile is the AppArmor profile to confine the container with. Empty lets the
	// helper choose: LXC's generated profile where AppArmor is enabled, none where it is not.
	AppArmorProfile string `json:"apparmor_profile,omitempty"`

	// Networks are the container's NICs in order: the first is eth0 inside the container and
	// carries the default route through its network's gateway. Empty gives the container a
	// network namespace with loopback only.
	Networks []ContainerNIC `json:"networks,omitempty"`

	// ResolvConf is the content of /etc/resolv.conf inside the container, placed like Files
	// with mode 0644 and owner 0:0. Empty places no file.
	ResolvConf string `json:"resolv_conf,omitempty"`
}

// Limits are cgroup limits. Zero means no limit.
type Limits struct {
	MemoryBytes int64 `json:"memory_bytes"`

	// CPUWeight is the cgroup v2 cpu.weight (1..10000); on cgroup v1 it is converted to
	// cpu.shares.
	CPUWeight int64 `json:"cpu_weight"`

	// CPUQuotaMicros of CPU time per CPUPeriodMicros of wall time.
	CPUQuotaMicros  int64 `json:"cpu_quota_us"`
	CPUPeriodMicros int64 `json:"cpu_period_us"`

	Pids int64 `json:"pids"`
}

// File is one file placed into a container's rootfs.
type File struct {
	// Path is absolute inside the container; it must not leave the rootfs.
	Path    string `json:"path"`
	Content []byte `json:"content"`
	Mode    uint32 `json:"mode"`

	// UID and GID are IDs inside the container.
	UID int `json:"uid"`
	GID int `json:"gid"`
}

// ContainerState is the helper's observation of a container.
type ContainerState struct {
	Name string `json:"name"`

	// State is LXC's state name: "RUNNING", "STOPPED", "FROZEN", ...
	State   string `json:"state"`
	InitPID int    `json:"init_pid"`

	// HostUIDStart and HostGIDStart begin the host ranges that uid and gid 0 inside map to.
	HostUIDStart int `json:"host_uid_start"`
	HostGIDStart int `json:"host_gid_start"`
	IdmapSize    int `json:"idmap_size"`

	// ConfigSHA256 hashes the LXC configuration file as it is on the device now, and
	// AppliedConfigSHA256 the one the helper last wrote. They differ when someone changed the
	// configuration outside the provider.
	ConfigSHA256        string `json:"config_sha256"`
	AppliedConfigSHA256 string `json:"applied_config_sha256"`

	// RootfsBytes is the disk space the container adds on its own, shared images excluded.
	RootfsBytes int64 `json:"rootfs_bytes"`

	// Spec is the spec the container was last applied with.
	Spec ContainerSpec `json:"spec"`

	// Networks are the container's NICs in the order of Spec.Networks.
	Networks []ContainerNICState `json:"networks"`
}

// ContainerNICState is one NIC of a container as the helper observes it.
type ContainerNICState struct {
	// Network is the network's name.
	Network string `json:"network"`

	// IPv4Address is the address that the container holds on the network, without prefix
	// length: the one its spec requested, or the one the helper allocated. The helper writes it
	// into the container's LXC configuration.
	IPv4Address string `json:"ipv4_address"`

	// ObservedIPv4Addresses are the IPv4 addresses that the NIC has, without prefix length and
	// sorted: on its interface while the container runs, otherwise in the LXC configuration
	// that the next start reads. They differ from IPv4Address when the address was changed
	// outside the helper, and container.apply then restores it.
	ObservedIPv4Addresses []string `json:"observed_ipv4_addresses"`
}

// ContainerDeleteResult is the result of OpContainerDelete.
type ContainerDeleteResult struct {
	// Deleted is false when the container did not exist.
	Deleted bool `json:"deleted"`
}

// ContainerApplyResult is the result of OpContainerApply.
type ContainerApplyResult struct {
	State ContainerState `json:"state"`

	// Restarted reports that a running container was stopped and started to load the change.
	Restarted bool `json:"restarted"`
}

// ExecParams is the params of OpContainerExec.
type ExecParams struct {
	Name string   `json:"name"`
	Argv []string `json:"argv"`

	// Stdin is written to the command's standard input.
	Stdin []byte `json:"stdin,omitempty"`

	// TimeoutSeconds bounds the command; zero means 60 seconds.
	TimeoutSeconds int `json:"timeout_seconds,omitempty"`
}

// ExecResult is the outcome of a command run inside a container.
type ExecResult struct {
	ExitCode int    `json:"exit_code"`
	Stdout   []byte `json:"stdout"`
	Stderr   []byte `json:"stderr"`

	// Signal names the signal that ended the command ("KILL"), empty when it exited.
	Signal string `json:"signal,omitempty"`
}

// UploadsDir is the folder of the state folder that image tarballs are uploaded into.
const UploadsDir = "uploads"

// ImageImportParams is the params of OpImageImport.
type ImageImportParams struct {
	// Upload is the path of the uploaded tarball on the device: a file directly inside the
	// folder UploadsDir of the state folder.
	Upload string `json:"upload"`

	// SHA256 is the tarball's expected SHA-256; the helper checks it before unpacking.
	SHA256 string `json:"sha256"`
}

// ImageImportResult is the result of OpImageImport.
type ImageImportResult struct {
	SHA256 string `json:"sha256"`

	// Bytes is the unpacked image's size on disk.
	Bytes int64 `json:"bytes"`

	// Imported is false when the image was already there.
	Imported bool `json:"imported"`
}
