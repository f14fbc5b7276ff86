package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// skeletonDirs are the folders of a busybox container's own rootfs with their modes. /bin is
// the mount point of the shared busybox folder; /dev, /proc, /sys are mount points too.
var skeletonDirs = []struct {
	name string
	mode fs.FileMode
}{
	{"bin", 0o755}, {"dev", 0o755}, {"etc", 0o755}, {"proc", 0o555}, {"root", 0o700},
	{"run", 0o755}, {"sys", 0o555}, {"tmp", fs.ModeSticky | 0o777},
}

// skeletonFiles give the container's root user and group names, which busybox's id, ls and ps
// look up.
var skeletonFiles = []struct {
	name    string
	content string
}{
	{"etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"},
	{"etc/group", "root:x:0:\n"},
}

// BuildSkeleton creates the rootfs folder of a busybox container with the folders and files it
// needs, all owned by the container's root user (hostUID, hostGID on the host). Existing
// entries are kept, so that a second call repairs a partial skeleton without losing files.
func BuildSkeleton(rootfs string, hostUID, hostGID int) error {
	if err := mkdirOwned(rootfs, 0o755, hostUID, hostGID); err != nil {
		return fmt.Errorf("build rootfs: %w", err)
	}
	for _, dir := range skeletonDirs {
		if err := mkdirOwned(filepath.Join(rootfs, dir.name), dir.mode, hostUID, hostGID); err != nil {
			return fmt.Errorf("build rootfs: %w", err)
		}
	}
	for _, file := range skeletonFiles {
		path := filepath.Join(rootfs, file.name)
		if _, err := os.Lstat(path); err == nil {
			continue
		}
		if err := os.WriteFile(path, []byte(file.content), 0o644); err != nil {
			return fmt.Errorf("build rootfs: %w", err)
		}
		if err := os.Lchown(path, hostUID, hostGID); err != nil {
			return fmt.Errorf("build rootfs: %w", err)
		}
	}
	return nil
}

// mkdirOwned creates dir, or reuses an existing folder, and sets its mode and owner. Chmod
// also sets the sticky bit, which Mkdir drops.
func mkdirOwned(dir string, mode fs.FileMode, uid, gid int) error {
	if err := os.Mkdir(dir, mode.Perm()); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	info, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s exists and is not a folder", dir)
	}
	if err := os.Chmod(dir, mode); err != nil {
		return err
	}
	return os.Lchown(dir, uid, gid)
}
