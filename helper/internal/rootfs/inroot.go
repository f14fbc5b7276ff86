package rootfs

import (
	"errors"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// maxSymlinks bounds the symbolic links that one resolution follows, as the kernel's
// MAXSYMLINKS does.
const maxSymlinks = 40

// openat2Missing records that the kernel has no openat2(2), which arrived in Linux 5.6.
var openat2Missing atomic.Bool

// OpenInRoot opens rel below the folder rootFD, resolving every symbolic link and ".." as a
// process whose root is rootFD would: nothing can lead outside it. flags must open an O_PATH
// descriptor, optionally with O_DIRECTORY and O_NOFOLLOW. The error of a missing path wraps
// ENOENT, as openat(2)'s does.
func OpenInRoot(rootFD int, rel string, flags int) (int, error) {
	if !openat2Missing.Load() {
		how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolveFlags}
		for {
			fd, err := unix.Openat2(rootFD, rel, &how)
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			if !errors.Is(err, unix.ENOSYS) {
				return fd, err
			}
			openat2Missing.Store(true)
			break
		}
	}
	return walkInRoot(rootFD, rel, flags)
}

// walkInRoot does what OpenInRoot does without openat2(2), one component at a time. Each
// component is opened with O_NOFOLLOW below a descriptor that the walk holds. The walk itself
// interprets links and "..", so a concurrent rename inside the root cannot lead out of it.
func walkInRoot(rootFD int, rel string, flags int) (int, error) {
	if flags&^(unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC) != 0 || flags&unix.O_PATH == 0 {
		return -1, unix.EINVAL
	}
	var rootStat unix.Stat_t
	if err := unix.Fstat(rootFD, &rootStat); err != nil {
		return -1, err
	}
	root, err := unix.FcntlInt(uintptr(rootFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	w := &walk{stack: []int{root}, dev: rootStat.Dev, noFollow: flags&unix.O_NOFOLLOW != 0}
	defer w.close()

	fd, err := w.resolve(strings.Split(rel, "/"))
	if err != nil {
		return -1, err
	}
	if flags&unix.O_DIRECTORY != 0 {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(fd)
			return -1, unix.ENOTDIR
		}
	}
	return fd, nil
}

// walk is the state of one resolution: the folders from the root down to the current one.
type walk struct {
	stack    []int
	dev      uint64
	noFollow bool
	links    int
}

func (w *walk) close() {
	for _, fd := range w.stack {
		unix.Close(fd)
	}
}

func (w *walk) top() int { return w.stack[len(w.stack)-1] }

// resolve walks the components and returns a new descriptor of the last one.
func (w *walk) resolve(remaining []string) (int, error) {
	for len(remaining) > 0 {
		name := remaining[0]
		remaining = remaining[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(w.stack) > 1 {
				unix.Close(w.top())
				w.stack = w.stack[:len(w.stack)-1]
			}
			continue
		}
		last := len(remaining) == 0 || allEmpty(remaining)
		fd, st, err := w.openComponent(name)
		if err != nil {
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK && !(last && w.noFollow) {
			target, err := readLink(fd)
			unix.Close(fd)
			if err != nil {
				return -1, err
			}
			if w.links++; w.links > maxSymlinks {
				return -1, unix.ELOOP
			}
			if strings.HasPrefix(target, "/") {
				w.popToRoot()
			}
			remaining = append(strings.Split(target, "/"), remaining...)
			continue
		}
		if last {
			return fd, nil
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(fd)
			return -1, unix.ENOTDIR
		}
		w.stack = append(w.stack, fd)
	}
	return unix.FcntlInt(uintptr(w.top()), unix.F_DUPFD_CLOEXEC, 0)
}

// openComponent opens name below the current folder without following it.
func (w *walk) openComponent(name string) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Openat(w.top(), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, st, err
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, st, err
	}
	if st.Dev != w.dev {
		unix.Close(fd)
		return -1, st, unix.EXDEV
	}
	return fd, st, nil
}

func (w *walk) popToRoot() {
	for len(w.stack) > 1 {
		unix.Close(w.top())
		w.stack = w.stack[:len(w.stack)-1]
	}
}

func readLink(fd int) (string, error) {
	buffer := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, "", buffer)
	if err != nil {
		return "", err
	}
	return string(buffer[:n]), nil
}

func allEmpty(segments []string) bool {
	for _, segment := range segments {
		if segment != "" && segment != "." {
			return false
		}
	}
	return true
}
