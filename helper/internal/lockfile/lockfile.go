// Package lockfile serializes helper processes on one device with flock(2) on a lock file.
//
// flock locks belong to an open file description, so two opens of the same file contend even
// inside one process. The kernel drops a lock when its holder exits, so a crashed helper never
// leaves a stale lock behind.
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Mode selects a shared lock, which any number of readers hold at once, or an exclusive one.
type Mode int

const (
	Shared Mode = iota
	Exclusive
)

func (m Mode) String() string {
	if m == Exclusive {
		return "exclusive"
	}
	return "shared"
}

// ErrTimeout is returned when another process held the lock for the whole wait.
var ErrTimeout = errors.New("timed out waiting for the lock")

// Polling bounds for a busy lock. flock(2) has no timed wait, and a blocking flock in a
// goroutine could not be abandoned without leaking the lock once it is granted.
const (
	minPoll = 5 * time.Millisecond
	maxPoll = 100 * time.Millisecond
)

// Lock is a held flock(2) lock. A second Release fails because the file is closed.
type Lock struct {
	file *os.File
}

// Acquire opens or creates the lock file at path (mode 0600) and locks it in mode, waiting at
// most timeout or until ctx ends. Its folder must exist: when it does not, or when another
// process removes the file together with its folder while this one waits, the error wraps
// fs.ErrNotExist.
func Acquire(ctx context.Context, path string, mode Mode, timeout time.Duration) (*Lock, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	poll := minPoll
	for {
		lock, err := tryAcquire(path, mode)
		if err == nil {
			return lock, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, err
		}

		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%s lock %s: %w after %s", mode, path, ErrTimeout, timeout)
			}
			return nil, fmt.Errorf("%s lock %s: %w", mode, path, ctx.Err())
		case <-time.After(poll):
		}
		poll = min(2*poll, maxPoll)
	}
}

// tryAcquire makes one attempt without waiting. It returns an error wrapping EWOULDBLOCK
// when the lock is busy or the file was replaced before the lock was granted.
func tryAcquire(path string, mode Mode) (*Lock, error) {
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}

	operation := unix.LOCK_SH
	if mode == Exclusive {
		operation = unix.LOCK_EX
	}
	if err := flock(file, operation|unix.LOCK_NB); err != nil {
		_ = file.Close()
		return nil, fmt.Errorf("%s lock %s: %w", mode, path, err)
	}

	// A holder may have removed the file (uninstall removes the whole state folder) or replaced
	// it between our open and our flock. A lock on that old inode excludes no other process, so retry
	// with the file that the path names now.
	current, err := os.Stat(path)
	opened, statErr := file.Stat()
	if err != nil || statErr != nil || !os.SameFile(current, opened) {
		_ = file.Close()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("check lock file %s: %w", path, err)
		}
		if statErr != nil {
			return nil, fmt.Errorf("check lock file %s: %w", path, statErr)
		}
		return nil, fmt.Errorf("lock file %s was replaced while locking: %w", path, unix.EWOULDBLOCK)
	}
	return &Lock{file: file}, nil
}

// Release unlocks and closes the lock file. It leaves the file in place: removing it would let
// a waiter lock the removed inode while a newcomer locks a new file.
func (l *Lock) Release() error {
	unlockErr := flock(l.file, unix.LOCK_UN)
	closeErr := l.file.Close()
	if err := errors.Join(unlockErr, closeErr); err != nil {
		return fmt.Errorf("release lock %s: %w", l.file.Name(), err)
	}
	return nil
}

// flock calls flock(2) with operation, retrying when a signal interrupts it.
func flock(file *os.File, operation int) error {
	for {
		err := unix.Flock(int(file.Fd()), operation)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
