package state

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/lockfile"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func newDir(t *testing.T) Dir {
	t.Helper()
	return Dir{Path: filepath.Join(t.TempDir(), "iotfleet"), LockTimeout: 200 * time.Millisecond}
}

// makeObjects creates one records subfolder per name, for example "containers/web".
func makeObjects(t *testing.T, dir Dir, paths ...string) {
	t.Helper()
	for _, path := range paths {
		if err := os.MkdirAll(filepath.Join(dir.Path, path), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInventoryMissingFolder(t *testing.T) {
	dir := newDir(t)

	inventory, err := dir.Inventory(context.Background())
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	assertInventory(t, inventory, protocol.Inventory{
		Containers: []string{}, Networks: []string{}, Profiles: []string{}, Recordings: []string{},
	})
	if _, err := os.Stat(dir.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Inventory created the state folder: stat error = %v", err)
	}
}

func TestInventoryListsObjects(t *testing.T) {
	dir := newDir(t)
	makeObjects(t, dir, "containers/web", "containers/db", "profiles/strict", "containers/.tmp-x")
	// A regular file in a records folder is not an object.
	if err := os.WriteFile(filepath.Join(dir.Path, "containers", "notes"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	inventory, err := dir.Inventory(context.Background())
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	assertInventory(t, inventory, protocol.Inventory{
		Containers: []string{"db", "web"},
		Networks:   []string{},
		Profiles:   []string{"strict"},
		Recordings: []string{},
	})
}

func TestInventoryWaitsForExclusive(t *testing.T) {
	dir := newDir(t)
	makeObjects(t, dir, "containers")
	held := lockExclusive(t, dir)
	defer held.Release()

	_, err := dir.Inventory(context.Background())
	if !errors.Is(err, protocol.ErrConflict) {
		t.Fatalf("Inventory error = %v, want a conflict", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir.Path, LockFile)) {
		t.Errorf("error %q does not name the lock file", err)
	}
}

func TestUninstallMissingFolder(t *testing.T) {
	dir := newDir(t)

	result, err := dir.Uninstall(context.Background())
	if err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if result.Removed {
		t.Error("Removed = true for a state folder that did not exist")
	}
	if _, err := os.Stat(dir.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Uninstall created the state folder: stat error = %v", err)
	}
}

func TestUninstallRemovesFolder(t *testing.T) {
	dir := newDir(t)
	makeObjects(t, dir, "bin", "containers", "networks", "profiles", "recordings")
	if err := os.WriteFile(filepath.Join(dir.Path, "bin", "iotfleet-helper"), []byte("x"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A temporary file that an interrupted atomic write left behind does not block removal.
	if err := os.WriteFile(filepath.Join(dir.Path, ".tmp-settings.json-123"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	result, err := dir.Uninstall(context.Background())
	if err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if !result.Removed {
		t.Error("Removed = false, want true")
	}
	if _, err := os.Stat(dir.Path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state folder still exists: stat error = %v", err)
	}
}

func TestUninstallConflictWithObjects(t *testing.T) {
	dir := newDir(t)
	makeObjects(t, dir, "containers/web", "containers/db", "networks/lan")

	_, err := dir.Uninstall(context.Background())
	if !errors.Is(err, protocol.ErrConflict) {
		t.Fatalf("Uninstall error = %v, want a conflict", err)
	}
	want := "device still holds 2 containers (db, web) and 1 network (lan) managed by iotfleet; destroy them first"
	var protocolErr *protocol.Error
	if !errors.As(err, &protocolErr) || protocolErr.Message != want {
		t.Errorf("message = %q, want %q", err, want)
	}
	if _, err := os.Stat(filepath.Join(dir.Path, "containers", "web")); err != nil {
		t.Errorf("object removed despite the conflict: %v", err)
	}
}

func TestUninstallConflictWithForeignEntries(t *testing.T) {
	dir := newDir(t)
	makeObjects(t, dir, "containers", "log")
	if err := os.WriteFile(filepath.Join(dir.Path, "passwd"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := dir.Uninstall(context.Background())
	if !errors.Is(err, protocol.ErrConflict) {
		t.Fatalf("Uninstall error = %v, want a conflict", err)
	}
	for _, name := range []string{`"log"`, `"passwd"`} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir.Path, "passwd")); err != nil {
		t.Errorf("foreign file removed despite the conflict: %v", err)
	}
}

func TestUninstallWaitsForShared(t *testing.T) {
	dir := newDir(t)
	makeObjects(t, dir, "containers")
	held, err := lockfile.Acquire(context.Background(), filepath.Join(dir.Path, LockFile), lockfile.Shared, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()

	_, err = dir.Uninstall(context.Background())
	if !errors.Is(err, protocol.ErrConflict) {
		t.Fatalf("Uninstall error = %v, want a conflict", err)
	}
	if _, err := os.Stat(dir.Path); err != nil {
		t.Errorf("state folder removed while locked: %v", err)
	}
}

func TestWithExclusiveCreatesFolder(t *testing.T) {
	dir := newDir(t)

	ran := false
	err := dir.WithExclusive(context.Background(), func() error {
		ran = true
		return nil
	})
	if err != nil {
		t.Fatalf("WithExclusive: %v", err)
	}
	if !ran {
		t.Error("WithExclusive did not run fn")
	}
	info, err := os.Stat(dir.Path)
	if err != nil {
		t.Fatalf("state folder: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o700 {
		t.Errorf("state folder mode = %v, want %v", mode, fs.FileMode(0o700))
	}
}

func TestWithExclusiveReturnsFnError(t *testing.T) {
	dir := newDir(t)
	want := protocol.Errorf(protocol.CodeNotFound, "container %q not found", "web")

	err := dir.WithExclusive(context.Background(), func() error { return want })
	if err != want {
		t.Errorf("WithExclusive error = %v, want fn's error unwrapped", err)
	}
}

func TestDescribeCapsNames(t *testing.T) {
	var names []string
	for i := range 12 {
		names = append(names, string(rune('a'+i)))
	}

	got := describe(protocol.Inventory{Recordings: names, Profiles: []string{"p"}})

	want := "1 profile (p) and 12 recordings (a, b, c, d, e, f, g, h, i, j and 2 more)"
	if got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
}

func lockExclusive(t *testing.T, dir Dir) *lockfile.Lock {
	t.Helper()
	lock, err := lockfile.Acquire(context.Background(), filepath.Join(dir.Path, LockFile), lockfile.Exclusive, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return lock
}

func assertInventory(t *testing.T, got, want protocol.Inventory) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("inventory = %+v, want %+v", got, want)
	}
	for kind, list := range map[string][]string{
		"containers": got.Containers, "networks": got.Networks,
		"profiles": got.Profiles, "recordings": got.Recordings,
	} {
		if list == nil {
			t.Errorf("%s is nil, want an empty list", kind)
		}
	}
}
