package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

var testOwner = Owner{HostStart: 1000000, Count: 65536}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to set file owners")
	}
}

func TestCheckPath(t *testing.T) {
	valid := map[string]string{"/etc/motd": "etc/motd", "/a": "a"}
	for input, want := range valid {
		if got, err := CheckPath(input); err != nil || got != want {
			t.Errorf("CheckPath(%q) = %q, %v; want %q", input, got, err, want)
		}
	}
	for _, input := range []string{"etc/motd", "/", "/../x", "/a/../b", "/a//b", "/a/", "/a/./b", "/a\x00b", "../x", "a b"} {
		if _, err := CheckPath(input); !errors.Is(err, ErrEscape) {
			t.Errorf("CheckPath(%q) = %v, want ErrEscape", input, err)
		}
	}
}

func TestPlaceFilesOwnerAndMode(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	files := []protocol.File{{Path: "/etc/app/config.toml", Content: []byte("a = 1\n"), Mode: 0o640, UID: 1000, GID: 1001}}
	if err := CheckFiles(root, files, testOwner, nil); err != nil {
		t.Fatalf("CheckFiles: %v", err)
	}
	if err := PlaceFiles(root, files, testOwner); err != nil {
		t.Fatalf("PlaceFiles: %v", err)
	}
	info, err := os.Stat(filepath.Join(root, "etc/app/config.toml"))
	if err != nil {
		t.Fatalf("stat placed file: %v", err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if st.Uid != 1001000 || st.Gid != 1001001 || info.Mode().Perm() != 0o640 {
		t.Errorf("placed file owner %d:%d mode %v, want 1001000:1001001 0640", st.Uid, st.Gid, info.Mode())
	}
	dir, _ := os.Stat(filepath.Join(root, "etc/app"))
	if dirSt := dir.Sys().(*syscall.Stat_t); dirSt.Uid != 1000000 {
		t.Errorf("created folder owner = %d, want the container's root 1000000", dirSt.Uid)
	}

	files[0].Content = []byte("a = 2\n")
	if err := PlaceFiles(root, files, testOwner); err != nil {
		t.Fatalf("PlaceFiles again: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/app/config.toml")); string(data) != "a = 2\n" {
		t.Errorf("updated content = %q", data)
	}
}

func TestPlaceFilesSymlinksStayInside(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	outside := t.TempDir()
	// An absolute link and a relative one that climbs above the rootfs both resolve inside it.
	if err := os.Symlink(outside, filepath.Join(root, "abs")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../../.."+outside, filepath.Join(root, "rel")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(root, "top")); err != nil {
		t.Fatal(err)
	}
	// Inside the rootfs, both links lead to rootfs/<outside>.
	if err := os.MkdirAll(filepath.Join(root, outside), 0o755); err != nil {
		t.Fatal(err)
	}
	files := []protocol.File{
		{Path: "/abs/x", Content: []byte("1"), Mode: 0o644},
		{Path: "/rel/y", Content: []byte("2"), Mode: 0o644},
		{Path: "/top/z", Content: []byte("3"), Mode: 0o644},
	}
	if err := CheckFiles(root, files, testOwner, nil); err != nil {
		t.Fatalf("CheckFiles: %v", err)
	}
	if err := PlaceFiles(root, files, testOwner); err != nil {
		t.Fatalf("PlaceFiles: %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files escaped the rootfs into %s: %v", outside, entries)
	}
	if data, err := os.ReadFile(filepath.Join(root, outside, "x")); err != nil || string(data) != "1" {
		t.Errorf("/abs/x should land at rootfs%s/x: %q, %v", outside, data, err)
	}
	if data, err := os.ReadFile(filepath.Join(root, outside, "y")); err != nil || string(data) != "2" {
		t.Errorf("/rel/y should land at rootfs%s/y: %q, %v", outside, data, err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "z")); err != nil || string(data) != "3" {
		t.Errorf("/top/z should land at rootfs/z: %q, %v", data, err)
	}
}

func TestCheckFilesRejects(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "plain"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(root, "folder"), 0o755)
	os.Symlink("/missing", filepath.Join(root, "dangling"))
	cases := map[string]struct {
		file protocol.File
		want string
	}{
		"dot dot":        {protocol.File{Path: "/../etc/passwd", Mode: 0o644}, "'..'"},
		"relative":       {protocol.File{Path: "etc/passwd", Mode: 0o644}, "not absolute"},
		"through a file": {protocol.File{Path: "/plain/x", Mode: 0o644}, "not a folder"},
		"onto a folder":  {protocol.File{Path: "/folder", Mode: 0o644}, "a folder exists"},
		"dangling link":  {protocol.File{Path: "/dangling/x", Mode: 0o644}, "link to a missing folder"},
		"setuid":         {protocol.File{Path: "/a", Mode: 0o4755}, "setuid"},
		"unmapped uid":   {protocol.File{Path: "/a", Mode: 0o644, UID: 70000}, "outside the container's mapped IDs"},
		"negative gid":   {protocol.File{Path: "/a", Mode: 0o644, GID: -1}, "outside the container's mapped IDs"},
		"reserved":       {protocol.File{Path: "/bin/tool", Mode: 0o755}, "mounts over"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := CheckFiles(root, []protocol.File{tc.file}, testOwner, []string{"/bin"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckFiles(%+v) = %v, want an error containing %q", tc.file, err, tc.want)
			}
		})
	}
	twice := []protocol.File{{Path: "/a", Mode: 0o644}, {Path: "/a", Mode: 0o644}}
	if err := CheckFiles(root, twice, testOwner, nil); err == nil {
		t.Error("CheckFiles with a duplicate path succeeded")
	}
	if entries, _ := os.ReadDir(root); len(entries) != 3 {
		t.Errorf("CheckFiles changed the rootfs: %v", entries)
	}
}

func TestRemoveFiles(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "gone"), []byte("x"), 0o644)
	if err := RemoveFiles(root, []string{"/gone", "/never/there"}); err != nil {
		t.Fatalf("RemoveFiles: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "gone")); err == nil {
		t.Error("/gone still exists")
	}
}
