package rootfs

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrEscape marks a path that is not a clean absolute path inside the rootfs, or that crosses
// a file where it needs a folder.
var ErrEscape = errors.New("path does not stay inside the container's rootfs")

// resolveFlags make openat2(2) resolve symbolic links as the container would see them: an
// absolute link or a ".." at the top stays at the rootfs, so no link can lead outside it.
const resolveFlags = unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// CheckPath checks that p is a clean absolute path below / without ".." segments or NUL
// bytes, and returns it relative to the rootfs.
func CheckPath(p string) (string, error) {
	switch {
	case !strings.HasPrefix(p, "/"):
		return "", fmt.Errorf("%w: %q is not absolute", ErrEscape, p)
	case strings.ContainsRune(p, 0):
		return "", fmt.Errorf("%w: %q contains a NUL byte", ErrEscape, p)
	case len(p) > unix.PathMax-1:
		return "", fmt.Errorf("%w: %q is longer than %d bytes", ErrEscape, p, unix.PathMax-1)
	case p == "/":
		return "", fmt.Errorf("%w: %q names the root folder itself", ErrEscape, p)
	}
	for _, segment := range strings.Split(p[1:], "/") {
		if segment == ".." {
			return "", fmt.Errorf("%w: %q contains a '..' segment", ErrEscape, p)
		}
	}
	if path.Clean(p) != p {
		return "", fmt.Errorf("%w: %q is not clean; write it as %q", ErrEscape, p, path.Clean(p))
	}
	return p[1:], nil
}

// openInRoot opens rel below the folder rootFD with the container's view of symbolic links.
func openInRoot(rootFD int, rel string, flags int) (int, error) {
	return OpenInRoot(rootFD, rel, flags)
}

// lookup describes what a path inside the rootfs is now.
type lookup struct {
	// missing is the index of the first segment that does not exist, or len(segments) when
	// the whole path exists.
	missing int
	// isDir reports whether the existing path is a folder; meaningful when nothing is missing.
	isDir bool
}

// inspect walks rel segment by segment without changing anything. Each existing prefix except
// the last must be a folder once symbolic links are resolved inside the rootfs.
func inspect(rootFD int, rel string) (lookup, error) {
	segments := strings.Split(rel, "/")
	for i := range segments {
		prefix := strings.Join(segments[:i+1], "/")
		last := i == len(segments)-1
		flags := unix.O_PATH
		if last {
			flags |= unix.O_NOFOLLOW
		}
		fd, err := openInRoot(rootFD, prefix, flags)
		if errors.Is(err, unix.ENOENT) && !last && isLink(rootFD, prefix) {
			return lookup{}, fmt.Errorf("%w: /%s is a symbolic link to a missing folder", ErrEscape, prefix)
		}
		if errors.Is(err, unix.ENOENT) {
			return lookup{missing: i}, nil
		}
		if err != nil {
			return lookup{}, fmt.Errorf("%w: /%s: %v", ErrEscape, prefix, err)
		}
		var st unix.Stat_t
		statErr := unix.Fstat(fd, &st)
		unix.Close(fd)
		if statErr != nil {
			return lookup{}, fmt.Errorf("inspect /%s: %w", prefix, statErr)
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if !last && !isDir {
			return lookup{}, fmt.Errorf("%w: /%s is not a folder", ErrEscape, prefix)
		}
		if last {
			return lookup{missing: len(segments), isDir: isDir}, nil
		}
	}
	return lookup{missing: len(segments)}, nil
}

// isLink reports whether rel itself, without following it, exists as a symbolic link.
func isLink(rootFD int, rel string) bool {
	fd, err := openInRoot(rootFD, rel, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

// IsRegularFile reports whether p, resolved inside the rootfs at rootDir, is a regular file.
func IsRegularFile(rootDir, p string) bool {
	rel, err := CheckPath(p)
	if err != nil {
		return false
	}
	rootFD, err := unix.Open(rootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(rootFD)
	fd, err := openInRoot(rootFD, rel, unix.O_PATH)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG
}
