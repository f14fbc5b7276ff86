package profile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/seccomp"
)

// fileMode lets LXC, which runs as root, read the files; the state folder itself is 0700.
const fileMode = 0o644

// Put writes the policy and metadata of params as the current version of the profile, then
// removes the older versions that no LXC configuration names. Writing a version that is
// already intact on the device changes nothing.
func (s Store) Put(ctx context.Context, params protocol.ProfilePutParams) (protocol.ProfileState, error) {
	if err := checkPut(params); err != nil {
		return protocol.ProfileState{}, err
	}
	var result protocol.ProfileState
	err := s.withLock(ctx, params.Name, lockfile.Exclusive, true, func(dir string) error {
		if err := writeVersion(dir, params); err != nil {
			return fmt.Errorf("write profile %q: %w", params.Name, err)
		}
		if _, err := s.prune(dir); err != nil {
			return fmt.Errorf("write profile %q: %w", params.Name, err)
		}
		var err error
		result, err = s.readState(dir, params.Name)
		return err
	})
	return result, err
}

// Prune removes the versions of profile name that are neither current nor named by an LXC
// configuration, and returns the policy files of the older versions it kept. Call it after a
// container stops naming a version, so that the file does not wait for the next Put.
func (s Store) Prune(ctx context.Context, name string) ([]string, error) {
	if err := protocol.ValidateProfileName(name); err != nil {
		return nil, protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	var kept []string
	err := s.withLock(ctx, name, lockfile.Exclusive, false, func(dir string) error {
		var err error
		kept, err = s.prune(dir)
		return err
	})
	return kept, err
}

// checkPut rejects params whose name, hash or metadata do not match the policy, so that a
// container reading the metadata is never misled about the policy next to it.
func checkPut(params protocol.ProfilePutParams) error {
	if err := protocol.ValidateProfileName(params.Name); err != nil {
		return protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	if sum := sha256Hex([]byte(params.Policy)); params.Metadata.SHA256 != sum {
		return protocol.Errorf(protocol.CodeInvalid,
			"metadata of profile %q names SHA-256 %q, but the policy's SHA-256 is %s",
			params.Name, params.Metadata.SHA256, sum)
	}
	rendered, err := seccomp.Render(params.Metadata.SeccompProfile(), seccomp.Arch(params.Metadata.Arch))
	if err != nil {
		return protocol.Errorf(protocol.CodeInvalid, "metadata of profile %q: %v", params.Name, err)
	}
	if rendered != params.Policy {
		return protocol.Errorf(protocol.CodeInvalid,
			"policy of profile %q differs from the one its metadata renders to with this helper; "+
				"install the helper that ships with the provider", params.Name)
	}
	return nil
}

// writeVersion writes the version's policy and metadata, each only when it differs from what
// the file holds, and then makes it current. Each file is replaced atomically, and current is
// written last, so an interruption leaves the previous version current.
func writeVersion(dir string, params protocol.ProfilePutParams) error {
	sha := params.Metadata.SHA256
	metadata, err := json.MarshalIndent(params.Metadata, "", "  ")
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	files := []struct {
		name    string
		content []byte
	}{
		{sha + policySuffix, []byte(params.Policy)},
		{sha + metadataSuffix, append(metadata, '\n')},
		{currentFile, []byte(sha + "\n")},
	}
	for _, f := range files {
		if err := writeIfChanged(filepath.Join(dir, f.name), f.content); err != nil {
			return err
		}
	}
	return nil
}

func writeIfChanged(path string, content []byte) error {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, content) {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, content, fileMode)
}

// prune removes the version files in dir that are neither current nor named by an LXC
// configuration, and returns the policy files of the other versions it kept. The caller holds
// the profile's exclusive lock.
func (s Store) prune(dir string) ([]string, error) {
	current, err := readCurrent(dir)
	if err != nil {
		return nil, err
	}
	references, err := findReferences(s.LXCPath, dir)
	if err != nil {
		return nil, err
	}
	versions, err := listVersions(dir)
	if err != nil {
		return nil, err
	}
	var kept []string
	removed := false
	for _, sha := range versions {
		policy := filepath.Join(dir, sha+policySuffix)
		switch {
		case sha == current:
		case len(references[policy]) > 0:
			kept = append(kept, policy)
		default:
			if err := removeVersion(dir, sha); err != nil {
				return nil, err
			}
			removed = true
		}
	}
	if removed {
		if err := syncDir(dir); err != nil {
			return nil, err
		}
	}
	return kept, nil
}

// listVersions returns the SHA-256 of every version that has a policy or a metadata file in
// dir, sorted and without duplicates.
func listVersions(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list profile versions: %w", err)
	}
	seen := make(map[string]bool)
	var versions []string
	for _, entry := range entries {
		name := entry.Name()
		sha, ok := strings.CutSuffix(name, policySuffix)
		if !ok {
			sha, ok = strings.CutSuffix(name, metadataSuffix)
		}
		if ok && isSHA256(sha) && !seen[sha] {
			seen[sha] = true
			versions = append(versions, sha)
		}
	}
	return versions, nil
}

func removeVersion(dir, sha string) error {
	for _, suffix := range []string{policySuffix, metadataSuffix} {
		path := filepath.Join(dir, sha+suffix)
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove old version: %w", err)
		}
	}
	return nil
}

func syncDir(dir string) error {
	return atomicfile.SyncDir(dir)
}
