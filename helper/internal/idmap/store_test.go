package idmap

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newTestStore(t *testing.T, subuid string) Store {
	t.Helper()
	dir := t.TempDir()
	store := Store{
		PoolPath:   filepath.Join(dir, "idmap.json"),
		LockPath:   filepath.Join(dir, "idmap.lock"),
		SubUIDPath: filepath.Join(dir, "subuid"),
		SubGIDPath: filepath.Join(dir, "subgid"),
	}
	if err := os.WriteFile(store.SubUIDPath, []byte(subuid), 0o644); err != nil {
		t.Fatal(err)
	}
	return store
}

func TestStoreAllocateWritesSubIDAndAvoidsOthers(t *testing.T) {
	ctx := context.Background()
	other := "builder:1000000:65536\n"
	store := newTestStore(t, other)

	r, err := store.Allocate(ctx, "web", BlockSize)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if r.Start != PoolStart+BlockSize {
		t.Errorf("start = %d, want %d (the block after builder's)", r.Start, PoolStart+BlockSize)
	}
	line := "root:1065536:65536"
	for _, path := range []string{store.SubUIDPath, store.SubGIDPath} {
		data, _ := os.ReadFile(path)
		if !strings.Contains(string(data), line) {
			t.Errorf("%s = %q, want a line %q", filepath.Base(path), data, line)
		}
	}

	// The root line written for web is the pool's own and must not push the next range away.
	again, err := store.Allocate(ctx, "web", BlockSize)
	if err != nil || again != r {
		t.Errorf("second Allocate(web) = %+v, %v; want %+v", again, err, r)
	}
}

func TestStoreReleaseRemovesSubID(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t, "alice:1:2\n")
	if _, err := store.Allocate(ctx, "web", BlockSize); err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	released, err := store.Release(ctx, "web")
	if err != nil || !released {
		t.Fatalf("Release = %v, %v; want true, nil", released, err)
	}
	data, _ := os.ReadFile(store.SubUIDPath)
	if string(data) != "alice:1:2\n" {
		t.Errorf("subuid after release = %q, want only alice's line", data)
	}
	if _, found, _ := store.Get(ctx, "web"); found {
		t.Error("Get(web) still finds an allocation after Release")
	}
	released, err = store.Release(ctx, "web")
	if err != nil || released {
		t.Errorf("second Release = %v, %v; want false, nil", released, err)
	}
}

func TestStoreRejectsMalformedSubUID(t *testing.T) {
	store := newTestStore(t, "garbage\n")
	if _, err := store.Allocate(context.Background(), "web", BlockSize); err == nil {
		t.Error("Allocate with a malformed subuid file succeeded, want an error")
	}
}
