//go:build linux

package localdevice

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestUnescapeMountPoint(t *testing.T) {
	tests := map[string]string{
		`/tmp/plain`:          "/tmp/plain",
		`/tmp/with\040space`:  "/tmp/with space",
		`/tmp/tab\011and\134`: "/tmp/tab\tand\\",
		`/tmp/short\04`:       `/tmp/short\04`,
	}
	for in, want := range tests {
		if got := unescapeMountPoint(in); got != want {
			t.Errorf("unescapeMountPoint(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestContainerNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b", "a", "noconfig"} {
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, name, "config"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	got, err := containerNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("containerNames = %v, want %v", got, want)
	}
	if got, err := containerNames(filepath.Join(dir, "missing")); err != nil || len(got) != 0 {
		t.Errorf("containerNames(missing) = %v, %v; want none", got, err)
	}
}

func TestMountsBelow(t *testing.T) {
	mounts, err := mountsBelow("/proc")
	if err != nil {
		t.Fatal(err)
	}
	if len(mounts) == 0 || mounts[0] != "/proc" {
		t.Errorf("mountsBelow(/proc) = %v, want /proc first", mounts)
	}
	if mounts, err := mountsBelow(t.TempDir()); err != nil || len(mounts) != 0 {
		t.Errorf("mountsBelow(temp folder) = %v, %v; want none", mounts, err)
	}
}
