//go:build linux

package idmap

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountChildEnv marks the copy of the test binary that runs in a mount namespace of its own.
const mountChildEnv = "IOTFLEET_IDMAP_MOUNT_CHILD"

// TestStoreRejectsMountPointSubID checks that Allocate refuses a subuid file that is a bind
// mount, as in some device images, and names the fix, instead of rewriting it in place. The
// bind mount is made in a copy of the test binary that runs in a private mount namespace, so
// nothing is mounted in the machine's namespace.
func TestStoreRejectsMountPointSubID(t *testing.T) {
	if os.Getenv(mountChildEnv) == "1" {
		rejectsMountPoint(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for a mount namespace and a bind mount")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare is missing: install util-linux")
	}
	// Under qemu-user without binfmt_misc, the kernel cannot execute the test binary itself.
	if err := exec.Command(os.Args[0], "-test.list", "^$").Run(); err != nil {
		t.Skipf("cannot execute the test binary %s again: %v", os.Args[0], err)
	}
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "--",
		os.Args[0], "-test.run", "^TestStoreRejectsMountPointSubID$", "-test.v")
	cmd.Env = append(os.Environ(), mountChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("test in a mount namespace failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestStoreRejectsMountPointSubID") {
		t.Fatalf("the test in a mount namespace did not pass:\n%s", out)
	}
}

func rejectsMountPoint(t *testing.T) {
	store := newTestStore(t, "")
	source := filepath.Join(t.TempDir(), "subuid.source")
	if err := os.WriteFile(source, []byte("alice:1:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(source, store.SubUIDPath, "", syscall.MS_BIND, ""); err != nil {
		t.Fatalf("bind %s over %s: %v", source, store.SubUIDPath, err)
	}
	t.Cleanup(func() { syscall.Unmount(store.SubUIDPath, 0) })

	_, err := store.Allocate(context.Background(), "web", BlockSize)
	if err == nil {
		t.Fatal("Allocate with a bind-mounted subuid file succeeded, want an error")
	}
	for _, want := range []string{store.SubUIDPath, "mount point", "make it a regular file"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	data, err := os.ReadFile(source)
	if err != nil || string(data) != "alice:1:2\n" {
		t.Errorf("the mounted file now holds %q (%v), want it unchanged", data, err)
	}
	if data, err := os.ReadFile(store.SubGIDPath); err == nil && strings.Contains(string(data), "root:") {
		t.Errorf("subgid gained %q although the allocation failed", data)
	}
}
