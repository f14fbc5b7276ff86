// Package network builds the device's container networks: one Linux bridge per network with
// its gateway address, the nftables rules of its mode in the product's own table, the IPv4
// forwarding settings, and bridge port isolation for isolated networks. It also allocates the
// containers' addresses on those networks and renders the LXC keys that attach a container.
//
// Every network is recorded under STATE_DIR/networks/NAME/, so Restore can rebuild all of them
// after a reboot. Functions that read or change records expect the caller to hold the state
// folder's lock: shared for reads, exclusive for changes.
package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Files in a network's record folder.
const (
	recordFile    = "network.json"
	addressesFile = "addresses.json"
	portHookFile  = "port-up"
)

// Record is the state folder's entry for one network.
type Record struct {
	Spec protocol.NetworkSpec `json:"spec"`

	// Uplink is the interface that NAT traffic leaves through, resolved when the spec was
	// applied, so a restore at boot does not depend on the default route being up yet. It is
	// empty for other modes.
	Uplink string `json:"uplink,omitempty"`
}

// networksDir returns the folder that holds one record folder per network.
func networksDir(stateDir string) string {
	return filepath.Join(stateDir, state.NetworksDir)
}

// recordDir returns the record folder of the named network.
func recordDir(stateDir, name string) string {
	return filepath.Join(networksDir(stateDir), name)
}

// loadRecord reads the record of the named network. The error wraps fs.ErrNotExist when the
// network has no record.
func loadRecord(stateDir, name string) (Record, error) {
	path := filepath.Join(recordDir(stateDir, name), recordFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return Record{}, fmt.Errorf("read network record: %w", err)
	}
	var record Record
	if err := json.Unmarshal(data, &record); err != nil {
		return Record{}, fmt.Errorf("read network record %s: %w", path, err)
	}
	if record.Spec.Name != name {
		return Record{}, fmt.Errorf("read network record %s: it describes network %q; "+
			"move the folder back to networks/%s", path, record.Spec.Name, record.Spec.Name)
	}
	return record, nil
}

// saveRecord writes the record of a network, creating its folder when needed.
func saveRecord(stateDir string, record Record) error {
	dir := recordDir(stateDir, record.Spec.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create network record folder: %w", err)
	}
	data, err := json.MarshalIndent(record, "", "  ")
	if err != nil {
		return fmt.Errorf("encode network record: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, recordFile), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save network record: %w", err)
	}
	return atomicfile.SyncDir(networksDir(stateDir))
}

// removeRecord deletes the record folder of the named network, addresses included.
func removeRecord(stateDir, name string) error {
	if err := os.RemoveAll(recordDir(stateDir, name)); err != nil {
		return fmt.Errorf("remove network record: %w", err)
	}
	err := atomicfile.SyncDir(networksDir(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// loadRecords reads every network record, sorted by name. Hidden folders, such as temporary
// ones, are skipped; a folder without a record file is an error, because the inventory still
// lists it as a network.
func loadRecords(stateDir string) ([]Record, error) {
	entries, err := os.ReadDir(networksDir(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var records []Record
	for _, entry := range entries {
		if !entry.IsDir() || entry.Name()[0] == '.' {
			continue
		}
		record, err := loadRecord(stateDir, entry.Name())
		if err != nil {
			return nil, err
		}
		records = append(records, record)
	}
	sortRecords(records)
	return records, nil
}

// notFound returns the CodeNotFound error for a network without a record.
func notFound(name string) error {
	return protocol.Errorf(protocol.CodeNotFound,
		"network %q does not exist on the device; create it with an iotfleet_network resource first", name)
}
