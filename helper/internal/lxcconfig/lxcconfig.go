// Package lxcconfig renders the LXC configuration file of a container from the hardened
// defaults and the container's spec. It only formats text, and the container package
// decides the values.
package lxcconfig

import (
	"fmt"
	"sort"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/initspec"
)

// Header is the first line of every rendered file.
const Header = "# Managed by iotfleet-helper: container.apply rewrites this file.\n"

// Mount is one lxc.mount.entry, in fstab order. Target is relative to the rootfs.
type Mount struct {
	Source  string
	Target  string
	FSType  string
	Options string
}

func (m Mount) String() string {
	return fmt.Sprintf("%s %s %s %s 0 0", m.Source, m.Target, m.FSType, m.Options)
}

// Config holds every value that the rendered file depends on.
type Config struct {
	Name string

	// RootfsPath is the folder LXC mounts as the container's root, and RootfsOptions are its
	// mount options ("ro", "idmap=container").
	RootfsPath    string
	RootfsOptions []string

	// HostIDStart and IDCount map the container's UIDs and GIDs 0..IDCount-1.
	HostIDStart uint64
	IDCount     uint64

	// InitBinary and InitSpec are the host paths of iotfleet-init and of the container's
	// init spec. UID and GID are the IDs inside the container that the init runs as.
	InitBinary string
	InitSpec   string
	UID        int
	GID        int

	// Mounts are mounted after /proc, /sys, the init and the init spec.
	Mounts []Mount

	// Capabilities is the keep-list. An empty list keeps none.
	Capabilities []string

	NoNewPrivs bool

	// Devices are the device cgroup rules and Limits the resource limits, both in the order
	// they are written.
	Devices []cgroup.Setting
	Limits  []cgroup.Setting

	SeccompProfile string

	// AppArmorProfile is written only when not empty, so that hosts without AppArmor never
	// get the key.
	AppArmorProfile string

	Autostart bool

	// Network holds the lxc.net.N.* lines of the container's NICs in "key = value" form. Empty
	// gives the container a network namespace with loopback only.
	Network []string

	// LogFile receives LXC's warnings and errors about the container.
	LogFile string
}

// Render returns the configuration file.
func (c Config) Render() string {
	var b strings.Builder
	b.WriteString(Header)
	for _, line := range c.lines() {
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// RestartKey returns the rendered file without its cgroup limit lines and with autostart off.
// Two configurations with the same RestartKey differ at most in limits, which a running
// container takes live, and in autostart, which matters only at boot.
func (c Config) RestartKey() string {
	c.Limits = nil
	c.Autostart = false
	return c.Render()
}

func (c Config) lines() []string {
	var lines []string
	add := func(key string, value any) {
		lines = append(lines, fmt.Sprintf("%s = %v", key, value))
	}

	add("lxc.uts.name", c.Name)
	add("lxc.rootfs.path", "dir:"+c.RootfsPath)
	if len(c.RootfsOptions) > 0 {
		add("lxc.rootfs.options", strings.Join(c.RootfsOptions, ","))
	}
	add("lxc.idmap", fmt.Sprintf("u 0 %d %d", c.HostIDStart, c.IDCount))
	add("lxc.idmap", fmt.Sprintf("g 0 %d %d", c.HostIDStart, c.IDCount))

	add("lxc.init.cmd", initspec.BinaryPath)
	add("lxc.init.uid", c.UID)
	add("lxc.init.gid", c.GID)
	// PID 1 of a PID namespace ignores SIGPWR, LXC's default, unless it handles it. Most
	// programs handle SIGTERM.
	add("lxc.signal.halt", "SIGTERM")

	add("lxc.autodev", 1)
	add("lxc.tty.max", 0)
	add("lxc.pty.max", 16)
	add("lxc.console.path", "none")
	if len(c.Network) == 0 {
		// An empty network has only the loopback interface, which LXC leaves down unless its
		// flags say up.
		add("lxc.net.0.type", "empty")
		add("lxc.net.0.flags", "up")
	}
	lines = append(lines, c.Network...)

	add("lxc.mount.auto", "proc:mixed")
	for _, mount := range c.mounts() {
		add("lxc.mount.entry", mount)
	}

	add("lxc.cap.keep", keepList(c.Capabilities))
	if c.NoNewPrivs {
		add("lxc.no_new_privs", 1)
	}
	if c.SeccompProfile != "" {
		add("lxc.seccomp.profile", c.SeccompProfile)
	}
	if c.AppArmorProfile != "" {
		add("lxc.apparmor.profile", c.AppArmorProfile)
	}
	for _, setting := range append(append([]cgroup.Setting(nil), c.Devices...), c.Limits...) {
		add(setting.ConfigKey(), setting.Value)
	}

	add("lxc.start.auto", boolInt(c.Autostart))
	if c.LogFile != "" {
		add("lxc.log.file", c.LogFile)
		add("lxc.log.level", "WARN")
	}
	return lines
}

// mounts returns /sys, the init, its spec and c.Mounts. The init files go onto the tmpfs that
// autodev puts on /dev, so they need no mount points in a read-only rootfs.
func (c Config) mounts() []Mount {
	initDir := strings.TrimPrefix(initspec.Dir, "/")
	mounts := []Mount{
		// lxc.mount.auto's sys:ro mounts sysfs without nosuid, nodev and noexec.
		{"sysfs", "sys", "sysfs", "ro,nosuid,nodev,noexec,create=dir"},
		{c.InitBinary, initDir + "/init", "none", "bind,ro,nosuid,nodev,create=file"},
		{c.InitSpec, initDir + "/init.json", "none", "bind,ro,nosuid,nodev,noexec,create=file"},
	}
	return append(mounts, c.Mounts...)
}

// keepList renders lxc.cap.keep: the sorted capabilities, or "none".
func keepList(capabilities []string) string {
	if len(capabilities) == 0 {
		return "none"
	}
	sorted := append([]string(nil), capabilities...)
	sort.Strings(sorted)
	return strings.Join(sorted, " ")
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
