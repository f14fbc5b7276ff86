// Package profile keeps seccomp profiles in the helper's state folder.
//
// Each profile is a folder, <state_dir>/profiles/<name>, holding one policy file per version,
// named after the SHA-256 of its content, with the version's metadata next to it:
//
//	lock                per-profile lock file
//	current             SHA-256 of the current version
//	<sha256>.policy     LXC seccomp policy, what lxc.seccomp.profile names
//	<sha256>.json       protocol.ProfileMetadata of that policy
//
// A version stays while it is current or while some container's LXC configuration names its
// policy file, so a container keeps the file that its configuration names.
package profile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/state"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Entries of a profile folder besides the version files.
const (
	lockFile    = "lock"
	currentFile = "current"

	policySuffix   = ".policy"
	metadataSuffix = ".json"
)

// Store keeps the profiles of one state folder.
type Store struct {
	State state.Dir

	// LXCPath is the folder whose <container>/config files may name a profile's policy files.
	LXCPath string
}

// Dir returns the folder of the profile name.
func (s Store) Dir(name string) string {
	return filepath.Join(s.State.Path, state.ProfilesDir, name)
}

// PolicyPath returns the path of the policy file of version sha in the profile name, which is
// what a container's lxc.seccomp.profile names.
func (s Store) PolicyPath(name, sha string) string {
	return filepath.Join(s.Dir(name), sha+policySuffix)
}

// Get returns the current version of the profile name, or a CodeNotFound error.
func (s Store) Get(ctx context.Context, name string) (protocol.ProfileState, error) {
	if err := protocol.ValidateProfileName(name); err != nil {
		return protocol.ProfileState{}, protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	var result protocol.ProfileState
	err := s.withLock(ctx, name, lockfile.Shared, false, func(dir string) error {
		var err error
		result, err = s.readState(dir, name)
		return err
	})
	return result, err
}

// Delete removes the profile name unless an LXC configuration names one of its files, which
// is a CodeConflict error. A missing profile is not an error.
func (s Store) Delete(ctx context.Context, name string) (protocol.ProfileDeleteResult, error) {
	if err := protocol.ValidateProfileName(name); err != nil {
		return protocol.ProfileDeleteResult{}, protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	err := s.withLock(ctx, name, lockfile.Exclusive, false, func(dir string) error {
		references, err := findReferences(s.LXCPath, dir)
		if err != nil {
			return err
		}
		if users := references.containers(); len(users) > 0 {
			return protocol.Errorf(protocol.CodeConflict,
				"profile %q is still used by %s, whose LXC configuration names its policy in "+
					"lxc.seccomp.profile; give them another profile or destroy them first",
				name, describeContainers(users))
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove profile %q: %w", name, err)
		}
		return syncDir(filepath.Dir(dir))
	})
	if errors.Is(err, protocol.ErrNotFound) {
		return protocol.ProfileDeleteResult{Removed: false}, nil
	}
	if err != nil {
		return protocol.ProfileDeleteResult{}, err
	}
	return protocol.ProfileDeleteResult{Removed: true}, nil
}

// maxLockAttempts bounds how often withLock recreates folders that other processes keep
// removing while it waits.
const maxLockAttempts = 3

// withLock runs fn on the folder of profile name while holding the profile's lock in mode. It
// also holds a shared lock on the state folder, so an uninstall waits for fn. With create it
// creates the state folder and the profile folder; without, a missing one is CodeNotFound.
func (s Store) withLock(ctx context.Context, name string, mode lockfile.Mode, create bool,
	fn func(dir string) error) error {
	for range maxLockAttempts {
		if create {
			if err := os.MkdirAll(s.State.Path, 0o700); err != nil {
				return fmt.Errorf("create state folder: %w", err)
			}
		}
		removed := false
		err := s.State.WithShared(ctx, func(exists bool) error {
			if !exists {
				removed = create
				return notFound(name)
			}
			lock, err := s.lockProfile(ctx, name, mode, create)
			if errors.Is(err, fs.ErrNotExist) {
				removed = create
				return notFound(name)
			}
			if err != nil {
				return err
			}
			return releaseAfter(lock, fn(s.Dir(name)))
		})
		if !removed {
			return err
		}
	}
	return fmt.Errorf("profile %q: its folder was removed %d times while waiting for its lock; "+
		"retry when the other helper process has finished", name, maxLockAttempts)
}

// lockProfile takes the profile's lock. The error wraps fs.ErrNotExist when the folder is
// missing, or was removed by a delete while this process waited.
func (s Store) lockProfile(ctx context.Context, name string, mode lockfile.Mode, create bool) (*lockfile.Lock, error) {
	dir := s.Dir(name)
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create profile folder: %w", err)
		}
	}
	timeout := s.State.LockTimeout
	if timeout <= 0 {
		timeout = state.DefaultLockTimeout
	}
	lock, err := lockfile.Acquire(ctx, filepath.Join(dir, lockFile), mode, timeout)
	if errors.Is(err, lockfile.ErrTimeout) {
		return nil, protocol.Errorf(protocol.CodeConflict,
			"profile %q is busy: %v; another helper process is changing it, retry when it has finished", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("lock profile %q: %w", name, err)
	}
	return lock, nil
}

func releaseAfter(lock *lockfile.Lock, err error) error {
	if releaseErr := lock.Release(); releaseErr != nil {
		return errors.Join(err, releaseErr)
	}
	return err
}

func notFound(name string) error {
	return protocol.Errorf(protocol.CodeNotFound, "profile %q does not exist", name)
}

// sha256Hex returns the hex SHA-256 of data.
func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
