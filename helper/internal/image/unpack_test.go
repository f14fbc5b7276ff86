package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

type entry struct {
	name, linkname, body string
	typeflag             byte
	mode                 int64
}

func buildTar(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buffer bytes.Buffer
	writer := tar.NewWriter(&buffer)
	for _, e := range entries {
		header := &tar.Header{Name: e.name, Linkname: e.linkname, Typeflag: e.typeflag, Mode: e.mode, Size: int64(len(e.body))}
		if e.typeflag != tar.TypeReg {
			header.Size = 0
		}
		if err := writer.WriteHeader(header); err != nil {
			t.Fatalf("write tar header %s: %v", e.name, err)
		}
		if header.Size > 0 {
			if _, err := writer.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}
	return buffer.Bytes()
}

func unpackBytes(t *testing.T, data []byte) (string, Stats, error) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "rootfs")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	stream, err := Decompress(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Decompress: %v", err)
	}
	stats, err := Unpack(stream, root)
	return root, stats, err
}

func TestUnpackRegularTree(t *testing.T) {
	root, stats, err := unpackBytes(t, buildTar(t, []entry{
		{name: "./", typeflag: tar.TypeDir, mode: 0o755},
		{name: "./etc/", typeflag: tar.TypeDir, mode: 0o755},
		{name: "./etc/motd", typeflag: tar.TypeReg, mode: 0o644, body: "hello"},
		{name: "./etc/motd.link", typeflag: tar.TypeLink, linkname: "./etc/motd"},
		{name: "./etc/localtime", typeflag: tar.TypeSymlink, linkname: "/usr/share/zoneinfo/UTC"},
		{name: "./ro/", typeflag: tar.TypeDir, mode: 0o555},
		{name: "./ro/inside", typeflag: tar.TypeReg, mode: 0o600, body: "x"},
		{name: "./twice/", typeflag: tar.TypeDir, mode: 0o755},
		{name: "./twice/", typeflag: tar.TypeDir, mode: 0o700},
	}))
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if stats.Entries != 9 {
		t.Errorf("Entries = %d, want 9", stats.Entries)
	}
	if info, err := os.Stat(filepath.Join(root, "twice")); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("folder listed twice has mode %v, %v; want the last entry's 0700", info.Mode(), err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc/motd.link")); string(data) != "hello" {
		t.Errorf("hard link content = %q, want hello", data)
	}
	if target, _ := os.Readlink(filepath.Join(root, "etc/localtime")); target != "/usr/share/zoneinfo/UTC" {
		t.Errorf("symlink target = %q, want it kept as archived", target)
	}
	info, err := os.Stat(filepath.Join(root, "ro"))
	if err != nil || info.Mode().Perm() != 0o555 {
		t.Errorf("folder ro mode = %v, %v; want 0555 applied after its content", info.Mode(), err)
	}
}

func TestUnpackRejectsDotDot(t *testing.T) {
	_, _, err := unpackBytes(t, buildTar(t, []entry{
		{name: "../escape", typeflag: tar.TypeReg, mode: 0o644, body: "x"},
	}))
	if !errors.Is(err, ErrUnsafe) {
		t.Errorf("Unpack(../escape) = %v, want ErrUnsafe", err)
	}
}

func TestUnpackSymlinkCannotRedirectWrites(t *testing.T) {
	outside := t.TempDir()
	_, _, err := unpackBytes(t, buildTar(t, []entry{
		{name: "evil", typeflag: tar.TypeSymlink, linkname: outside},
		{name: "evil/payload", typeflag: tar.TypeReg, mode: 0o644, body: "x"},
		{name: "up", typeflag: tar.TypeSymlink, linkname: "../../../../../../" + outside},
		{name: "up/payload2", typeflag: tar.TypeReg, mode: 0o644, body: "x"},
	}))
	if err != nil {
		t.Logf("Unpack returned %v (acceptable: the write stayed inside or failed)", err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Errorf("files were written outside the image: %v", entries)
	}
}

func TestUnpackHardLinkOutside(t *testing.T) {
	_, _, err := unpackBytes(t, buildTar(t, []entry{
		{name: "passwd", typeflag: tar.TypeLink, linkname: "../../../etc/passwd"},
	}))
	if !errors.Is(err, ErrUnsafe) {
		t.Errorf("Unpack(hard link to ../../../etc/passwd) = %v, want ErrUnsafe", err)
	}
	_, _, err = unpackBytes(t, buildTar(t, []entry{
		{name: "passwd", typeflag: tar.TypeLink, linkname: "/etc/passwd"},
	}))
	if err == nil {
		t.Error("Unpack(hard link to /etc/passwd not in the archive) succeeded, want an error")
	}
}

func TestUnpackSkipsDevicesAndStripsSetuid(t *testing.T) {
	root, stats, err := unpackBytes(t, buildTar(t, []entry{
		{name: "dev/", typeflag: tar.TypeDir, mode: 0o755},
		{name: "dev/sda", typeflag: tar.TypeBlock, mode: 0o660},
		{name: "dev/null", typeflag: tar.TypeChar, mode: 0o666},
		{name: "bin/", typeflag: tar.TypeDir, mode: 0o755},
		{name: "bin/su", typeflag: tar.TypeReg, mode: 0o4755, body: "#!"},
	}))
	if err != nil {
		t.Fatalf("Unpack: %v", err)
	}
	if stats.SkippedDevices != 2 || stats.StrippedModes != 1 {
		t.Errorf("stats = %+v, want 2 skipped devices and 1 stripped mode", stats)
	}
	if _, err := os.Lstat(filepath.Join(root, "dev/sda")); err == nil {
		t.Error("device node dev/sda was created")
	}
	info, err := os.Stat(filepath.Join(root, "bin/su"))
	if err != nil || info.Mode()&os.ModeSetuid != 0 || info.Mode().Perm() != 0o755 {
		t.Errorf("bin/su mode = %v, %v; want 0755 without setuid", info.Mode(), err)
	}
}

func TestDecompressFormats(t *testing.T) {
	plain := buildTar(t, []entry{{name: "a", typeflag: tar.TypeReg, mode: 0o644, body: "abc"}})
	var gz bytes.Buffer
	gzWriter := gzip.NewWriter(&gz)
	gzWriter.Write(plain)
	gzWriter.Close()
	var xzBuffer bytes.Buffer
	xzWriter, err := xz.NewWriter(&xzBuffer)
	if err != nil {
		t.Fatal(err)
	}
	xzWriter.Write(plain)
	xzWriter.Close()

	for name, data := range map[string][]byte{"tar": plain, "gzip": gz.Bytes(), "xz": xzBuffer.Bytes()} {
		t.Run(name, func(t *testing.T) {
			root, _, err := unpackBytes(t, data)
			if err != nil {
				t.Fatalf("Unpack: %v", err)
			}
			if got, _ := os.ReadFile(filepath.Join(root, "a")); string(got) != "abc" {
				t.Errorf("content = %q, want abc", got)
			}
		})
	}
	if _, err := Decompress(strings.NewReader("PK\x03\x04 a zip file")); err == nil {
		t.Error("Decompress(zip) succeeded, want an error")
	}
}

func TestImportChecksSumAndRemovesUpload(t *testing.T) {
	dir := t.TempDir()
	images := filepath.Join(dir, "images")
	upload := filepath.Join(dir, "upload.tar")
	data := buildTar(t, []entry{{name: "etc/", typeflag: tar.TypeDir, mode: 0o755}, {name: "etc/os-release", typeflag: tar.TypeReg, mode: 0o644, body: "ID=test"}})
	if err := os.WriteFile(upload, data, 0o600); err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(data)
	sum := hex.EncodeToString(digest[:])

	_, _, err := Import(images, upload, strings.Repeat("0", 64))
	var protocolErr *protocol.Error
	if !errors.As(err, &protocolErr) || protocolErr.Code != protocol.CodeInvalid {
		t.Fatalf("Import with a wrong sum = %v, want CodeInvalid", err)
	}

	result, _, err := Import(images, upload, sum)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if !result.Imported || result.Bytes <= 0 || !Exists(images, sum) {
		t.Errorf("result = %+v, Exists = %v; want a new image with a size", result, Exists(images, sum))
	}
	if _, err := os.Stat(upload); err == nil {
		t.Error("upload still exists after the import")
	}

	os.WriteFile(upload, data, 0o600)
	again, _, err := Import(images, upload, sum)
	if err != nil || again.Imported {
		t.Errorf("second Import = %+v, %v; want Imported false", again, err)
	}
}
