// Package state manages the helper's state folder on the device: its lock, the records of the
// objects that the provider manages, and its removal.
package state

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Entries of the state folder. Each records folder holds one subfolder per object, named after
// the object.
const (
	LockFile      = "lock"
	BinFolder     = "bin"
	ContainersDir = "containers"
	NetworksDir   = "networks"
	ProfilesDir   = "profiles"
	RecordingsDir = "recordings"

	// Shared by the container operations: images and the busybox base, lock files of single
	// containers and of the images folder, the host ID pool, and uploaded image tarballs.
	ImagesDir  = "images"
	LocksDir   = "locks"
	IdmapFile  = "idmap.json"
	UploadsDir = protocol.UploadsDir
)

// DefaultLockTimeout bounds the wait for another helper process on the same device.
const DefaultLockTimeout = 60 * time.Second

// Dir is a state folder.
type Dir struct {
	// Path is the absolute, clean path of the folder.
	Path string

	// LockTimeout bounds the wait for the lock; zero means DefaultLockTimeout.
	LockTimeout time.Duration
}

// WithShared runs fn under a shared lock, for operations that only read the state folder. When
// the folder does not exist, WithShared creates nothing and runs fn unlocked with exists false.
func (d Dir) WithShared(ctx context.Context, fn func(exists bool) error) error {
	lock, err := d.lock(ctx, lockfile.Shared)
	if errors.Is(err, fs.ErrNotExist) {
		return fn(false)
	}
	if err != nil {
		return err
	}
	return releaseAfter(lock, fn(true))
}

// WithExclusive runs fn under an exclusive lock, for operations that change the state folder.
// It creates the folder with mode 0700 when it does not exist.
func (d Dir) WithExclusive(ctx context.Context, fn func() error) error {
	var err error
	for range maxCreateAttempts {
		if err := os.MkdirAll(d.Path, 0o700); err != nil {
			return fmt.Errorf("create state folder: %w", err)
		}
		var lock *lockfile.Lock
		lock, err = d.lock(ctx, lockfile.Exclusive)
		// An uninstall in another process may remove the folder while this one waits.
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		return releaseAfter(lock, fn())
	}
	return fmt.Errorf("state folder %s was removed %d times while waiting for its lock, so "+
		"another process keeps uninstalling it; retry when it has finished: %w",
		d.Path, maxCreateAttempts, err)
}

// maxCreateAttempts bounds how often WithExclusive recreates a state folder that other
// processes keep removing.
const maxCreateAttempts = 3

// releaseAfter releases lock and returns err, joined with the release error if there is one.
// An error that carries a protocol code stays unwrapped when the release succeeds, so its
// message reaches the provider as it is.
func releaseAfter(lock *lockfile.Lock, err error) error {
	if releaseErr := lock.Release(); releaseErr != nil {
		return errors.Join(err, releaseErr)
	}
	return err
}

// lock takes the state folder's lock in mode. A wait that times out is a CodeConflict error.
func (d Dir) lock(ctx context.Context, mode lockfile.Mode) (*lockfile.Lock, error) {
	timeout := d.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	lock, err := lockfile.Acquire(ctx, filepath.Join(d.Path, LockFile), mode, timeout)
	if errors.Is(err, lockfile.ErrTimeout) {
		return nil, protocol.Errorf(protocol.CodeConflict,
			"state folder %s is busy: %v; another helper process on the device holds the lock, "+
				"retry when its operation has finished", d.Path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("lock state folder: %w", err)
	}
	return lock, nil
}

// Inventory lists the objects recorded in the state folder, under a shared lock. A missing
// state folder or records folder lists nothing.
func (d Dir) Inventory(ctx context.Context) (protocol.Inventory, error) {
	inventory := emptyInventory()
	err := d.WithShared(ctx, func(exists bool) error {
		if !exists {
			return nil
		}
		var err error
		inventory, err = d.readInventory()
		return err
	})
	return inventory, err
}

func emptyInventory() protocol.Inventory {
	return protocol.Inventory{
		Containers: []string{},
		Networks:   []string{},
		Profiles:   []string{},
		Recordings: []string{},
	}
}

// readInventory lists the records folders. The caller holds the lock.
func (d Dir) readInventory() (protocol.Inventory, error) {
	var inventory protocol.Inventory
	lists := []struct {
		folder string
		names  *[]string
	}{
		{ContainersDir, &inventory.Containers},
		{NetworksDir, &inventory.Networks},
		{ProfilesDir, &inventory.Profiles},
		{RecordingsDir, &inventory.Recordings},
	}
	for _, list := range lists {
		names, err := listObjects(filepath.Join(d.Path, list.folder))
		if err != nil {
			return protocol.Inventory{}, err
		}
		*list.names = names
	}
	return inventory, nil
}

// listObjects returns the sorted names of the subfolders of dir, skipping hidden ones such as
// temporary folders. A missing dir yields an empty, non-nil list.
func listObjects(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	names := []string{}
	for _, entry := range entries {
		if entry.IsDir() && entry.Name()[0] != '.' {
			names = append(names, entry.Name())
		}
	}
	return names, nil
}
