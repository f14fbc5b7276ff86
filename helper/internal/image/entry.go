package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/rootfs"
)

type dirMode struct {
	rel  string
	mode uint32
}

type unpacker struct {
	rootFD   int
	stats    Stats
	unpacked int64

	// dirModes are applied after the last entry, so that a read-only folder in the archive
	// does not block the entries below it.
	dirModes []dirMode
}

func (u *unpacker) entry(header *tar.Header, content io.Reader) error {
	rel, err := EntryPath(header.Name)
	if err != nil {
		return err
	}
	u.stats.Entries++
	mode := uint32(header.Mode) & 0o7777
	if mode&(unix.S_ISUID|unix.S_ISGID) != 0 && header.Typeflag != tar.TypeDir {
		mode &^= unix.S_ISUID | unix.S_ISGID
		u.stats.StrippedModes++
	}

	switch header.Typeflag {
	case tar.TypeDir:
		return u.dir(rel, mode, header)
	case tar.TypeReg:
		return u.file(rel, mode, header, content)
	case tar.TypeSymlink:
		return u.symlink(rel, header)
	case tar.TypeLink:
		return u.hardLink(rel, header)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		u.stats.SkippedDevices++
		return nil
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("%w: entry type %q is not supported", ErrUnsafe, header.Typeflag)
	}
}

func (u *unpacker) dir(rel string, mode uint32, header *tar.Header) error {
	if rel == "" {
		u.dirModes = append(u.dirModes, dirMode{".", mode &^ (unix.S_ISUID | unix.S_ISGID)})
		return unix.Fchownat(u.rootFD, "", header.Uid, header.Gid, unix.AT_EMPTY_PATH)
	}
	parentFD, name, err := u.parent(rel)
	if err != nil {
		return err
	}
	defer unix.Close(parentFD)
	if err := unix.Mkdirat(parentFD, name, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("create folder: %w", err)
	}
	if err := unix.Fchownat(parentFD, name, header.Uid, header.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set owner: %w", err)
	}
	u.dirModes = append(u.dirModes, dirMode{rel, mode &^ (unix.S_ISUID | unix.S_ISGID)})
	return nil
}

func (u *unpacker) file(rel string, mode uint32, header *tar.Header, content io.Reader) error {
	if rel == "" {
		return fmt.Errorf("%w: a file cannot replace the image root", ErrUnsafe)
	}
	if u.unpacked+header.Size > MaxUnpackedBytes {
		return fmt.Errorf("%w: the image unpacks to more than %d GiB", ErrUnsafe, MaxUnpackedBytes>>30)
	}
	u.unpacked += header.Size

	parentFD, name, err := u.parent(rel)
	if err != nil {
		return err
	}
	defer unix.Close(parentFD)
	_ = unix.Unlinkat(parentFD, name, 0)
	fd, err := unix.Openat(parentFD, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	err = writeContent(fd, content, header, mode)
	if closeErr := unix.Close(fd); err == nil && closeErr != nil {
		err = fmt.Errorf("close file: %w", closeErr)
	}
	return err
}

func writeContent(fd int, content io.Reader, header *tar.Header, mode uint32) error {
	buffer := make([]byte, 64<<10)
	for {
		n, readErr := content.Read(buffer)
		for data := buffer[:n]; len(data) > 0; {
			written, err := unix.Write(fd, data)
			if err != nil {
				return fmt.Errorf("write file: %w", err)
			}
			data = data[written:]
		}
		if errors.Is(readErr, io.EOF) {
			break
		}
		if readErr != nil {
			return fmt.Errorf("read archive: %w", readErr)
		}
	}
	if err := unix.Fchown(fd, header.Uid, header.Gid); err != nil {
		return fmt.Errorf("set owner: %w", err)
	}
	if err := unix.Fchmod(fd, mode); err != nil {
		return fmt.Errorf("set mode: %w", err)
	}
	return nil
}

// symlink creates the link as the archive has it. Its target is not checked: the container
// resolves it inside its own root, and the helper resolves every later path inside the image.
func (u *unpacker) symlink(rel string, header *tar.Header) error {
	if rel == "" {
		return fmt.Errorf("%w: a link cannot replace the image root", ErrUnsafe)
	}
	parentFD, name, err := u.parent(rel)
	if err != nil {
		return err
	}
	defer unix.Close(parentFD)
	_ = unix.Unlinkat(parentFD, name, 0)
	if err := unix.Symlinkat(header.Linkname, parentFD, name); err != nil {
		return fmt.Errorf("create link: %w", err)
	}
	if err := unix.Fchownat(parentFD, name, header.Uid, header.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set owner: %w", err)
	}
	return nil
}

// hardLink links rel to an earlier entry, which must be a regular file inside the image.
func (u *unpacker) hardLink(rel string, header *tar.Header) error {
	target, err := EntryPath(header.Linkname)
	if err != nil || target == "" {
		return fmt.Errorf("%w: hard link target %q is outside the archive", ErrUnsafe, header.Linkname)
	}
	targetFD, err := u.open(target, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return fmt.Errorf("open hard link target %q: %w", header.Linkname, err)
	}
	defer unix.Close(targetFD)
	var st unix.Stat_t
	if err := unix.Fstat(targetFD, &st); err != nil {
		return fmt.Errorf("inspect hard link target: %w", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%w: hard link target %q is not a regular file", ErrUnsafe, header.Linkname)
	}
	parentFD, name, err := u.parent(rel)
	if err != nil {
		return err
	}
	defer unix.Close(parentFD)
	_ = unix.Unlinkat(parentFD, name, 0)
	if err := unix.Linkat(targetFD, "", parentFD, name, unix.AT_EMPTY_PATH); err != nil {
		return fmt.Errorf("create hard link: %w", err)
	}
	return nil
}

// parent opens the folder that holds rel, resolved inside the image, and returns it with the
// base name. The folder must exist: archives list folders before their entries, and those
// that do not are rejected rather than guessed.
func (u *unpacker) parent(rel string) (int, string, error) {
	dir, name := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	fd, err := u.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		if err := u.mkdirAll(dir); err != nil {
			return -1, "", err
		}
		fd, err = u.open(dir, unix.O_PATH|unix.O_DIRECTORY)
	}
	if err != nil {
		return -1, "", fmt.Errorf("open folder %q: %w", dir, err)
	}
	return fd, name, nil
}

// mkdirAll creates the missing folders of dir with mode 0755, for archives that omit them.
func (u *unpacker) mkdirAll(dir string) error {
	segments := strings.Split(dir, "/")
	for i := range segments {
		prefix := strings.Join(segments[:i+1], "/")
		parent := "."
		if i > 0 {
			parent = strings.Join(segments[:i], "/")
		}
		parentFD, err := u.open(parent, unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return fmt.Errorf("open folder %q: %w", parent, err)
		}
		err = unix.Mkdirat(parentFD, segments[i], 0o755)
		unix.Close(parentFD)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create folder %q: %w", prefix, err)
		}
	}
	return nil
}

func (u *unpacker) open(rel string, flags int) (int, error) {
	return rootfs.OpenInRoot(u.rootFD, rel, flags)
}

// fixDirModes applies the archive's folder modes. Every entry is unpacked by then, so the
// order does not matter; a folder listed twice gets the mode of its last entry.
func (u *unpacker) fixDirModes() error {
	applied := map[string]bool{}
	for i := len(u.dirModes) - 1; i >= 0; i-- {
		entry := u.dirModes[i]
		if applied[entry.rel] {
			continue
		}
		applied[entry.rel] = true
		fd, err := u.open(entry.rel, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW)
		if err != nil {
			continue
		}
		// fchmod(2) rejects O_PATH descriptors, but chmod(2) of the descriptor's /proc link
		// reaches the folder that was resolved inside the image.
		err = unix.Chmod(fmt.Sprintf("/proc/self/fd/%d", fd), entry.mode)
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("set mode of folder %q: %w", entry.rel, err)
		}
	}
	return nil
}
