package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestFindBusyboxRejectsDynamic(t *testing.T) {
	// /bin/sh is dynamically linked on every distribution this runs on.
	dynamic, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skipf("no /bin/sh: %v", err)
	}
	_, err = FindBusybox([]string{dynamic, filepath.Join(t.TempDir(), "missing")})
	if !errors.Is(err, ErrNoStaticBusybox) {
		t.Errorf("FindBusybox(dynamic, missing) = %v, want ErrNoStaticBusybox", err)
	}
}

func TestEnsureBusyboxBase(t *testing.T) {
	busybox, err := FindBusybox(BusyboxCandidates)
	if err != nil {
		t.Skipf("no static busybox on this machine: %v", err)
	}
	images := t.TempDir()
	base, err := EnsureBusyboxBase(images, busybox)
	if err != nil {
		t.Fatalf("EnsureBusyboxBase: %v", err)
	}
	target, err := os.Readlink(filepath.Join(BusyboxBin(base), "sh"))
	if err != nil || target != "busybox" {
		t.Errorf("bin/sh -> %q, %v; want a link to busybox", target, err)
	}
	again, err := EnsureBusyboxBase(images, busybox)
	if err != nil || again != base {
		t.Errorf("second EnsureBusyboxBase = %q, %v; want %q", again, err, base)
	}
}

func TestBuildSkeleton(t *testing.T) {
	requireRoot(t)
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := BuildSkeleton(root, 1000000, 1000000); err != nil {
		t.Fatalf("BuildSkeleton: %v", err)
	}
	info, err := os.Stat(filepath.Join(root, "tmp"))
	if err != nil || info.Mode()&os.ModeSticky == 0 || info.Mode().Perm() != 0o777 {
		t.Errorf("tmp mode = %v, %v; want sticky 0777", info.Mode(), err)
	}
	passwd, err := os.Stat(filepath.Join(root, "etc/passwd"))
	if err != nil || passwd.Sys().(*syscall.Stat_t).Uid != 1000000 {
		t.Errorf("etc/passwd = %v, %v; want it owned by 1000000", passwd, err)
	}
	if err := BuildSkeleton(root, 1000000, 1000000); err != nil {
		t.Errorf("second BuildSkeleton: %v", err)
	}
}
