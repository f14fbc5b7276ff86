package network

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// RestoreCommand is the helper command that the boot hook runs:
// "iotfleet-helper network-restore STATE_DIR LXC_PATH".
const RestoreCommand = "network-restore"

// helperBinary is the helper's file name in the state folder's bin folder.
const helperBinary = "iotfleet-helper"

// BootHook installs the systemd unit that runs the helper's restore at boot. Bridges,
// addresses, firewall rules and sysctls live only in the running kernel, so without the unit
// a reboot loses every network.
type BootHook struct {
	// SystemdRunDir exists only while systemd is the init system.
	SystemdRunDir string

	// UnitDir is the folder that the unit is installed in.
	UnitDir string
}

// SystemdBootHook returns the boot hook of the running system.
func SystemdBootHook() BootHook {
	return BootHook{SystemdRunDir: "/run/systemd/system", UnitDir: "/etc/systemd/system"}
}

// unitName returns the unit's name for a state folder. A device may have several state
// folders, each with its own networks, so the name carries a hash of the folder's path.
func unitName(stateDir string) string {
	sum := sha256.Sum256([]byte(stateDir))
	return "iotfleet-networks-" + hex.EncodeToString(sum[:4]) + ".service"
}

// renderUnit returns the unit that restores the networks of stateDir at boot. Both paths are
// validated to letters, digits, '.', '_', '-' and '/', so systemd reads them without quoting
// or specifier expansion.
func renderUnit(stateDir, lxcPath string) string {
	helper := filepath.Join(stateDir, state.BinFolder, helperBinary)
	return "# Written by iotfleet-helper. It recreates the container networks recorded in\n" +
		"# " + stateDir + " and then starts the autostart containers in " + lxcPath + ".\n" +
		"[Unit]\n" +
		"Description=iotfleet container networks of " + stateDir + "\n" +
		// nftables.service loads /etc/nftables.conf, which usually flushes the whole ruleset.
		"After=local-fs.target nftables.service\n" +
		"Before=network-online.target lxc.service\n" +
		"\n" +
		"[Service]\n" +
		"Type=oneshot\n" +
		"ExecStart=" + helper + " " + RestoreCommand + " " + stateDir + " " + lxcPath + "\n" +
		"\n" +
		"[Install]\n" +
		"WantedBy=multi-user.target\n"
}

// Install writes and enables the unit where systemd runs, and returns a description of the
// hook for the result: the unit's name, or a message that starts with protocol.NoBootHook.
// systemd reads the unit at the next boot, the only time it runs, so no daemon-reload is
// needed.
func (h BootHook) Install(stateDir, lxcPath string) (string, error) {
	if info, err := os.Stat(h.SystemdRunDir); err != nil || !info.IsDir() {
		return protocol.NoBootHook + ": the device does not run systemd (" + h.SystemdRunDir +
			" is missing), so networks are not restored after a reboot unless its init system runs " +
			"`" + filepath.Join(stateDir, state.BinFolder, helperBinary) + " " + RestoreCommand + " " +
			stateDir + " " + lxcPath + "` at boot", nil
	}
	name := unitName(stateDir)
	path := filepath.Join(h.UnitDir, name)
	content := []byte(renderUnit(stateDir, lxcPath))
	if current, err := os.ReadFile(path); err != nil || !bytes.Equal(current, content) {
		if err := atomicfile.WriteFile(path, content, 0o644); err != nil {
			return "", fmt.Errorf("install boot hook: %w", err)
		}
	}

	wants := filepath.Join(h.UnitDir, "multi-user.target.wants")
	if err := os.MkdirAll(wants, 0o755); err != nil {
		return "", fmt.Errorf("enable boot hook: %w", err)
	}
	link := filepath.Join(wants, name)
	if target, err := os.Readlink(link); err != nil || target != path {
		_ = os.Remove(link)
		if err := os.Symlink(path, link); err != nil {
			return "", fmt.Errorf("enable boot hook: %w", err)
		}
	}
	return "systemd unit " + name, nil
}

// Remove disables and deletes the unit of stateDir. A missing unit is not an error.
func (h BootHook) Remove(stateDir string) error {
	name := unitName(stateDir)
	paths := []string{
		filepath.Join(h.UnitDir, "multi-user.target.wants", name),
		filepath.Join(h.UnitDir, name),
	}
	for _, path := range paths {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove boot hook: %w", err)
		}
	}
	return nil
}
