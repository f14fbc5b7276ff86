package idmap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
)

// System files that grant subordinate IDs.
const (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// subIDOwner is the user that liblxc runs as when the helper starts a container.
const subIDOwner = "root"

// Store keeps a Pool in a file and mirrors its ranges into the subuid and subgid files. Every
// method holds the pool's lock and then the lock of the subuid file, always in that order.
type Store struct {
	// PoolPath is the pool file, LockPath its lock file; both folders must exist.
	PoolPath string
	LockPath string

	// SubUIDPath and SubGIDPath are the subordinate ID files, normally SubUIDFile and
	// SubGIDFile. Several state folders on one machine share them, so they are locked by
	// flock(2) on the subuid file itself, which the atomic rename of each update replaces.
	SubUIDPath string
	SubGIDPath string

	LockTimeout time.Duration
}

// Allocate hands out a range of size IDs to owner, or returns the one it already holds.
func (s Store) Allocate(ctx context.Context, owner string, size uint64) (Range, error) {
	var allocated Range
	err := s.locked(ctx, func(pool *Pool, files *subIDFiles) error {
		if existing, ok := pool.Find(owner); ok && existing.Size == size {
			allocated = existing.Range
			return files.add(existing.Range)
		}
		r, err := pool.Allocate(owner, size, files.foreign(pool))
		if err != nil {
			return err
		}
		if err := s.savePool(pool); err != nil {
			return err
		}
		if err := files.add(r); err != nil {
			pool.Release(owner)
			return errors.Join(err, s.savePool(pool))
		}
		allocated = r
		return nil
	})
	return allocated, err
}

// Release returns the range of owner to the pool and removes its subuid and subgid lines. It
// reports false when owner held no range.
func (s Store) Release(ctx context.Context, owner string) (bool, error) {
	var released bool
	err := s.locked(ctx, func(pool *Pool, files *subIDFiles) error {
		allocation, ok := pool.Release(owner)
		if !ok {
			return nil
		}
		if err := files.remove(allocation.Range); err != nil {
			return err
		}
		released = true
		return s.savePool(pool)
	})
	return released, err
}

// Get returns the allocation of owner.
func (s Store) Get(ctx context.Context, owner string) (Allocation, bool, error) {
	var allocation Allocation
	var found bool
	err := s.locked(ctx, func(pool *Pool, _ *subIDFiles) error {
		allocation, found = pool.Find(owner)
		return nil
	})
	return allocation, found, err
}

// locked runs fn with the pool and the subordinate ID files loaded, under both locks.
func (s Store) locked(ctx context.Context, fn func(*Pool, *subIDFiles) error) error {
	poolLock, err := lockfile.Acquire(ctx, s.LockPath, lockfile.Exclusive, s.timeout())
	if err != nil {
		return fmt.Errorf("lock idmap pool: %w", err)
	}
	defer poolLock.Release()

	// The lock file is the subuid file itself, so it must exist with its usual mode first.
	if err := ensureFile(s.SubUIDPath); err != nil {
		return err
	}
	subIDLock, err := lockfile.Acquire(ctx, s.SubUIDPath, lockfile.Exclusive, s.timeout())
	if err != nil {
		return fmt.Errorf("lock %s: %w", s.SubUIDPath, err)
	}
	defer subIDLock.Release()

	pool, err := s.loadPool()
	if err != nil {
		return err
	}
	files, err := loadSubIDFiles(s.SubUIDPath, s.SubGIDPath)
	if err != nil {
		return err
	}
	return fn(pool, files)
}

func (s Store) timeout() time.Duration {
	if s.LockTimeout <= 0 {
		return time.Minute
	}
	return s.LockTimeout
}

func (s Store) loadPool() (*Pool, error) {
	data, err := os.ReadFile(s.PoolPath)
	if errors.Is(err, fs.ErrNotExist) {
		return &Pool{Version: poolVersion}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read idmap pool: %w", err)
	}
	var pool Pool
	if err := json.Unmarshal(data, &pool); err != nil {
		return nil, fmt.Errorf("read idmap pool %s: %w", s.PoolPath, err)
	}
	if pool.Version != poolVersion {
		return nil, fmt.Errorf("read idmap pool %s: format version %d, this helper reads version %d",
			s.PoolPath, pool.Version, poolVersion)
	}
	return &pool, nil
}

func (s Store) savePool(pool *Pool) error {
	if pool.Allocations == nil {
		pool.Allocations = []Allocation{}
	}
	data, err := json.MarshalIndent(pool, "", "  ")
	if err != nil {
		return fmt.Errorf("encode idmap pool: %w", err)
	}
	if err := atomicfile.WriteFile(s.PoolPath, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("save idmap pool: %w", err)
	}
	return nil
}

// ensureFile creates path with mode 0644 when it does not exist.
func ensureFile(path string) error {
	file, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return file.Close()
}
