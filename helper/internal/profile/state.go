package profile

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// readState reports the current version of the profile in dir as it is on disk. A version
// whose files are missing or altered is still reported, with its Problems and an SHA256 that
// differs from the one the provider planned, so that the next plan repairs it. The caller holds
// the profile's lock.
func (s Store) readState(dir, name string) (protocol.ProfileState, error) {
	// Without a valid current version there is nothing to compare with the plan: reporting
	// the profile as missing makes the next apply write it again.
	current, err := readCurrent(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errInvalidCurrent) {
		return protocol.ProfileState{}, protocol.Errorf(protocol.CodeNotFound,
			"profile %q has no valid current version: %v", name, err)
	}
	if err != nil {
		return protocol.ProfileState{}, err
	}

	result := protocol.ProfileState{Name: name, Path: filepath.Join(dir, current+policySuffix), KeptVersions: []string{}}
	policy, err := os.ReadFile(result.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		result.Problems = append(result.Problems, fmt.Sprintf("policy file %s is missing", result.Path))
	case err != nil:
		return protocol.ProfileState{}, fmt.Errorf("read profile %q: %w", name, err)
	default:
		result.Policy = string(policy)
		result.SHA256 = sha256Hex(policy)
		if result.SHA256 != current {
			result.Problems = append(result.Problems, fmt.Sprintf(
				"policy file %s was altered: its SHA-256 is now %s", result.Path, result.SHA256))
		}
	}

	metadata, problem := readMetadata(filepath.Join(dir, current+metadataSuffix), current)
	result.Metadata = metadata
	if problem != "" {
		result.Problems = append(result.Problems, problem)
		result.SHA256 = ""
	}

	versions, err := listVersions(dir)
	if err != nil {
		return protocol.ProfileState{}, err
	}
	for _, sha := range versions {
		if sha != current {
			result.KeptVersions = append(result.KeptVersions, filepath.Join(dir, sha+policySuffix))
		}
	}
	return result, nil
}

// readMetadata reads a version's metadata. It returns a problem description instead of an
// error when the file is missing, unreadable as JSON or describes another version, because
// Put repairs each of these.
func readMetadata(path, sha string) (protocol.ProfileMetadata, string) {
	data, err := os.ReadFile(path)
	if err != nil {
		return protocol.ProfileMetadata{}, fmt.Sprintf("metadata file %s cannot be read: %v", path, err)
	}
	var metadata protocol.ProfileMetadata
	if err := json.Unmarshal(data, &metadata); err != nil {
		return protocol.ProfileMetadata{}, fmt.Sprintf("metadata file %s is not valid JSON: %v", path, err)
	}
	if metadata.SHA256 != sha {
		return metadata, fmt.Sprintf("metadata file %s describes SHA-256 %q instead of %s", path, metadata.SHA256, sha)
	}
	return metadata, ""
}

// errInvalidCurrent is returned when the current file does not hold a SHA-256.
var errInvalidCurrent = errors.New("current file does not hold a SHA-256")

// readCurrent returns the SHA-256 that the current file names. The error wraps
// fs.ErrNotExist when there is no current file, and errInvalidCurrent when it holds something
// else.
func readCurrent(dir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(dir, currentFile))
	if err != nil {
		return "", fmt.Errorf("read current version: %w", err)
	}
	sha := strings.TrimSpace(string(data))
	if !isSHA256(sha) {
		return "", fmt.Errorf("read current version: %w: %q", errInvalidCurrent, truncate(sha, 80))
	}
	return sha, nil
}

func truncate(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "..."
}

// isSHA256 reports whether s is a lowercase hex SHA-256, the form version files are named in.
func isSHA256(s string) bool {
	if len(s) != 64 || strings.ToLower(s) != s {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
