//go:build linux

package localdevice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Defaults and fixed values of every local device.
const (
	// DefaultRoot is the folder that holds one subfolder per device when Options.Root is empty.
	DefaultRoot = "/tmp/iotfleet-devices"

	// Port is the TCP port sshd listens on inside the device's network namespace.
	Port = 22

	// User is the account that the client key logs in as.
	User = "root"

	// LXCPath and StateDir are the folders, as seen inside the device, over which the device's
	// own lxc and iotfleet folders are mounted. They are the provider's defaults.
	LXCPath  = "/var/lib/lxc"
	StateDir = "/var/lib/iotfleet"

	// MaxNameLength keeps "iotf-" plus the name within the kernel's 15-byte interface names.
	MaxNameLength = 10

	namePrefix = "iotf-"
	deviceVeth = "eth0"
	stateFile  = "device.json"
)

// Errors that callers can check with errors.Is.
var (
	ErrNotFound       = errors.New("local device not found")
	ErrAlreadyRunning = errors.New("local device is already running")
)

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// Options selects the device that Start creates.
type Options struct {
	// Name identifies the device: 1 to MaxNameLength bytes of [a-z0-9-], starting and ending
	// with a letter or digit.
	Name string

	// Root is the folder that holds the device's folder. Empty means DefaultRoot.
	Root string
}

// Device is one local device, as recorded in its device.json.
type Device struct {
	Name string `json:"name"`

	// Namespace is the network namespace's name, as listed by `ip netns list`.
	Namespace string `json:"namespace"`

	// HostVeth is the host side of the veth pair, in the root network namespace.
	HostVeth string `json:"host_veth"`

	// DeviceVeth is the device side of the veth pair, inside Namespace.
	DeviceVeth string `json:"device_veth"`

	// HostIP is the host side's address, the source address of connections from the host.
	HostIP netip.Addr `json:"host_address"`

	// IP is the device's address, the one sshd listens on.
	IP netip.Addr `json:"address"`

	Port int    `json:"port"`
	User string `json:"user"`

	// HostPublicKey is sshd's host public key in authorized_keys form ("ssh-ed25519 AAAA...").
	HostPublicKey string `json:"host_public_key"`

	// ClientKeyPath is the OpenSSH private key file that logs in as User.
	ClientKeyPath string `json:"client_key_path"`

	// PID is the process ID of sshd, which runs inside both of the device's namespaces.
	PID int `json:"sshd_pid"`

	// Dir is the device's folder.
	Dir string `json:"dir"`

	// exited is closed once sshd exits. It is nil for a device that another process started.
	exited <-chan struct{}
}

// Address returns the device's IP address as a string, the host that SSH clients dial.
func (d *Device) Address() string {
	return d.IP.String()
}

// KnownHostsLine returns the known_hosts line that pins the device's host key.
func (d *Device) KnownHostsLine() string {
	host := d.Address()
	if d.Port != 22 {
		host = "[" + host + "]:" + strconv.Itoa(d.Port)
	}
	return host + " " + d.HostPublicKey
}

// Running reports whether the device's sshd is alive.
func (d *Device) Running() bool {
	return d.liveSSHD() != 0
}

// Path helpers for the files inside the device's folder.
func (d *Device) statePath() string      { return filepath.Join(d.Dir, stateFile) }
func (d *Device) configPath() string     { return filepath.Join(d.Dir, "sshd_config") }
func (d *Device) logPath() string        { return filepath.Join(d.Dir, "sshd.log") }
func (d *Device) hostKeyPath() string    { return filepath.Join(d.Dir, "ssh_host_ed25519_key") }
func (d *Device) authorizedPath() string { return filepath.Join(d.Dir, "authorized_keys") }
func (d *Device) pidPath() string        { return filepath.Join(d.Dir, "sshd.pid") }
func (d *Device) lxcDir() string         { return filepath.Join(d.Dir, "lxc") }
func (d *Device) stateDir() string       { return filepath.Join(d.Dir, "iotfleet") }
func (d *Device) sysfsDir() string       { return filepath.Join(d.Dir, "sysfs") }

// etcUpperDir and etcWorkDir hold the device's changes to /etc, an overlay on the host's.
func (d *Device) etcUpperDir() string { return filepath.Join(d.Dir, "etc") }
func (d *Device) etcWorkDir() string  { return filepath.Join(d.Dir, "etc-work") }
func (d *Device) netnsPath() string   { return filepath.Join("/run/netns", d.Namespace) }

// newDevice returns the parts of a device that follow from its name and root alone, which is
// enough for Stop to find what a crashed Start left behind.
func newDevice(root, name string) (*Device, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	dir, err := deviceDir(root, name)
	if err != nil {
		return nil, err
	}
	return &Device{
		Name:          name,
		Namespace:     namePrefix + name,
		HostVeth:      namePrefix + name,
		DeviceVeth:    deviceVeth,
		Port:          Port,
		User:          User,
		ClientKeyPath: filepath.Join(dir, "id_ed25519"),
		Dir:           dir,
	}, nil
}

// ValidateName returns an error unless name can name a device.
func ValidateName(name string) error {
	if len(name) > MaxNameLength || !validName.MatchString(name) {
		return fmt.Errorf("invalid device name %q: use 1 to %d characters of a-z, 0-9 and '-', "+
			"starting and ending with a letter or digit", name, MaxNameLength)
	}
	return nil
}

// deviceDir returns the absolute folder of the named device. The root must be usable in
// sshd_config, which expands '%' in some keywords and ends a quoted value at '"'.
func deviceDir(root, name string) (string, error) {
	if root == "" {
		root = DefaultRoot
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("resolve device root %q: %w", root, err)
	}
	if i := strings.IndexFunc(abs, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == '"' || r == '%' || r == '\\'
	}); i >= 0 {
		return "", fmt.Errorf("invalid device root %q: it contains %q, which sshd_config cannot "+
			"carry; choose a folder without control characters, '\"', '%%' or '\\'", root, abs[i])
	}
	return filepath.Join(abs, name), nil
}

// Load reads the state file of the named device in root ("" means DefaultRoot). It returns an
// error wrapping ErrNotFound when the device has no state file.
func Load(root, name string) (*Device, error) {
	d, err := newDevice(root, name)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(d.statePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load device %q: %w (no %s)", name, ErrNotFound, d.statePath())
	}
	if err != nil {
		return nil, fmt.Errorf("load device %q: %w", name, err)
	}

	var loaded Device
	if err := json.Unmarshal(data, &loaded); err != nil {
		return nil, fmt.Errorf("load device %q: parse %s: %w", name, d.statePath(), err)
	}
	if loaded.Name != name || loaded.Namespace != d.Namespace || loaded.HostVeth != d.HostVeth {
		return nil, fmt.Errorf("load device %q: %s describes device %q in namespace %q; "+
			"remove the folder %s", name, d.statePath(), loaded.Name, loaded.Namespace, d.Dir)
	}

	// The folder, and so what Stop deletes, always follows from root and name, never from the file.
	loaded.Dir = d.Dir
	loaded.ClientKeyPath = d.ClientKeyPath
	return &loaded, nil
}

// List loads every device in root ("" means DefaultRoot), sorted by name. Subfolders without a
// state file are skipped.
func List(root string) ([]*Device, error) {
	if root == "" {
		root = DefaultRoot
	}
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}

	var devices []*Device
	for _, entry := range entries {
		if !entry.IsDir() || ValidateName(entry.Name()) != nil {
			continue
		}
		d, err := Load(root, entry.Name())
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		devices = append(devices, d)
	}
	sort.Slice(devices, func(i, j int) bool { return devices[i].Name < devices[j].Name })
	return devices, nil
}

// writeState writes device.json atomically, so a crash never leaves a truncated file.
func (d *Device) writeState() error {
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("write device state: %w", err)
	}
	tmp := d.statePath() + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write device state: %w", err)
	}
	if err := os.Rename(tmp, d.statePath()); err != nil {
		return fmt.Errorf("write device state: %w", err)
	}
	return nil
}

// exists reports whether anything of the device is left on the machine: its folder, its
// network namespace or its host-side veth.
func (d *Device) exists() bool {
	for _, path := range []string{d.Dir, d.netnsPath()} {
		if _, err := os.Lstat(path); err == nil {
			return true
		}
	}
	_, err := net.InterfaceByName(d.HostVeth)
	return err == nil
}

// startTimeout bounds a Start whose context has no deadline.
const startTimeout = 30 * time.Second

// Start creates and starts the device that opts names, and returns once its sshd accepts TCP
// connections. Starting a device that is running returns an error wrapping ErrAlreadyRunning.
// Leftovers of a device with the same name that is not running, for example after a crash, are
// removed first. When Start fails, it removes whatever it created.
func Start(ctx context.Context, opts Options) (*Device, error) {
	d, err := newDevice(opts.Root, opts.Name)
	if err != nil {
		return nil, fmt.Errorf("start device: %w", err)
	}
	if err := checkHost(); err != nil {
		return nil, fmt.Errorf("start device %q: %w", d.Name, err)
	}
	if err := ensureRootFolder(filepath.Dir(d.Dir)); err != nil {
		return nil, fmt.Errorf("start device %q: %w", d.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	// One lock for the whole machine: it keeps two starts from taking the same subnet or name.
	unlock, err := lockMachine(ctx)
	if err != nil {
		return nil, fmt.Errorf("start device %q: %w", d.Name, err)
	}
	defer unlock()

	if err := d.clearLeftovers(ctx, opts.Root); err != nil {
		return nil, fmt.Errorf("start device %q: %w", d.Name, err)
	}
	if err := d.create(ctx); err != nil {
		cleanupCtx, cancelCleanup := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancelCleanup()
		if stopErr := d.Stop(cleanupCtx); stopErr != nil {
			err = errors.Join(err, fmt.Errorf("clean up after failed start: %w", stopErr))
		}
		return nil, fmt.Errorf("start device %q: %w", d.Name, err)
	}
	return d, nil
}

// ensureRootFolder creates the folder that holds the devices' folders and checks that only root
// can write to it. Anyone who can replace a device's authorized_keys gets a root shell on the
// device, and a device shares the host's file system.
func ensureRootFolder(root string) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("create device root: %w", err)
	}
	info, err := os.Lstat(root)
	if err != nil {
		return fmt.Errorf("check device root: %w", err)
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !info.IsDir() || !ok || st.Uid != 0 || info.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("unsafe device root %s (%v): it must be a folder that is owned by root "+
			"and writable only by root; remove it or choose another root", root, info.Mode())
	}
	return nil
}

// clearLeftovers rejects a running device of the same name and stops one that is not running.
func (d *Device) clearLeftovers(ctx context.Context, root string) error {
	if !d.exists() {
		return nil
	}
	if old, err := Load(root, d.Name); err == nil && old.Running() {
		return fmt.Errorf("%w: sshd PID %d listens on %s; stop it first", ErrAlreadyRunning,
			old.PID, net.JoinHostPort(old.Address(), strconv.Itoa(old.Port)))
	}
	if err := d.Stop(ctx); err != nil {
		return fmt.Errorf("remove leftovers of an earlier run: %w", err)
	}
	return nil
}

// create builds the folder, the network and sshd, in that order.
func (d *Device) create(ctx context.Context) error {
	if err := d.writeFiles(); err != nil {
		return err
	}
	if err := d.createNetwork(ctx); err != nil {
		return err
	}
	if err := d.writeConfig(); err != nil {
		return err
	}
	if err := d.writeState(); err != nil {
		return err
	}
	if err := d.startSSHD(); err != nil {
		return err
	}
	// Record the PID before waiting, so a crash during the wait leaves a stoppable device.
	if err := d.writeState(); err != nil {
		return err
	}
	return d.waitReady(ctx)
}
