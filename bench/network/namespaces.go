//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
)

// peerLink is a veth pair between the device and a network namespace of the benchmark's own.
// The peer's end is named peerVeth.
type peerLink struct {
	purpose    string // for errors, such as "reference"
	suffix     string // appended to the device's namespace name
	deviceVeth string
	deviceCIDR string
	peerCIDR   string
}

// The two namespaces next to the device.
var (
	// referenceLink joins the native side of the bridge comparisons, a plain namespace on a
	// plain veth pair.
	referenceLink = peerLink{purpose: "reference", suffix: "-ref", deviceVeth: referenceDeviceVeth,
		deviceCIDR: referenceDeviceCIDR, peerCIDR: referencePeerCIDR}

	// outsideLink is the NAT network's uplink. The server at its far end stands for the
	// network outside the device. Both ends are in namespaces that the benchmark owns, so
	// -uplink-rate can shape them without touching the host's root namespace.
	outsideLink = peerLink{purpose: "outside", suffix: "-out", deviceVeth: uplinkDeviceVeth,
		deviceCIDR: uplinkDeviceCIDR, peerCIDR: outsideCIDR}
)

// peerVeth is the name of every peer namespace's end of its veth pair.
const peerVeth = "eth0"

// createPeer creates the namespace of link and its veth pair to the device, and returns the
// namespace's name: the device's namespace plus link.suffix. It never reuses a namespace of
// that name that exists already but returns an error.
func (t *testbed) createPeer(ctx context.Context, link peerLink) (string, error) {
	name := t.device.Namespace + link.suffix
	if _, err := os.Stat("/run/netns/" + name); err == nil {
		return "", fmt.Errorf("network namespace %s exists, left by an earlier run that was killed; "+
			"delete it with `ip netns delete %s` and run again", name, name)
	}
	if _, err := runCommand(ctx, "ip", "netns", "add", name); err != nil {
		return "", fmt.Errorf("create %s namespace: %w", link.purpose, err)
	}
	t.peers = append(t.peers, name)

	steps := [][]string{
		{"-n", t.device.Namespace, "link", "add", link.deviceVeth, "type", "veth",
			"peer", "name", peerVeth, "netns", name},
		{"-n", t.device.Namespace, "addr", "add", link.deviceCIDR, "dev", link.deviceVeth},
		{"-n", t.device.Namespace, "link", "set", link.deviceVeth, "up"},
		{"-n", name, "link", "set", "lo", "up"},
		{"-n", name, "addr", "add", link.peerCIDR, "dev", peerVeth},
		{"-n", name, "link", "set", peerVeth, "up"},
	}
	for _, args := range steps {
		if _, err := runCommand(ctx, "ip", args...); err != nil {
			return "", fmt.Errorf("create %s link: %w", link.purpose, err)
		}
	}
	return name, nil
}

// deletePeers deletes the namespaces that createPeer made. Deleting a namespace deletes its
// end of the veth pair, the device's end and any qdisc on either.
func (t *testbed) deletePeers(ctx context.Context) []error {
	var errs []error
	for _, name := range t.peers {
		if _, err := runCommand(ctx, "ip", "netns", "delete", name); err != nil {
			errs = append(errs, fmt.Errorf("delete namespace %s: %w", name, err))
		}
	}
	return errs
}
