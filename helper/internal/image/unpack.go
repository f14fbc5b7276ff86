// Package image imports rootfs tarballs into shared, read-only images in the state folder.
package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// ErrUnsafe marks an archive entry that would escape the target folder or that the helper
// does not unpack for safety.
var ErrUnsafe = errors.New("unsafe archive entry")

// MaxUnpackedBytes bounds the file content that one image may unpack to, so that a small
// compressed upload cannot fill the device.
// NOTE: 4 GiB is a guess at the largest rootfs an IoT device holds, not a measured limit.
const MaxUnpackedBytes = 4 << 30

// Stats counts what Unpack did.
type Stats struct {
	Entries int

	// SkippedDevices counts device nodes and FIFOs, which are never unpacked: LXC's autodev
	// provides the container's /dev.
	SkippedDevices int

	// StrippedModes counts entries whose setuid or setgid bit was cleared.
	StrippedModes int
}

// Decompress returns a reader of the tar stream in r, which may be plain or compressed with
// gzip or xz. The magic bytes at the start of r select the format.
func Decompress(r io.Reader) (io.Reader, error) {
	buffered := bufio.NewReaderSize(r, 1<<16)
	magic, err := buffered.Peek(262)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read archive header: %w", err)
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		gz, err := gzip.NewReader(buffered)
		if err != nil {
			return nil, fmt.Errorf("open gzip stream: %w", err)
		}
		return gz, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xzReader, err := xz.NewReader(buffered)
		if err != nil {
			return nil, fmt.Errorf("open xz stream: %w", err)
		}
		return xzReader, nil
	case len(magic) >= 262 && bytes.Equal(magic[257:262], []byte("ustar")):
		return buffered, nil
	default:
		return nil, errors.New("the upload is not a tar archive, plain or compressed with gzip or xz")
	}
}

// Unpack extracts the tar stream r into the folder rootDir, which must exist and be empty.
// Every path is resolved inside rootDir, as the container will see it, so neither ".." nor a
// symbolic link unpacked earlier can lead outside. Entries named with ".." are rejected, as are
// hard links to paths outside the archive's tree. Owners are kept as the archive sets them,
// because containers see the image through an idmapped mount.
func Unpack(r io.Reader, rootDir string) (Stats, error) {
	rootFD, err := unix.Open(rootDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stats{}, fmt.Errorf("open image folder: %w", err)
	}
	defer unix.Close(rootFD)

	u := &unpacker{rootFD: rootFD}
	reader := tar.NewReader(r)
	for {
		header, err := reader.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return u.stats, fmt.Errorf("read archive: %w", err)
		}
		if err := u.entry(header, reader); err != nil {
			return u.stats, fmt.Errorf("unpack %q: %w", header.Name, err)
		}
	}
	return u.stats, u.fixDirModes()
}

// EntryPath returns the archive name as a path relative to the target, or "" for the target
// itself. A leading "/" or "./" is dropped, as GNU tar does.
func EntryPath(name string) (string, error) {
	trimmed := strings.TrimLeft(name, "/")
	for _, segment := range strings.Split(trimmed, "/") {
		if segment == ".." {
			return "", fmt.Errorf("%w: the name contains '..'", ErrUnsafe)
		}
	}
	if strings.ContainsRune(trimmed, 0) {
		return "", fmt.Errorf("%w: the name contains a NUL byte", ErrUnsafe)
	}
	cleaned := path.Clean(trimmed)
	if cleaned == "." {
		return "", nil
	}
	return cleaned, nil
}
