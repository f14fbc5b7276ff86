package container

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/liblxc"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/network"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// A container's NICs are veth pairs on the bridges of networks that network.apply created.
// Container operations hold only the state folder's shared lock, so network.delete, which
// holds the exclusive one, never runs while a container joins or leaves a network, and the
// addresses lock orders the allocations of containers that change in parallel.

// attachNetworks allocates the addresses of nics for the container and releases those on
// networks it left. When an allocation fails, the container's allocations are put back as
// previous recorded them, so a rejected address changes nothing.
func attachNetworks(ctx context.Context, env *server.Env, paths Paths, nics []protocol.ContainerNIC,
	previous *record) ([]network.Attachment, error) {
	var attachments []network.Attachment
	err := withAddressesLock(ctx, env, paths, func() error {
		var err error
		attachments, err = network.Attach(paths.StateDir, paths.Name, nics)
		if err == nil {
			return nil
		}
		var before []protocol.ContainerNIC
		if previous != nil {
			before = previous.Networks
		}
		if _, undoErr := network.Attach(paths.StateDir, paths.Name, before); undoErr != nil {
			return errors.Join(err, fmt.Errorf("restore the addresses of container %q: %w", paths.Name, undoErr))
		}
		return err
	})
	return attachments, err
}

// releaseNetworks drops every address that the container holds on a network.
func releaseNetworks(ctx context.Context, env *server.Env, paths Paths) error {
	return withAddressesLock(ctx, env, paths, func() error {
		return network.ReleaseAddresses(paths.StateDir, paths.Name)
	})
}

// releaseUnrecorded drops the addresses of a container that a failed create left without a
// record: Get reports it as not found, so the provider never deletes it.
func releaseUnrecorded(ctx context.Context, env *server.Env, paths Paths) error {
	r, err := readRecord(paths)
	if err != nil || r != nil {
		return err
	}
	return releaseNetworks(ctx, env, paths)
}

func withAddressesLock(ctx context.Context, env *server.Env, paths Paths, fn func() error) error {
	lock, err := acquire(ctx, env, network.AddressesLock(paths.StateDir), lockfile.Exclusive, "the network addresses")
	if err != nil {
		return err
	}
	return releaseAfter(lock, fn())
}

// networkLines returns the LXC configuration lines of the container's NICs, in order.
func networkLines(attachments []network.Attachment) []string {
	var lines []string
	for i, attachment := range attachments {
		lines = append(lines, network.LXCConfig(attachment, i)...)
	}
	return lines
}

// attachedNICs returns the NICs of attachments with the addresses they got.
func attachedNICs(attachments []network.Attachment) []protocol.ContainerNIC {
	nics := make([]protocol.ContainerNIC, 0, len(attachments))
	for _, attachment := range attachments {
		nics = append(nics, protocol.ContainerNIC{
			Network: attachment.Network, IPv4Address: attachment.Address.Addr().String(),
		})
	}
	return nics
}

// nicStates returns the NICs that r records, each with the addresses it has now.
func nicStates(c *liblxc.Container, paths Paths, r *record) ([]protocol.ContainerNICState, error) {
	states := make([]protocol.ContainerNICState, 0, len(r.Networks))
	if len(r.Networks) == 0 {
		return states, nil
	}
	observed, err := observedAddresses(c, paths, len(r.Networks))
	if err != nil {
		return nil, err
	}
	for i, nic := range r.Networks {
		states = append(states, protocol.ContainerNICState{
			Network: nic.Network, IPv4Address: nic.IPv4Address, ObservedIPv4Addresses: observed[i],
		})
	}
	return states, nil
}

// nicsDrifted reports whether a NIC's observed addresses are other than the one recorded.
func nicsDrifted(states []protocol.ContainerNICState) bool {
	for _, nic := range states {
		if !slices.Equal(nic.ObservedIPv4Addresses, []string{nic.IPv4Address}) {
			return true
		}
	}
	return false
}

// interfaceName is the name of NIC index inside the container, as network.LXCConfig sets it.
func interfaceName(index int) string {
	return "eth" + strconv.Itoa(index)
}

// observedAddresses returns the IPv4 addresses of the container's NICs 0..count-1: those on
// the interfaces while the container runs, otherwise those in its LXC configuration.
func observedAddresses(c *liblxc.Container, paths Paths, count int) ([][]string, error) {
	if pid := c.InitPID(); c.Running() && pid > 0 {
		names := make([]string, count)
		for i := range names {
			names[i] = interfaceName(i)
		}
		byName, err := network.InterfaceAddresses(pid, names)
		if err == nil {
			observed := make([][]string, count)
			for i, name := range names {
				observed[i] = byName[name]
			}
			return observed, nil
		}
		// The container stopped meanwhile; its configuration has what the next start sets.
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("container %q: %w", paths.Name, err)
		}
	}
	return configAddresses(paths.Config(), count)
}

// netAddressKey matches the LXC key that gives NIC N an IPv4 address.
var netAddressKey = regexp.MustCompile(`^lxc\.net\.([0-9]+)\.ipv4\.address$`)

// configAddresses returns the IPv4 addresses, without prefix length and sorted, that the LXC
// configuration file at path gives NICs 0..count-1. A value that is not an address is
// returned as it is, so that it shows as a change.
func configAddresses(path string, count int) ([][]string, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read container configuration: %w", err)
	}
	defer file.Close()

	observed := make([][]string, count)
	for i := range observed {
		observed[i] = []string{}
	}
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		key, value, ok := strings.Cut(scanner.Text(), "=")
		match := netAddressKey.FindStringSubmatch(strings.TrimSpace(key))
		if !ok || match == nil {
			continue
		}
		index, err := strconv.Atoi(match[1])
		if err != nil || index >= count {
			continue
		}
		observed[index] = append(observed[index], configAddress(value))
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read container configuration %s: %w", path, err)
	}
	for _, addresses := range observed {
		sort.Strings(addresses)
	}
	return observed, nil
}

// configAddress returns the address of an lxc.net.N.ipv4.address value, which LXC accepts
// with or without a prefix length and followed by a broadcast address.
func configAddress(value string) string {
	fields := strings.Fields(value)
	if len(fields) == 0 {
		return ""
	}
	address, _, _ := strings.Cut(fields[0], "/")
	if addr, err := netip.ParseAddr(address); err == nil {
		return addr.String()
	}
	return address
}
