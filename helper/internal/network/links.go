package network

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/vishvananda/netlink"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// dumpAttempts bounds the retries of a netlink dump that the kernel interrupted because the
// list changed while it was read.
const dumpAttempts = 5

// retryDump calls dump until it is not interrupted.
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var err error
	for range dumpAttempts {
		var items []T
		items, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return items, err
		}
	}
	return nil, err
}

// linkByName returns the named interface, or nil when there is none.
func linkByName(name string) (netlink.Link, error) {
	link, err := netlink.LinkByName(name)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up interface %s: %w", name, err)
	}
	return link, nil
}

// isBridge reports whether link is a Linux bridge.
func isBridge(link netlink.Link) bool {
	return link.Type() == "bridge"
}

// ensureBridge creates the network's bridge or brings an existing one in line with spec:
// exactly the gateway address as its IPv4 address, the MTU when spec sets one, and up. It
// returns whether it created the bridge.
func ensureBridge(spec protocol.NetworkSpec, gateway netip.Prefix) (created bool, err error) {
	link, err := linkByName(spec.Name)
	if err != nil {
		return false, err
	}
	if link == nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name = spec.Name
		attrs.MTU = spec.MTU
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
			return false, fmt.Errorf("create bridge %s: %w", spec.Name, err)
		}
		created = true
		if link, err = netlink.LinkByName(spec.Name); err != nil {
			return created, fmt.Errorf("look up new bridge %s: %w", spec.Name, err)
		}
	} else if !isBridge(link) {
		return false, notOurInterface(spec.Name, link)
	}

	if spec.MTU != 0 && link.Attrs().MTU != spec.MTU {
		if err := netlink.LinkSetMTU(link, spec.MTU); err != nil {
			return created, fmt.Errorf("set mtu %d on bridge %s: %w", spec.MTU, spec.Name, err)
		}
	}
	if err := setOnlyAddress(link, gateway); err != nil {
		return created, err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return created, fmt.Errorf("bring bridge %s up: %w", spec.Name, err)
	}
	return created, nil
}

// notOurInterface returns the CodeConflict error for an interface that has a network's name
// but is not a bridge.
func notOurInterface(name string, link netlink.Link) error {
	return protocol.Errorf(protocol.CodeConflict,
		"interface %s on the device is a %s, not a bridge, so it cannot carry network %q; "+
			"rename the network or remove the interface", name, link.Type(), name)
}

// setOnlyAddress makes gateway the only IPv4 address of link.
func setOnlyAddress(link netlink.Link, gateway netip.Prefix) error {
	name := link.Attrs().Name
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_V4) })
	if err != nil {
		return fmt.Errorf("list addresses of %s: %w", name, err)
	}
	present := false
	for _, addr := range addrs {
		if prefixOf(addr) == gateway {
			present = true
			continue
		}
		if err := netlink.AddrDel(link, &addr); err != nil {
			return fmt.Errorf("remove address %s from %s: %w", prefixOf(addr), name, err)
		}
	}
	if present {
		return nil
	}
	addr, err := netlink.ParseAddr(gateway.String())
	if err != nil {
		return fmt.Errorf("parse gateway %s: %w", gateway, err)
	}
	if err := netlink.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("add address %s to %s: %w", gateway, name, err)
	}
	return nil
}

// prefixOf converts a netlink address into a prefix that keeps the host bits.
func prefixOf(addr netlink.Addr) netip.Prefix {
	ip, ok := netip.AddrFromSlice(addr.IP)
	if !ok {
		return netip.Prefix{}
	}
	bits, _ := addr.Mask.Size()
	return netip.PrefixFrom(ip.Unmap(), bits)
}

// bridgeView is Get's observation of a network's bridge.
type bridgeView struct {
	present   bool
	addresses []string
	mtu       int

	// unisolatedPorts counts the bridge's ports that are not isolated.
	unisolatedPorts int
}

// observeBridge reads the named bridge. A missing interface, or one that is not a bridge, is
// reported as not present.
func observeBridge(name string) (bridgeView, error) {
	link, err := linkByName(name)
	if err != nil || link == nil || !isBridge(link) {
		return bridgeView{}, err
	}
	view := bridgeView{present: true, mtu: link.Attrs().MTU, addresses: []string{}}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_V4) })
	if err != nil {
		return bridgeView{}, fmt.Errorf("list addresses of %s: %w", name, err)
	}
	for _, addr := range addrs {
		view.addresses = append(view.addresses, prefixOf(addr).String())
	}
	sort.Strings(view.addresses)

	ports, err := bridgePorts(link)
	if err != nil {
		return bridgeView{}, err
	}
	for _, port := range ports {
		info, err := netlink.LinkGetProtinfo(port)
		if err != nil {
			return bridgeView{}, fmt.Errorf("read bridge port %s: %w", port.Attrs().Name, err)
		}
		if !info.Isolated {
			view.unisolatedPorts++
		}
	}
	return view, nil
}

// bridgePorts returns the interfaces attached to bridge.
func bridgePorts(bridge netlink.Link) ([]netlink.Link, error) {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var ports []netlink.Link
	for _, link := range links {
		if link.Attrs().MasterIndex == bridge.Attrs().Index {
			ports = append(ports, link)
		}
	}
	return ports, nil
}

// setPortIsolation isolates every port of the named bridge, or lifts the isolation. Ports
// that containers attach later are set by the network's port hook.
func setPortIsolation(name string, isolated bool) error {
	link, err := linkByName(name)
	if err != nil || link == nil {
		return err
	}
	ports, err := bridgePorts(link)
	if err != nil {
		return err
	}
	for _, port := range ports {
		if err := netlink.LinkSetIsolated(port, isolated); err != nil {
			return fmt.Errorf("set isolation of bridge port %s: %w", port.Attrs().Name, err)
		}
	}
	return nil
}

// deleteBridge deletes the named bridge. A missing interface is not an error, and an interface
// that is not a bridge is left alone.
func deleteBridge(name string) error {
	link, err := linkByName(name)
	if err != nil || link == nil || !isBridge(link) {
		return err
	}
	if err := netlink.LinkDel(link); err != nil {
		return fmt.Errorf("delete bridge %s: %w", name, err)
	}
	return nil
}

// interfaceAddress is an IPv4 address and the interface that holds it.
type interfaceAddress struct {
	link   string
	prefix netip.Prefix
}

// listAddresses returns every IPv4 address on the device's interfaces.
func listAddresses() ([]interfaceAddress, error) {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	names := make(map[int]string, len(links))
	for _, link := range links {
		names[link.Attrs().Index] = link.Attrs().Name
	}
	addrs, err := retryDump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_V4) })
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	result := make([]interfaceAddress, 0, len(addrs))
	for _, addr := range addrs {
		result = append(result, interfaceAddress{link: names[addr.LinkIndex], prefix: prefixOf(addr)})
	}
	return result, nil
}
