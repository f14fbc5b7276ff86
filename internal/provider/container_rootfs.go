package provider

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"github.com/pkg/sftp"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/device"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// maxFilesBytes bounds the content of all files of one container. The files travel base64-encoded
// inside one helper request of at most protocol.MaxRequestBytes, which leaves room for the rest.
const maxFilesBytes = protocol.MaxRequestBytes / 2

// removeUploadTimeout bounds the removal of an uploaded tarball after an import.
const removeUploadTimeout = 30 * time.Second

// tarBlockSize is the size of a tar header block.
const tarBlockSize = 512

// Magic numbers at the start of the archive formats that inspectTarball recognizes.
var (
	gzipMagic  = []byte{0x1f, 0x8b}
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	bzip2Magic = []byte("BZh")
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	zipMagic   = []byte("PK\x03\x04")
)

// inspectTarball checks that the local file is a tar archive, plain or compressed with gzip or
// xz, and returns its hex-encoded SHA-256. An xz archive is recognized by its magic number
// only, because the standard library cannot decompress xz.
func inspectTarball(name string) (string, error) {
	if err := checkTarFormat(name); err != nil {
		return "", err
	}
	file, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("open rootfs tarball: %w", err)
	}
	defer file.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, file); err != nil {
		return "", fmt.Errorf("read rootfs tarball %q: %w", name, err)
	}
	return hex.EncodeToString(hash.Sum(nil)), nil
}

func checkTarFormat(name string) error {
	file, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open rootfs tarball: %w; give the path of a local .tar, .tar.gz or .tar.xz file, "+
			"relative to the folder Terraform runs in (path.module helps)", err)
	}
	defer file.Close()
	reader := bufio.NewReader(file)
	head, err := reader.Peek(tarBlockSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read rootfs tarball %q: %w", name, err)
	}

	notTar := func(kind string) error {
		return fmt.Errorf("rootfs tarball %q is %s, not a tar archive; use a .tar, .tar.gz or .tar.xz file, "+
			"for example one made with `tar -czf rootfs.tar.gz -C rootfs .`", name, kind)
	}
	switch {
	case len(head) == 0:
		return notTar("empty")
	case bytes.HasPrefix(head, xzMagic):
		return nil
	case bytes.HasPrefix(head, gzipMagic):
		return checkGzipTar(name, reader, notTar)
	case bytes.HasPrefix(head, bzip2Magic):
		return notTar("compressed with bzip2")
	case bytes.HasPrefix(head, zstdMagic):
		return notTar("compressed with zstd")
	case bytes.HasPrefix(head, zipMagic):
		return notTar("a zip archive")
	case isTarHeader(head):
		return nil
	}
	return notTar("in an unknown format")
}

// checkGzipTar checks that a gzip stream starts with a tar header.
func checkGzipTar(name string, compressed io.Reader, notTar func(string) error) error {
	decompressed, err := gzip.NewReader(compressed)
	if err != nil {
		return notTar(fmt.Sprintf("a damaged gzip file (%v)", err))
	}
	defer decompressed.Close()
	block := make([]byte, tarBlockSize)
	n, err := io.ReadFull(decompressed, block)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return notTar(fmt.Sprintf("a damaged gzip file (%v)", err))
	}
	if !isTarHeader(block[:n]) {
		return notTar("gzip-compressed data that is not a tar archive")
	}
	return nil
}

// isTarHeader reports whether block is a tar header: the "ustar" magic of POSIX and GNU tar, or
// a valid header checksum, which old V7 archives have without the magic.
func isTarHeader(block []byte) bool {
	if len(block) < tarBlockSize {
		return false
	}
	if bytes.Equal(block[257:262], []byte("ustar")) {
		return true
	}
	field := bytes.Trim(block[148:156], " \x00")
	want, err := strconv.ParseInt(string(field), 8, 64)
	if err != nil || len(field) == 0 {
		return false
	}
	var sum int64
	for i, b := range block[:tarBlockSize] {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += int64(b)
	}
	return sum == want
}

// fileSHA256 returns the SHA-256 of a file's content, unknown while the content is, and the
// content's size. A source is read from the local disk.
func fileSHA256(f fileModel) (types.String, int64, error) {
	switch {
	case f.Content.IsUnknown() || f.Source.IsUnknown():
		return types.StringUnknown(), 0, nil
	case !f.Source.IsNull():
		data, err := os.ReadFile(f.Source.ValueString())
		if err != nil {
			return types.StringUnknown(), 0, fmt.Errorf("read source of file %s: %w", f.Path.ValueString(), err)
		}
		return types.StringValue(sha256Hex(data)), int64(len(data)), nil
	}
	content := f.Content.ValueString()
	return types.StringValue(sha256Hex([]byte(content))), int64(len(content)), nil
}

// importTarball uploads a local tarball into the device's upload folder and has the helper
// unpack it as an image. The helper checks the SHA-256 again before it unpacks.
func importTarball(ctx context.Context, client *device.Client, target device.Target,
	local, sum string) (protocol.ImageImportResult, error) {
	var result protocol.ImageImportResult
	upload, err := uploadTarball(ctx, client, target, local, sum)
	if err != nil {
		return result, err
	}
	defer removeUpload(ctx, client, upload)

	err = client.Call(ctx, protocol.OpImageImport, protocol.ImageImportParams{Upload: upload, SHA256: sum}, &result)
	if err != nil {
		return result, err
	}
	tflog.Info(ctx, "rootfs image is on the device", map[string]any{
		"device": target.ID(), "image_sha256": result.SHA256, "imported": result.Imported, "bytes": result.Bytes,
	})
	return result, nil
}

// uploadTarball copies a local tarball to a new file in the state folder's uploads folder, where
// the helper's image.import accepts it, and returns
// its path. The copy is hashed on the way, so a file changed since the plan is caught here.
func uploadTarball(ctx context.Context, client *device.Client, target device.Target, local, sum string) (string, error) {
	file, err := os.Open(local)
	if err != nil {
		return "", fmt.Errorf("open rootfs tarball: %w", err)
	}
	defer file.Close()

	suffix := make([]byte, 8)
	if _, err := rand.Read(suffix); err != nil {
		return "", fmt.Errorf("name upload: %w", err)
	}
	dir := path.Join(target.StateDir, protocol.UploadsDir)
	remote := path.Join(dir, sum[:16]+"-"+hex.EncodeToString(suffix)+".upload")
	hash := sha256.New()

	err = client.SFTP(ctx, func(s *sftp.Client) error {
		if err := s.MkdirAll(dir); err != nil {
			return fmt.Errorf("create folder %s: %w", dir, err)
		}
		if err := s.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("chmod %s: %w", dir, err)
		}
		out, err := s.OpenFile(remote, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			return fmt.Errorf("create %s: %w", remote, err)
		}
		_, copyErr := io.Copy(out, io.TeeReader(file, hash))
		if err := errors.Join(copyErr, out.Close()); err != nil {
			_ = s.Remove(remote)
			return fmt.Errorf("write %s: %w", remote, err)
		}
		if got := hex.EncodeToString(hash.Sum(nil)); got != sum {
			_ = s.Remove(remote)
			return fmt.Errorf("rootfs tarball %q changed after the plan: its SHA-256 is now %s, the plan has %s; "+
				"run terraform plan again", local, got, sum)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("upload rootfs tarball to device %s: %w", target.ID(), err)
	}
	return remote, nil
}

// removeUpload deletes an uploaded tarball unless the helper has already moved it away. A
// failure only wastes space on the device, so it is logged.
func removeUpload(ctx context.Context, client *device.Client, upload string) {
	// The apply's own deadline may have passed already, and the removal is quick.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeUploadTimeout)
	defer cancel()
	err := client.SFTP(ctx, func(s *sftp.Client) error {
		if err := s.Remove(upload); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		tflog.Warn(ctx, "could not remove uploaded tarball", map[string]any{"upload": upload, "error": err.Error()})
	}
}
