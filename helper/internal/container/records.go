package container

import (
	"crypto/sha256"
	"encoding/hex"
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

// recordVersion is the format version of applied.json.
const recordVersion = 1

// record is applied.json: what the helper last applied to a container.
type record struct {
	Version int `json:"version"`

	// Spec is the spec exactly as the provider sent it.
	Spec protocol.ContainerSpec `json:"spec"`

	// ConfigSHA256 hashes the configuration file as written. RestartSHA256 hashes what a
	// running container only loads at start: the configuration without its limits, and the
	// init spec with the command, environment and working folder.
	ConfigSHA256  string `json:"config_sha256"`
	RestartSHA256 string `json:"restart_sha256"`

	// Image names the entry of the images folder that the rootfs uses: "busybox-<digest>" or
	// the image's SHA-256.
	Image string `json:"image"`

	HostIDStart uint64 `json:"host_id_start"`
	IDCount     uint64 `json:"id_count"`

	// Networks are the container's NICs in spec order, each with the address it holds: the
	// requested one or the one allocated.
	Networks []protocol.ContainerNIC `json:"networks,omitempty"`
}

// readRecord returns the container's record, or nil when there is none.
func readRecord(paths Paths) (*record, error) {
	data, err := os.ReadFile(paths.Applied())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read record of container %q: %w", paths.Name, err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("read record of container %q: %w", paths.Name, err)
	}
	if r.Version != recordVersion {
		return nil, fmt.Errorf("read record of container %q: format version %d, this helper reads %d",
			paths.Name, r.Version, recordVersion)
	}
	return &r, nil
}

func writeRecord(paths Paths, r *record) error {
	r.Version = recordVersion
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode record of container %q: %w", paths.Name, err)
	}
	if err := atomicfile.WriteFile(paths.Applied(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write record of container %q: %w", paths.Name, err)
	}
	return nil
}

// allRecords reads the records of every container in the state folder.
func allRecords(stateDir, lxcPath string) ([]*record, error) {
	entries, err := os.ReadDir(filepath.Join(stateDir, state.ContainersDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list container records: %w", err)
	}
	var records []*record
	for _, entry := range entries {
		if !entry.IsDir() || ValidateName(entry.Name()) != nil {
			continue
		}
		r, err := readRecord(Paths{StateDir: stateDir, LXCPath: lxcPath, Name: entry.Name()})
		if err != nil {
			return nil, err
		}
		if r != nil {
			records = append(records, r)
		}
	}
	return records, nil
}

// sha256Hex returns the hex SHA-256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// fileSHA256 returns the hex SHA-256 of the file at path, or "" when it does not exist.
func fileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return sha256Hex(data), nil
}
