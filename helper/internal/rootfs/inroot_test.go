package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestWalkInRootMatchesOpenat2 compares the fallback resolver with the kernel's openat2(2)
// on links that try to leave the root.
func TestWalkInRootMatchesOpenat2(t *testing.T) {
	root := t.TempDir()
	mustMkdir(t, filepath.Join(root, "etc/app"))
	mustWrite(t, filepath.Join(root, "etc/app/conf"))
	links := map[string]string{
		"abs":      "/etc",
		"climb":    "../../../../../../etc",
		"dotdot":   "etc/app/../../etc/app",
		"loop":     "loop",
		"dangling": "/missing",
		"tofile":   "etc/app/conf",
		"etc/up":   "..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	rootFD, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootFD)

	paths := []string{
		".", "etc", "etc/app/conf", "abs/app/conf", "climb/app", "dotdot/conf", "loop", "loop/x",
		"dangling", "dangling/x", "tofile", "tofile/x", "etc/up/etc/up/abs", "../../etc", "missing",
	}
	for _, rel := range paths {
		for _, flags := range []int{unix.O_PATH, unix.O_PATH | unix.O_NOFOLLOW, unix.O_PATH | unix.O_DIRECTORY} {
			how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
			kernelFD, kernelErr := unix.Openat2(rootFD, rel, &how)
			if errors.Is(kernelErr, unix.ENOSYS) {
				t.Skip("the kernel has no openat2(2) to compare with")
			}
			walkFD, walkErr := walkInRoot(rootFD, rel, flags)
			if !sameOutcome(kernelFD, kernelErr, walkFD, walkErr) {
				t.Errorf("%q flags %#x: openat2 = %v, walk = %v; want the same file or error",
					rel, flags, describe(kernelFD, kernelErr), describe(walkFD, walkErr))
			}
			closeIfOpen(kernelFD, kernelErr)
			closeIfOpen(walkFD, walkErr)
		}
	}
}

func sameOutcome(fd1 int, err1 error, fd2 int, err2 error) bool {
	if err1 != nil || err2 != nil {
		return errors.Is(err2, err1) || errors.Is(err1, err2)
	}
	var st1, st2 unix.Stat_t
	return unix.Fstat(fd1, &st1) == nil && unix.Fstat(fd2, &st2) == nil && st1.Ino == st2.Ino && st1.Dev == st2.Dev
}

func describe(fd int, err error) string {
	if err != nil {
		return err.Error()
	}
	path, _ := os.Readlink(filepath.Join("/proc/self/fd", strconv.Itoa(fd)))
	return path
}

func closeIfOpen(fd int, err error) {
	if err == nil {
		unix.Close(fd)
	}
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}
