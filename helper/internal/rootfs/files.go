package rootfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Owner maps IDs inside the container to host IDs.
type Owner struct {
	HostStart uint64
	Count     uint64
}

// Host returns the host ID of container ID id.
func (o Owner) Host(id int) int {
	return int(o.HostStart) + id
}

// Check returns an error unless uid and gid are mapped.
func (o Owner) Check(uid, gid int) error {
	for _, id := range []int{uid, gid} {
		if id < 0 || uint64(id) >= o.Count {
			return fmt.Errorf("ID %d is outside the container's mapped IDs 0..%d", id, o.Count-1)
		}
	}
	return nil
}

// MaxFileMode is the largest mode a placed file may have: setuid, setgid and sticky bits are
// rejected, because a file from the spec has no reason to raise privileges.
const MaxFileMode = 0o777

// CheckFiles validates every file without changing anything: clean absolute paths that stay
// inside the rootfs at rootDir, no path twice, none below a reserved prefix, mapped owners,
// modes within MaxFileMode, and no existing folder where a file goes.
// An empty rootDir, for a rootfs not built yet, skips the checks that need one.
func CheckFiles(rootDir string, files []protocol.File, owner Owner, reserved []string) error {
	rootFD := -1
	if rootDir != "" {
		fd, err := unix.Open(rootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open rootfs %s: %w", rootDir, err)
		}
		defer unix.Close(fd)
		rootFD = fd
	}

	seen := make(map[string]bool, len(files))
	for _, file := range files {
		if err := checkFile(rootFD, file, owner, reserved); err != nil {
			return err
		}
		if seen[file.Path] {
			return fmt.Errorf("file %q is listed twice", file.Path)
		}
		seen[file.Path] = true
	}
	return nil
}

func checkFile(rootFD int, file protocol.File, owner Owner, reserved []string) error {
	rel, err := CheckPath(file.Path)
	if err != nil {
		return err
	}
	for _, prefix := range reserved {
		if file.Path == prefix || strings.HasPrefix(file.Path, prefix+"/") {
			return fmt.Errorf("file %q is below %s, which the helper mounts over the rootfs; "+
				"choose another path", file.Path, prefix)
		}
	}
	if file.Mode > MaxFileMode {
		return fmt.Errorf("file %q has mode %#o; setuid, setgid and sticky bits are not allowed, "+
			"use a mode up to 0777", file.Path, file.Mode)
	}
	if err := owner.Check(file.UID, file.GID); err != nil {
		return fmt.Errorf("file %q: %w", file.Path, err)
	}
	if rootFD < 0 {
		return nil
	}
	found, err := inspect(rootFD, rel)
	if err != nil {
		return err
	}
	if found.missing == len(strings.Split(rel, "/")) && found.isDir {
		return fmt.Errorf("file %q: a folder exists at that path", file.Path)
	}
	return nil
}

// PlaceFiles writes files into the rootfs at rootDir after CheckFiles accepted them. Missing
// parent folders are created with mode 0755 and owned by the container's root. Each file is
// written to a temporary file in its folder and renamed over the path, so a running container
// reads either the old or the new content. A symbolic link at the path is replaced, not
// followed.
func PlaceFiles(rootDir string, files []protocol.File, owner Owner) error {
	rootFD, err := unix.Open(rootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs %s: %w", rootDir, err)
	}
	defer unix.Close(rootFD)

	for _, file := range files {
		if err := placeFile(rootFD, file, owner); err != nil {
			return fmt.Errorf("place file %q: %w", file.Path, err)
		}
	}
	return nil
}

func placeFile(rootFD int, file protocol.File, owner Owner) error {
	rel, err := CheckPath(file.Path)
	if err != nil {
		return err
	}
	dirFD, err := ensureDir(rootFD, path.Dir(rel), owner)
	if err != nil {
		return err
	}
	defer unix.Close(dirFD)
	return writeAt(dirFD, path.Base(rel), file, owner)
}

// ensureDir opens folder rel (relative to the rootfs, "." for the root), creating missing
// segments owned by the container's root.
func ensureDir(rootFD int, rel string, owner Owner) (int, error) {
	if rel == "." {
		return unix.Dup(rootFD)
	}
	found, err := inspect(rootFD, rel)
	if err != nil {
		return -1, err
	}
	segments := strings.Split(rel, "/")
	for i := found.missing; i < len(segments); i++ {
		parent := "."
		if i > 0 {
			parent = strings.Join(segments[:i], "/")
		}
		if err := mkdirIn(rootFD, parent, segments[i], owner); err != nil {
			return -1, err
		}
	}
	return openInRoot(rootFD, rel, unix.O_PATH|unix.O_DIRECTORY)
}

func mkdirIn(rootFD int, parent, name string, owner Owner) error {
	parentFD, err := openInRoot(rootFD, parent, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("open /%s: %w", parent, err)
	}
	defer unix.Close(parentFD)
	if err := unix.Mkdirat(parentFD, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create folder %s in /%s: %w", name, parent, err)
	}
	root := owner.Host(0)
	if err := unix.Fchownat(parentFD, name, root, root, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set owner of folder %s in /%s: %w", name, parent, err)
	}
	return nil
}

// writeAt replaces name in the folder dirFD with the file's content, owner and mode.
func writeAt(dirFD int, name string, file protocol.File, owner Owner) (err error) {
	temp := ".tmp-iotfleet-" + randomSuffix()
	fd, err := unix.Openat(dirFD, temp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = unix.Unlinkat(dirFD, temp, 0)
		}
	}()
	err = fillFile(fd, file, owner)
	if closeErr := unix.Close(fd); err == nil && closeErr != nil {
		err = fmt.Errorf("close temporary file: %w", closeErr)
	}
	if err != nil {
		return err
	}
	if err := unix.Renameat(dirFD, temp, dirFD, name); err != nil {
		return fmt.Errorf("rename temporary file: %w", err)
	}
	return nil
}

// fillFile writes the content and sets owner and mode, in that order: chown(2) clears mode
// bits that a later chmod(2) sets again.
func fillFile(fd int, file protocol.File, owner Owner) error {
	for data := file.Content; len(data) > 0; {
		n, err := unix.Write(fd, data)
		if err != nil {
			return fmt.Errorf("write: %w", err)
		}
		data = data[n:]
	}
	if err := unix.Fchown(fd, owner.Host(file.UID), owner.Host(file.GID)); err != nil {
		return fmt.Errorf("set owner: %w", err)
	}
	if err := unix.Fchmod(fd, file.Mode); err != nil {
		return fmt.Errorf("set mode: %w", err)
	}
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

// RemoveFiles removes the files at paths from the rootfs, resolving their folders inside it.
// Paths that no longer exist are skipped.
func RemoveFiles(rootDir string, paths []string) error {
	rootFD, err := unix.Open(rootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs %s: %w", rootDir, err)
	}
	defer unix.Close(rootFD)
	for _, p := range paths {
		rel, err := CheckPath(p)
		if err != nil {
			return err
		}
		dirFD, err := openInRoot(rootFD, path.Dir(rel), unix.O_PATH|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return fmt.Errorf("remove file %q: %w", p, err)
		}
		err = unix.Unlinkat(dirFD, path.Base(rel), 0)
		unix.Close(dirFD)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove file %q: %w", p, err)
		}
	}
	return nil
}

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
