package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/atomicfile"
	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/rootfs"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Layout of an image folder: images/<sha256>/rootfs holds the unpacked tree and
// images/<sha256>/.complete marks a finished import.
const (
	RootfsDir    = "rootfs"
	completeFile = ".complete"
	tempPrefix   = ".tmp-"
)

var sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ValidateSHA256 checks that sum is 64 lowercase hex digits.
func ValidateSHA256(field, sum string) error {
	if !sha256Pattern.MatchString(sum) {
		return fmt.Errorf("invalid %s %q: use the SHA-256 as 64 lowercase hex digits", field, sum)
	}
	return nil
}

// Dir returns the folder of the image with SHA-256 sum.
func Dir(imagesDir, sum string) string {
	return filepath.Join(imagesDir, sum)
}

// Rootfs returns the unpacked tree of the image with SHA-256 sum.
func Rootfs(imagesDir, sum string) string {
	return filepath.Join(Dir(imagesDir, sum), RootfsDir)
}

// Exists reports whether the image with SHA-256 sum was imported completely.
func Exists(imagesDir, sum string) bool {
	_, err := os.Stat(filepath.Join(Dir(imagesDir, sum), completeFile))
	return err == nil
}

// Import checks that the file at upload has SHA-256 sum, unpacks it into imagesDir/<sum>
// unless that image exists, and removes the upload in both cases. The caller holds the images
// lock. A failed import leaves no image behind and keeps the upload for inspection.
func Import(imagesDir, upload, sum string) (protocol.ImageImportResult, Stats, error) {
	result := protocol.ImageImportResult{SHA256: sum}
	if Exists(imagesDir, sum) {
		if err := removeUpload(upload); err != nil {
			return result, Stats{}, err
		}
		size, err := rootfs.DiskUsage(Dir(imagesDir, sum))
		result.Bytes = size
		return result, Stats{}, err
	}

	if err := checkSum(upload, sum); err != nil {
		return result, Stats{}, err
	}
	stats, err := unpackInto(imagesDir, upload, sum)
	if err != nil {
		return result, stats, err
	}
	if err := removeUpload(upload); err != nil {
		return result, stats, err
	}
	size, err := rootfs.DiskUsage(Dir(imagesDir, sum))
	result.Bytes = size
	result.Imported = true
	return result, stats, err
}

func checkSum(upload, want string) error {
	file, err := os.Open(upload)
	if errors.Is(err, fs.ErrNotExist) {
		return protocol.Errorf(protocol.CodeNotFound, "upload %s not found; upload the tarball first", upload)
	}
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer file.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, file); err != nil {
		return fmt.Errorf("hash upload: %w", err)
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != want {
		return protocol.Errorf(protocol.CodeInvalid,
			"upload %s has SHA-256 %s, not the expected %s; upload the file again", upload, got, want)
	}
	return nil
}

// unpackInto unpacks upload into a temporary folder and renames it into place.
func unpackInto(imagesDir, upload, sum string) (Stats, error) {
	if err := os.MkdirAll(imagesDir, 0o711); err != nil {
		return Stats{}, fmt.Errorf("create images folder: %w", err)
	}
	temp, err := os.MkdirTemp(imagesDir, tempPrefix+sum[:12]+"-")
	if err != nil {
		return Stats{}, fmt.Errorf("create image folder: %w", err)
	}
	defer os.RemoveAll(temp)
	if err := os.Chmod(temp, 0o755); err != nil {
		return Stats{}, fmt.Errorf("create image folder: %w", err)
	}
	tree := filepath.Join(temp, RootfsDir)
	if err := os.Mkdir(tree, 0o755); err != nil {
		return Stats{}, fmt.Errorf("create image folder: %w", err)
	}

	file, err := os.Open(upload)
	if err != nil {
		return Stats{}, fmt.Errorf("open upload: %w", err)
	}
	defer file.Close()
	stream, err := Decompress(file)
	if err != nil {
		return Stats{}, protocol.Errorf(protocol.CodeInvalid, "upload %s: %v", upload, err)
	}
	stats, err := Unpack(stream, tree)
	if errors.Is(err, ErrUnsafe) {
		return stats, protocol.Errorf(protocol.CodeInvalid, "image %s: %v", sum, err)
	}
	if err != nil {
		return stats, fmt.Errorf("image %s: %w", sum, err)
	}

	if err := os.WriteFile(filepath.Join(temp, completeFile), nil, 0o644); err != nil {
		return stats, fmt.Errorf("finish image: %w", err)
	}
	final := Dir(imagesDir, sum)
	if err := os.RemoveAll(final); err != nil {
		return stats, fmt.Errorf("remove incomplete image %s: %w", final, err)
	}
	if err := os.Rename(temp, final); err != nil {
		return stats, fmt.Errorf("finish image: %w", err)
	}
	return stats, atomicfile.SyncDir(imagesDir)
}

func removeUpload(upload string) error {
	if err := os.Remove(upload); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove upload: %w", err)
	}
	return nil
}

// Remove deletes the image folder with SHA-256 sum, or the busybox base folder named name.
func Remove(imagesDir, name string) error {
	if name == "" || strings.ContainsAny(name, "/") || strings.HasPrefix(name, ".") {
		return fmt.Errorf("remove image: invalid name %q", name)
	}
	if err := os.RemoveAll(filepath.Join(imagesDir, name)); err != nil {
		return fmt.Errorf("remove image %s: %w", name, err)
	}
	return nil
}
