// Package device reaches Linux devices over SSH, installs the bundled helper on them and calls
// it through the typed protocol in package protocol. It imports nothing from Terraform.
package device

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"time"
)

// Defaults for a Target's optional fields.
const (
	DefaultPort     = 22
	DefaultUser     = "root"
	DefaultStateDir = "/var/lib/iotfleet"
	DefaultLXCPath  = "/var/lib/lxc"
)

// Target identifies one device and how to verify it. It carries no secret, so resources can
// keep it in Terraform state.
type Target struct {
	Host string
	Port int
	User string

	// HostKey is the pinned host public key in authorized_keys form ("ssh-ed25519 AAAA...")
	// or ssh-keyscan form ("host ssh-ed25519 AAAA..."). Empty means the key is checked against
	// Credentials.KnownHostsFile instead.
	HostKey string

	// StateDir is the absolute folder on the device where the helper and its records live.
	StateDir string

	// LXCPath is the absolute LXC path on the device.
	LXCPath string
}

// Address returns host:port, with brackets around an IPv6 literal.
func (t Target) Address() string {
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// ID returns the target's identity in user@host:port form, which is also the import ID of a
// device resource.
func (t Target) ID() string {
	return t.User + "@" + t.Address()
}

// HelperPath returns the path of the helper binary on the device.
func (t Target) HelperPath() string {
	return path.Join(t.StateDir, "bin", "iotfleet-helper")
}

func (t Target) String() string {
	return fmt.Sprintf("device %s", t.ID())
}

// Credentials are the provider-wide secrets and settings used to reach every device. They never
// leave the provider process.
type Credentials struct {
	// PrivateKey is a PEM or OpenSSH private key. Empty means no key is offered.
	PrivateKey []byte

	// PrivateKeyPassphrase decrypts PrivateKey when it is encrypted.
	PrivateKeyPassphrase []byte

	// AgentSocket is the path of an SSH agent's socket (SSH_AUTH_SOCK). Empty means no agent.
	AgentSocket string

	// KnownHostsFile is a known_hosts file used for targets without a pinned HostKey. It is
	// only read, never written.
	KnownHostsFile string

	// ConnectTimeout bounds dialing, including retries, and the SSH handshake.
	ConnectTimeout time.Duration

	// MaxSessions caps the sessions open at once on one connection; sshd's MaxSessions
	// defaults to 10.
	MaxSessions int
}
