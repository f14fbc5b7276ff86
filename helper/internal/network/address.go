package network

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Attachment is one container NIC on a network, with everything its LXC keys need.
type Attachment struct {
	Network string

	// Bridge is the interface that the NIC's host-side veth is attached to.
	Bridge string

	// Address is the container's address with the subnet's prefix length.
	Address netip.Prefix

	// Gateway is the device's address on the network.
	Gateway netip.Addr

	// HWAddr is the NIC's MAC address, stable for as long as the container keeps its address.
	HWAddr string

	// PortHook is the script that LXC runs once the host-side veth is on the bridge.
	PortHook string
}

// allocation is one container's entry in a network's addresses file.
type allocation struct {
	IPv4Address string `json:"ipv4_address"`
	HWAddr      string `json:"hwaddr"`
}

// allocations is the content of a network's addresses file.
type allocations struct {
	// Containers maps container names to their allocations.
	Containers map[string]allocation `json:"containers"`
}

// AllocateAddress returns the named container's attachment to network. An empty requested
// address keeps the container's current address on the network or allocates the lowest free
// one; a requested address must be a free host address of the subnet other than the gateway.
// The allocation is recorded, so it survives restarts until ReleaseAddresses drops it.
//
// The caller holds the locks that Attach needs. Errors carry CodeNotFound for a missing
// network, CodeInvalid for an unusable address and CodeConflict for a taken one.
func AllocateAddress(stateDir, network, container, requested string) (Attachment, error) {
	if err := validateContainerName(container); err != nil {
		return Attachment{}, err
	}
	record, err := loadRecord(stateDir, network)
	if errors.Is(err, fs.ErrNotExist) {
		return Attachment{}, notFound(network)
	}
	if err != nil {
		return Attachment{}, err
	}
	gateway, err := protocol.ParseNetworkCIDR(record.Spec.IPv4CIDR)
	if err != nil {
		return Attachment{}, fmt.Errorf("network %s has a damaged record: %w", network, err)
	}
	table, err := loadAllocations(stateDir, network)
	if err != nil {
		return Attachment{}, err
	}

	address, err := pickAddress(network, gateway, table, container, requested)
	if err != nil {
		return Attachment{}, err
	}
	entry := table.Containers[container]
	if entry.HWAddr == "" {
		entry.HWAddr = stableHWAddr(network, container, table)
	}
	entry.IPv4Address = address.String()
	table.Containers[container] = entry
	if err := saveAllocations(stateDir, network, table); err != nil {
		return Attachment{}, err
	}

	return Attachment{
		Network:  network,
		Bridge:   record.Spec.Name,
		Address:  netip.PrefixFrom(address, gateway.Bits()),
		Gateway:  gateway.Addr(),
		HWAddr:   entry.HWAddr,
		PortHook: PortHookPath(stateDir, network),
	}, nil
}

// Attach allocates the addresses of all of a container's NICs, in order, and releases the
// container's addresses on networks that nics no longer names. Each network may appear once.
// An error names the NIC that caused it as "networks[INDEX]", after the field of
// protocol.ContainerSpec. When it fails, the allocations of NICs before the failing one stay
// changed.
//
// The caller holds the state folder's exclusive lock, or its shared lock together with the
// lock file at AddressesLock.
func Attach(stateDir, container string, nics []protocol.ContainerNIC) ([]Attachment, error) {
	seen := make(map[string]bool, len(nics))
	for i, nic := range nics {
		if err := protocol.ValidateNetworkName(nic.Network); err != nil {
			return nil, protocol.Errorf(protocol.CodeInvalid, "networks[%d]: %v", i, err)
		}
		if seen[nic.Network] {
			return nil, protocol.Errorf(protocol.CodeInvalid,
				"networks[%d]: container %q attaches to network %q twice; give each network one NIC",
				i, container, nic.Network)
		}
		seen[nic.Network] = true
	}
	attachments := make([]Attachment, 0, len(nics))
	for i, nic := range nics {
		attachment, err := AllocateAddress(stateDir, nic.Network, container, nic.IPv4Address)
		if err != nil {
			return nil, nicError(i, err)
		}
		attachments = append(attachments, attachment)
	}
	keep := make([]string, 0, len(nics))
	for _, nic := range nics {
		keep = append(keep, nic.Network)
	}
	if err := ReleaseAddresses(stateDir, container, keep...); err != nil {
		return nil, err
	}
	return attachments, nil
}

// nicError prefixes err with the index of the NIC it is about, keeping its protocol code.
func nicError(index int, err error) error {
	var helperErr *protocol.Error
	if errors.As(err, &helperErr) {
		return protocol.Errorf(helperErr.Code, "networks[%d]: %s", index, helperErr.Message)
	}
	return fmt.Errorf("networks[%d]: %w", index, err)
}

// AddressesLock returns the path of the lock file that container operations hold while they
// change allocations. They hold only the state folder's shared lock, so that containers change
// in parallel, while network operations hold its exclusive lock.
func AddressesLock(stateDir string) string {
	return filepath.Join(stateDir, state.LocksDir, "network-addresses")
}

// ReleaseAddresses drops the named container's addresses on every network except those in
// keep, for example when the container is deleted. The caller holds the locks that Attach
// needs.
func ReleaseAddresses(stateDir, container string, keep ...string) error {
	records, err := loadRecords(stateDir)
	if err != nil {
		return err
	}
	for _, record := range records {
		name := record.Spec.Name
		if slices.Contains(keep, name) {
			continue
		}
		table, err := loadAllocations(stateDir, name)
		if err != nil {
			return err
		}
		if _, ok := table.Containers[container]; !ok {
			continue
		}
		delete(table.Containers, container)
		if err := saveAllocations(stateDir, name, table); err != nil {
			return err
		}
	}
	return nil
}

// pickAddress returns the address that container gets on network.
func pickAddress(network string, gateway netip.Prefix, table allocations, container, requested string) (netip.Addr, error) {
	subnet := gateway.Masked()
	taken := make(map[netip.Addr]string, len(table.Containers))
	for name, entry := range table.Containers {
		if addr, err := netip.ParseAddr(entry.IPv4Address); err == nil && name != container {
			taken[addr] = name
		}
	}

	if requested == "" {
		current, err := netip.ParseAddr(table.Containers[container].IPv4Address)
		if err == nil && isHost(subnet, current) && current != gateway.Addr() && taken[current] == "" {
			return current, nil
		}
		return lowestFree(network, gateway, taken)
	}

	addr, err := netip.ParseAddr(requested)
	if err != nil || !addr.Is4() {
		return netip.Addr{}, protocol.Errorf(protocol.CodeInvalid,
			"invalid ipv4_address %q for container %q: use an IPv4 address without prefix length, such as %s",
			requested, container, subnet.Addr().Next().Next())
	}
	usable := usableRange(gateway)
	switch {
	case !subnet.Contains(addr):
		return netip.Addr{}, protocol.Errorf(protocol.CodeInvalid,
			"ipv4_address %s of container %q is outside subnet %s of network %q; use an address from %s",
			addr, container, subnet, network, usable)
	case addr == gateway.Addr():
		return netip.Addr{}, protocol.Errorf(protocol.CodeInvalid,
			"ipv4_address %s of container %q is the gateway of network %q; use another address from %s",
			addr, container, network, usable)
	case !isHost(subnet, addr):
		kind := "broadcast"
		if addr == subnet.Addr() {
			kind = "network"
		}
		return netip.Addr{}, protocol.Errorf(protocol.CodeInvalid,
			"ipv4_address %s of container %q is the %s address of %s; use an address from %s",
			addr, container, kind, subnet, usable)
	case taken[addr] != "":
		return netip.Addr{}, protocol.Errorf(protocol.CodeConflict,
			"ipv4_address %s on network %q already belongs to container %q; pick another address or "+
				"leave ipv4_address unset to get a free one", addr, network, taken[addr])
	}
	return addr, nil
}

// lowestFree returns the lowest host address of the subnet that is neither the gateway nor
// taken.
func lowestFree(network string, gateway netip.Prefix, taken map[netip.Addr]string) (netip.Addr, error) {
	first, last := hostRange(gateway.Masked())
	for addr := first; addr.Compare(last) <= 0; addr = addr.Next() {
		if addr != gateway.Addr() && taken[addr] == "" {
			return addr, nil
		}
	}
	return netip.Addr{}, protocol.Errorf(protocol.CodeConflict,
		"network %q has no free address left in %s; remove a container from it or recreate the "+
			"network with a shorter prefix length", network, gateway.Masked())
}

// usableRange describes the addresses that containers may take on the network of gateway,
// such as "10.80.0.2 to 10.80.0.254".
func usableRange(gateway netip.Prefix) string {
	first, last := hostRange(gateway.Masked())
	switch gateway.Addr() {
	case first:
		first = first.Next()
	case last:
		last = last.Prev()
	default:
		return fmt.Sprintf("%s to %s other than the gateway %s", first, last, gateway.Addr())
	}
	if first == last {
		return first.String()
	}
	return fmt.Sprintf("%s to %s", first, last)
}

// hostRange returns the first and last host address of an IPv4 subnet of /30 or larger.
func hostRange(subnet netip.Prefix) (first, last netip.Addr) {
	return subnet.Addr().Next(), protocol.BroadcastAddress(subnet).Prev()
}

// isHost reports whether addr is in subnet and neither its network nor its broadcast address.
func isHost(subnet netip.Prefix, addr netip.Addr) bool {
	return subnet.Contains(addr) && addr != subnet.Addr() && addr != protocol.BroadcastAddress(subnet)
}

// stableHWAddr derives a locally administered unicast MAC address from the network and
// container names, so a recreated container keeps its MAC. A clash with another container's
// MAC on the network, which the 46 free bits make unlikely, is resolved by hashing again.
func stableHWAddr(network, container string, table allocations) string {
	used := make(map[string]bool, len(table.Containers))
	for _, entry := range table.Containers {
		used[entry.HWAddr] = true
	}
	seed := network + "/" + container
	for {
		sum := sha256.Sum256([]byte(seed))
		// Set the locally administered bit and clear the multicast bit.
		sum[0] = sum[0]&0xfc | 0x02
		hwaddr := net.HardwareAddr(sum[:6]).String()
		if !used[hwaddr] {
			return hwaddr
		}
		seed = hwaddr
	}
}

// validateContainerName rejects names that cannot be a container folder in the LXC path.
func validateContainerName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return protocol.Errorf(protocol.CodeInvalid, "invalid container name %q", name)
	}
	return nil
}

// loadAllocations reads a network's addresses file; a missing file has no allocations.
func loadAllocations(stateDir, network string) (allocations, error) {
	table := allocations{Containers: map[string]allocation{}}
	path := filepath.Join(recordDir(stateDir, network), addressesFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return table, nil
	}
	if err != nil {
		return table, fmt.Errorf("read addresses of network %s: %w", network, err)
	}
	if err := json.Unmarshal(data, &table); err != nil {
		return table, fmt.Errorf("read addresses of network %s: %s: %w", network, path, err)
	}
	if table.Containers == nil {
		table.Containers = map[string]allocation{}
	}
	return table, nil
}

// saveAllocations writes a network's addresses file.
func saveAllocations(stateDir, network string, table allocations) error {
	data, err := json.MarshalIndent(table, "", "  ")
	if err != nil {
		return fmt.Errorf("encode addresses of network %s: %w", network, err)
	}
	path := filepath.Join(recordDir(stateDir, network), addressesFile)
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save addresses of network %s: %w", network, err)
	}
	return nil
}

// dropStaleAllocations removes the allocations that no longer fit gateway: outside its subnet,
// or equal to the gateway itself.
func dropStaleAllocations(stateDir, network string, gateway netip.Prefix) error {
	table, err := loadAllocations(stateDir, network)
	if err != nil {
		return err
	}
	changed := false
	for name, entry := range table.Containers {
		addr, err := netip.ParseAddr(entry.IPv4Address)
		if err != nil || !isHost(gateway.Masked(), addr) || addr == gateway.Addr() {
			delete(table.Containers, name)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return saveAllocations(stateDir, network, table)
}
