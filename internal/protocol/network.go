package protocol

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Operations on container networks: one Linux bridge per network, with the firewall rules,
// forwarding settings and bridge port settings that its mode calls for.
const (
	// OpNetworkApply creates the network that NetworkSpec describes, or changes an existing one
	// to match it, records the spec in the state folder and returns NetworkApplyResult.
	OpNetworkApply = "network.apply"

	// OpNetworkCheck validates a NetworkSpec against the device without changing anything, and
	// returns NetworkCheckResult. It fails as OpNetworkApply would, with CodeInvalid or
	// CodeConflict, so a plan can show the problem before anything is applied.
	OpNetworkCheck = "network.check"

	// OpNetworkGet returns the NetworkState of the network named by NetworkName, or
	// CodeNotFound when the state folder holds no spec for it.
	OpNetworkGet = "network.get"

	// OpNetworkDelete removes the bridge, its firewall rules and its records, and returns
	// NetworkDeleteResult. It fails with CodeConflict, naming the containers, while a container
	// configuration in the LXC path links a NIC to the bridge. A missing network is not an error.
	OpNetworkDelete = "network.delete"

	// OpNetworkRestore recreates every recorded network, for example after a reboot, then
	// starts the containers in the LXC path whose configuration sets lxc.start.auto = 1. It
	// takes no params and returns NetworkRestoreResult.
	OpNetworkRestore = "network.restore"
)

// Network modes.
const (
	// NetworkModeBridge lets containers reach each other and the device. The device does not
	// route their traffic anywhere else.
	NetworkModeBridge = "bridge"

	// NetworkModeNAT is NetworkModeBridge plus outbound traffic, masqueraded behind the device's
	// address on the uplink. Traffic between two NAT networks of one device is routed without
	// masquerading, so each side sees the other's real address.
	NetworkModeNAT = "nat"

	// NetworkModeIsolated lets containers reach the device only, not each other.
	NetworkModeIsolated = "isolated"
)

// NetworkModes lists the modes in the order that documentation shows them.
var NetworkModes = []string{NetworkModeBridge, NetworkModeNAT, NetworkModeIsolated}

// NetworkName is the params of OpNetworkGet and OpNetworkDelete.
type NetworkName struct {
	Name string `json:"name"`
}

// NetworkSpec is the desired state of one network.
type NetworkSpec struct {
	// Name is also the name of the bridge interface, so it follows the kernel's limit of
	// 15 bytes.
	Name string `json:"name"`

	// Mode is NetworkModeBridge, NetworkModeNAT or NetworkModeIsolated.
	Mode string `json:"mode"`

	// IPv4CIDR is the device's gateway address on the bridge with the subnet's prefix length,
	// such as "10.80.0.1/24".
	IPv4CIDR string `json:"ipv4_cidr"`

	// Uplink is the interface that NAT traffic leaves through. Empty takes the interface of
	// the device's default route when the spec is applied. Only NAT networks may set it.
	Uplink string `json:"uplink,omitempty"`

	// MTU of the bridge in bytes; zero keeps the kernel's default for a new bridge.
	MTU int `json:"mtu,omitempty"`
}

// NetworkState is the helper's observation of a network, next to its recorded spec.
type NetworkState struct {
	// Spec is the spec that the network was last applied with.
	Spec NetworkSpec `json:"spec"`

	// Subnet is the network's prefix, such as "10.80.0.0/24".
	Subnet string `json:"subnet"`

	// Uplink is the interface that NAT traffic leaves through, resolved when the spec was
	// applied. It is empty for other modes.
	Uplink string `json:"uplink,omitempty"`

	// Bridge is the name of the bridge interface, empty when the bridge is missing.
	Bridge string `json:"bridge"`

	// IPv4Addresses lists the IPv4 addresses on the bridge in CIDR form, sorted.
	IPv4Addresses []string `json:"ipv4_addresses"`

	// MTU is the bridge's MTU, zero when the bridge is missing.
	MTU int `json:"mtu"`

	// Forwarding reports whether the device routes IPv4 packets that arrive from the network,
	// and for a NAT network also the replies that arrive on its uplink.
	Forwarding bool `json:"forwarding"`

	// RulesInPlace reports whether the firewall rules that the helper installed for the
	// network are all present and, for an isolated network, every bridge port is isolated.
	RulesInPlace bool `json:"rules_in_place"`
}

// NetworkApplyResult is the result of OpNetworkApply.
type NetworkApplyResult struct {
	State NetworkState `json:"state"`

	// BootHook describes how the device recreates its networks at boot: the systemd unit that
	// runs OpNetworkRestore, or a message that starts with NoBootHook and says why there is none.
	BootHook string `json:"boot_hook"`
}

// NoBootHook starts NetworkApplyResult.BootHook and NetworkRestoreResult.BootHook when the
// device has no boot hook for its networks.
const NoBootHook = "no boot hook"

// NetworkCheckResult is the result of OpNetworkCheck.
type NetworkCheckResult struct {
	// Uplink is the interface that the network's NAT traffic would leave through, empty for
	// other modes.
	Uplink string `json:"uplink,omitempty"`
}

// NetworkDeleteResult is the result of OpNetworkDelete.
type NetworkDeleteResult struct {
	// Deleted is false when the network did not exist.
	Deleted bool `json:"deleted"`
}

// NetworkRestoreResult is the result of OpNetworkRestore.
type NetworkRestoreResult struct {
	// Networks lists the networks recreated, sorted.
	Networks []string `json:"networks"`

	// Started lists the autostart containers that were started, sorted. Containers that were
	// already running are not listed.
	Started []string `json:"started"`

	// Failed maps each autostart container that did not start to the reason.
	Failed map[string]string `json:"failed,omitempty"`

	// BootHook is as in NetworkApplyResult.
	BootHook string `json:"boot_hook"`
}

// ContainerNIC attaches a container to a network that OpNetworkApply created. The container
// side turns it into lxc.net.N.* keys with the helper's network package.
type ContainerNIC struct {
	// Network is the network's name.
	Network string `json:"network"`

	// IPv4Address is the container's address without prefix length, such as "10.80.0.5".
	// Empty allocates a free address, which then stays the container's until it leaves the
	// network.
	IPv4Address string `json:"ipv4_address,omitempty"`
}

// Limits of network specs.
const (
	// MaxInterfaceNameBytes is the kernel's limit for interface names (IFNAMSIZ less the NUL).
	MaxInterfaceNameBytes = 15

	// MinNetworkPrefixBits and MaxNetworkPrefixBits bound a network's prefix length. A /30
	// still holds the gateway and one container; /31 and /32 have no room for both.
	MinNetworkPrefixBits = 8
	MaxNetworkPrefixBits = 30

	// MinMTU and MaxMTU bound a bridge's MTU: 68 bytes is the IPv4 minimum (RFC 791), and the
	// kernel accepts at most 65535 for a bridge.
	MinMTU = 68
	MaxMTU = 65535
)

var (
	networkNamePattern   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,14}$`)
	interfaceNamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,15}$`)

	// reservedIPv4 are ranges that cannot carry a container network: "this network",
	// loopback, link-local, multicast and the reserved class E with the broadcast address.
	reservedIPv4 = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("224.0.0.0/4"),
		netip.MustParsePrefix("240.0.0.0/4"),
	}
)

// Validate checks every field of s and that only NAT networks set an uplink. The error names
// the field and the fix.
func (s NetworkSpec) Validate() error {
	if err := ValidateNetworkName(s.Name); err != nil {
		return err
	}
	if err := ValidateNetworkMode(s.Mode); err != nil {
		return err
	}
	if _, err := ParseNetworkCIDR(s.IPv4CIDR); err != nil {
		return err
	}
	if s.Uplink != "" {
		if err := ValidateInterfaceName(s.Uplink); err != nil {
			return fmt.Errorf("invalid uplink: %w", err)
		}
		if s.Mode != NetworkModeNAT {
			return fmt.Errorf("uplink %q is set but mode is %q; only %q networks use an uplink, "+
				"so remove uplink or set mode to %q", s.Uplink, s.Mode, NetworkModeNAT, NetworkModeNAT)
		}
	}
	if s.MTU != 0 {
		return ValidateMTU(s.MTU)
	}
	return nil
}

// ValidateNetworkName checks that name can name a network and its bridge interface.
func ValidateNetworkName(name string) error {
	if !networkNamePattern.MatchString(name) {
		return fmt.Errorf("invalid network name %q: use 1 to %d characters of a-z, 0-9 and '-', "+
			"starting with a letter, because the name is also the bridge's interface name",
			name, MaxInterfaceNameBytes)
	}
	return nil
}

// ValidateNetworkMode checks that mode is one of NetworkModes.
func ValidateNetworkMode(mode string) error {
	if !slices.Contains(NetworkModes, mode) {
		return fmt.Errorf("invalid network mode %q: use one of %s", mode, strings.Join(NetworkModes, ", "))
	}
	return nil
}

// ValidateInterfaceName checks that name is an interface name that the kernel accepts and
// that can be quoted in an nftables rule.
func ValidateInterfaceName(name string) error {
	if !interfaceNamePattern.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("invalid interface name %q: use 1 to %d characters of letters, digits, "+
			"'_', '.' and '-', such as \"eth0\" or \"wlan0\"", name, MaxInterfaceNameBytes)
	}
	return nil
}

// ValidateMTU checks that mtu is within MinMTU and MaxMTU.
func ValidateMTU(mtu int) error {
	if mtu < MinMTU || mtu > MaxMTU {
		return fmt.Errorf("invalid mtu %d: use a value from %d to %d bytes", mtu, MinMTU, MaxMTU)
	}
	return nil
}

// ParseNetworkCIDR parses a network's gateway address with prefix length, such as
// "10.80.0.1/24". The address must be IPv4, outside reserved ranges, and a host address of its
// subnet: neither the network address nor the broadcast address.
func ParseNetworkCIDR(cidr string) (netip.Prefix, error) {
	const example = `such as "10.80.0.1/24"`
	gateway, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid ipv4_cidr %q: use the gateway address with a "+
			"prefix length from /%d to /%d, %s", cidr, MinNetworkPrefixBits, MaxNetworkPrefixBits, example)
	}
	addr := gateway.Addr()
	if !addr.Is4() {
		return netip.Prefix{}, fmt.Errorf("invalid ipv4_cidr %q: use an IPv4 address, %s", cidr, example)
	}
	if bits := gateway.Bits(); bits < MinNetworkPrefixBits || bits > MaxNetworkPrefixBits {
		return netip.Prefix{}, fmt.Errorf("invalid ipv4_cidr %q: use a prefix length from /%d to /%d, "+
			"so the subnet holds the gateway and at least one container", cidr,
			MinNetworkPrefixBits, MaxNetworkPrefixBits)
	}
	for _, reserved := range reservedIPv4 {
		if reserved.Contains(addr) {
			return netip.Prefix{}, fmt.Errorf("invalid ipv4_cidr %q: %s is in the reserved range %s; "+
				"use a private range such as 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16", cidr, addr, reserved)
		}
	}
	subnet := gateway.Masked()
	if addr == subnet.Addr() {
		return netip.Prefix{}, fmt.Errorf("invalid ipv4_cidr %q: %s is the network address of %s, "+
			"not a host address; use the gateway's own address, such as %s", cidr, addr, subnet,
			netip.PrefixFrom(addr.Next(), gateway.Bits()))
	}
	if addr == BroadcastAddress(subnet) {
		return netip.Prefix{}, fmt.Errorf("invalid ipv4_cidr %q: %s is the broadcast address of %s, "+
			"not a host address; use the gateway's own address, such as %s", cidr, addr, subnet,
			netip.PrefixFrom(subnet.Addr().Next(), gateway.Bits()))
	}
	return gateway, nil
}

// BroadcastAddress returns the last address of the IPv4 prefix p.
func BroadcastAddress(p netip.Prefix) netip.Addr {
	base := p.Masked().Addr().As4()
	value := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	value |= 1<<(32-p.Bits()) - 1
	return netip.AddrFrom4([4]byte{byte(value >> 24), byte(value >> 16), byte(value >> 8), byte(value)})
}
