package network

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// procSysIPv4 holds the IPv4 sysctls of the helper's network namespace.
const procSysIPv4 = "/proc/sys/net/ipv4"

// IPv4 forwarding is decided per interface: the kernel routes a packet only when forwarding is
// on for the interface it arrived on. Changing net.ipv4.ip_forward sets every interface, so
// applyForwarding writes the global switch first and the networks' bridges after it.

// applyForwarding turns global forwarding on when a NAT network exists, then sets each
// network's bridge: on for NAT networks, together with their uplinks, and off for the others,
// so the device never routes traffic of a bridge or isolated network. Bridges and uplinks that
// do not exist yet are skipped; a new interface starts with the global value.
//
// NOTE: global forwarding stays on after the last NAT network is deleted, because other
// software on the device may rely on it.
func applyForwarding(records []Record) error {
	var nat []Record
	for _, record := range records {
		if record.Spec.Mode == protocol.NetworkModeNAT {
			nat = append(nat, record)
		}
	}
	if len(nat) > 0 {
		if err := writeSysctl("ip_forward", true); err != nil {
			return err
		}
	}
	for _, record := range records {
		on := record.Spec.Mode == protocol.NetworkModeNAT
		if err := writeInterfaceForwarding(record.Spec.Name, on); err != nil {
			return err
		}
	}
	for _, record := range nat {
		if err := writeInterfaceForwarding(record.Uplink, true); err != nil {
			return err
		}
	}
	return nil
}

// observeForwarding reports whether the device routes what arrives from the network's bridge
// and, for a NAT network, the replies that arrive on its uplink.
func observeForwarding(record Record) (bool, error) {
	on, err := readSysctl(filepath.Join("conf", record.Spec.Name, "forwarding"))
	if err != nil || !on || record.Spec.Mode != protocol.NetworkModeNAT {
		return on, err
	}
	return readSysctl(filepath.Join("conf", record.Uplink, "forwarding"))
}

// writeInterfaceForwarding sets forwarding for one interface, skipping a missing interface.
func writeInterfaceForwarding(name string, on bool) error {
	err := writeSysctl(filepath.Join("conf", name, "forwarding"), on)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// writeSysctl writes a boolean IPv4 sysctl, given by its path below procSysIPv4.
func writeSysctl(name string, on bool) error {
	value := "0\n"
	if on {
		value = "1\n"
	}
	path := filepath.Join(procSysIPv4, name)
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("set %s to %s: %w", path, strings.TrimSpace(value), err)
	}
	return nil
}

// readSysctl reads a boolean IPv4 sysctl. A missing interface reads as off.
func readSysctl(name string) (bool, error) {
	path := filepath.Join(procSysIPv4, name)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	return strings.TrimSpace(string(data)) != "0", nil
}
