package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/server"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// stateDirMode lets the mapped root users of containers traverse the state folder to the
// shared images and iotfleet-init, without listing it. The records folder and the lock and
// pool files inside stay private to root.
const stateDirMode = 0o711

// withLocks runs fn under a shared lock of the state folder, which keeps an uninstall out,
// and the container's own lock in mode. Operations on different containers run in parallel.
func withLocks(ctx context.Context, env *server.Env, name string, mode lockfile.Mode, fn func(Paths) error) error {
	paths := Paths{StateDir: env.State.Path, LXCPath: env.LXCPath, Name: name}
	if err := prepareStateDir(paths); err != nil {
		return err
	}
	return env.State.WithShared(ctx, func(exists bool) error {
		if !exists {
			return fmt.Errorf("state folder %s disappeared; retry the operation", paths.StateDir)
		}
		lock, err := acquire(ctx, env, paths.Lock(), mode, "container "+name)
		if err != nil {
			return err
		}
		return releaseAfter(lock, fn(paths))
	})
}

// releaseAfter releases lock and returns err. An error that carries a protocol code stays
// unwrapped when the release succeeds, so its message reaches the provider as it is.
func releaseAfter(lock *lockfile.Lock, err error) error {
	if releaseErr := lock.Release(); releaseErr != nil {
		return errors.Join(err, releaseErr)
	}
	return err
}

// prepareStateDir creates the state folder and its locks folder and makes the state folder
// traversable.
func prepareStateDir(paths Paths) error {
	if err := os.MkdirAll(filepath.Join(paths.StateDir, LocksDir), 0o700); err != nil {
		return fmt.Errorf("create state folder: %w", err)
	}
	if err := os.Chmod(paths.StateDir, stateDirMode); err != nil {
		return fmt.Errorf("set mode of state folder: %w", err)
	}
	return nil
}

// acquire takes the lock file at path; what names the locked object in a timeout message.
func acquire(ctx context.Context, env *server.Env, path string, mode lockfile.Mode, what string) (*lockfile.Lock, error) {
	timeout := env.State.LockTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	lock, err := lockfile.Acquire(ctx, path, mode, timeout)
	if errors.Is(err, lockfile.ErrTimeout) {
		return nil, protocol.Errorf(protocol.CodeConflict,
			"%s is busy: another helper process works on it; retry when it has finished (%v)", what, err)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", what, err)
	}
	return lock, nil
}
