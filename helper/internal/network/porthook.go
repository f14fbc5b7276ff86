package network

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// A network's port hook is the script that LXC runs (lxc.net.N.script.up) once a container's
// host-side veth is attached to the bridge; LXC passes that veth as the last argument. The
// kernel offers no bridge setting that isolates ports attached later, so an isolated network's
// hook isolates each new port before the container runs. Other modes get a hook that does
// nothing, so a container's configuration stays the same when its network's mode changes: the
// helper rewrites the hook instead.

// safePathPattern matches absolute paths that a shell reads as one word without quotes.
var safePathPattern = regexp.MustCompile(`^/[A-Za-z0-9._/-]+$`)

// PortHookPath returns the path of the named network's port hook.
func PortHookPath(stateDir, name string) string {
	return filepath.Join(recordDir(stateDir, name), portHookFile)
}

// renderPortHook returns the port hook of a network in mode. ipTool is the absolute path of
// iproute2's ip.
func renderPortHook(name, mode, ipTool string) string {
	header := "#!/bin/sh\n" +
		"# Written by iotfleet-helper for network " + name + " (mode " + mode + ").\n" +
		"# LXC runs it once a container's host-side veth is on the bridge, with the veth as the\n" +
		"# last argument.\n"
	if mode != protocol.NetworkModeIsolated {
		return header + "exit 0\n"
	}
	// The loop leaves the last argument in port.
	return header + "for port; do :; done\n" +
		"exec " + ipTool + " link set dev \"$port\" type bridge_slave isolated on\n"
}

// writePortHook writes the port hook of record's network when its content differs.
func writePortHook(stateDir string, record Record) error {
	content, err := expectedPortHook(record)
	if err != nil {
		return err
	}
	path := PortHookPath(stateDir, record.Spec.Name)
	if current, err := os.ReadFile(path); err == nil && bytes.Equal(current, content) {
		return nil
	}
	if err := atomicfile.WriteFile(path, content, 0o755); err != nil {
		return fmt.Errorf("write port hook of network %s: %w", record.Spec.Name, err)
	}
	return nil
}

// portHookInPlace reports whether record's network has the port hook its mode calls for.
func portHookInPlace(stateDir string, record Record) (bool, error) {
	content, err := expectedPortHook(record)
	if err != nil {
		return false, err
	}
	current, err := os.ReadFile(PortHookPath(stateDir, record.Spec.Name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read port hook of network %s: %w", record.Spec.Name, err)
	}
	return bytes.Equal(current, content), nil
}

// expectedPortHook renders the port hook of record's network on this device.
func expectedPortHook(record Record) ([]byte, error) {
	ipTool := "ip"
	if record.Spec.Mode == protocol.NetworkModeIsolated {
		var err error
		if ipTool, err = lookTool("ip"); err != nil {
			return nil, fmt.Errorf("write port hook of isolated network %s: %w", record.Spec.Name, err)
		}
		// The path is spliced into a shell script, so it must need no quoting.
		if !safePathPattern.MatchString(ipTool) {
			return nil, fmt.Errorf("write port hook of isolated network %s: the path %q of ip needs "+
				"shell quoting; install iproute2 in /usr/sbin or /sbin", record.Spec.Name, ipTool)
		}
	}
	return []byte(renderPortHook(record.Spec.Name, record.Spec.Mode, ipTool)), nil
}
