package lockfile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const shortWait = 150 * time.Millisecond

func TestSharedLocksCoexist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")

	first := mustAcquire(t, path, Shared, shortWait)
	second := mustAcquire(t, path, Shared, shortWait)

	if err := first.Release(); err != nil {
		t.Errorf("release first: %v", err)
	}
	if err := second.Release(); err != nil {
		t.Errorf("release second: %v", err)
	}
}

func TestExclusiveExcludes(t *testing.T) {
	tests := []struct {
		name         string
		held, wanted Mode
	}{
		{"exclusive blocks exclusive", Exclusive, Exclusive},
		{"exclusive blocks shared", Exclusive, Shared},
		{"shared blocks exclusive", Shared, Exclusive},
	}
	for _, test := range tests {
		t.Run(test.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "lock")
			held := mustAcquire(t, path, test.held, shortWait)
			defer held.Release()

			start := time.Now()
			_, err := Acquire(context.Background(), path, test.wanted, shortWait)
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("Acquire error = %v, want ErrTimeout", err)
			}
			if waited := time.Since(start); waited < shortWait {
				t.Errorf("Acquire gave up after %s, before the %s wait ended", waited, shortWait)
			}
		})
	}
}

func TestWaiterGetsLockAfterRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held := mustAcquire(t, path, Exclusive, shortWait)

	acquired := make(chan error, 1)
	go func() {
		lock, err := Acquire(context.Background(), path, Exclusive, 10*time.Second)
		if err == nil {
			err = lock.Release()
		}
		acquired <- err
	}()

	select {
	case err := <-acquired:
		t.Fatalf("waiter finished while the lock was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := held.Release(); err != nil {
		t.Fatalf("release: %v", err)
	}
	select {
	case err := <-acquired:
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not get the lock within 5s of its release")
	}
}

func TestAcquireContextCanceled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held := mustAcquire(t, path, Exclusive, shortWait)
	defer held.Release()

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)

	_, err := Acquire(ctx, path, Shared, 10*time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire error = %v, want context.Canceled", err)
	}
}

func TestAcquireMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "lock")

	_, err := Acquire(context.Background(), path, Shared, shortWait)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Acquire error = %v, want one wrapping fs.ErrNotExist", err)
	}
}

// A waiter must not keep a lock on a file that the holder removed together with its folder.
func TestAcquireAfterFolderRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lock")
	held := mustAcquire(t, path, Exclusive, shortWait)

	result := make(chan error, 1)
	go func() {
		lock, err := Acquire(context.Background(), path, Shared, 10*time.Second)
		if err == nil {
			_ = lock.Release()
		}
		result <- err
	}()

	time.Sleep(50 * time.Millisecond)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := held.Release(); err != nil {
		t.Fatalf("release: %v", err)
	}

	select {
	case err := <-result:
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("waiter error = %v, want one wrapping fs.ErrNotExist", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter did not return within 5s")
	}
}

func TestReleaseKeepsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	lock := mustAcquire(t, path, Exclusive, shortWait)
	if err := lock.Release(); err != nil {
		t.Fatalf("release: %v", err)
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("lock file after release: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("lock file mode = %v, want %v", mode, fs.FileMode(0o600))
	}
}

func mustAcquire(t *testing.T, path string, mode Mode, timeout time.Duration) *Lock {
	t.Helper()
	lock, err := Acquire(context.Background(), path, mode, timeout)
	if err != nil {
		t.Fatalf("Acquire %s: %v", mode, err)
	}
	return lock
}
