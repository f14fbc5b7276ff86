package provider

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
)

// tarBytes returns a tar archive in format that holds one small file.
func tarBytes(t *testing.T, format tar.Format) []byte {
	t.Helper()
	var buffer bytes.Buffer
	writer := tar.NewWriter(&buffer)
	content := []byte("#!/bin/sh\n")
	header := &tar.Header{Name: "bin/init", Mode: 0o755, Size: int64(len(content)), Format: format}
	if err := writer.WriteHeader(header); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Write(content); err != nil {
		t.Fatal(err)
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}
	return buffer.Bytes()
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buffer bytes.Buffer
	writer := gzip.NewWriter(&buffer)
	if _, err := writer.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}
	return buffer.Bytes()
}

// v7TarBytes returns a tar archive without the ustar magic, as old tar programs wrote it.
func v7TarBytes(t *testing.T) []byte {
	t.Helper()
	data := tarBytes(t, tar.FormatUSTAR)
	header := data[:tarBlockSize]
	copy(header[257:265], make([]byte, 8))
	copy(header[148:156], "        ")
	var sum int64
	for _, b := range header {
		sum += int64(b)
	}
	copy(header[148:156], []byte(strconv.FormatInt(sum, 8)+"\x00 "))
	return data
}

func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInspectTarballAccepts(t *testing.T) {
	tests := map[string][]byte{
		"plain.tar":  tarBytes(t, tar.FormatUSTAR),
		"gnu.tar":    tarBytes(t, tar.FormatGNU),
		"pax.tar":    tarBytes(t, tar.FormatPAX),
		"v7.tar":     v7TarBytes(t),
		"rootfs.tgz": gzipBytes(t, tarBytes(t, tar.FormatUSTAR)),
		"rootfs.txz": append([]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, make([]byte, 64)...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			sum, err := inspectTarball(writeTemp(t, name, data))
			if err != nil {
				t.Fatalf("inspectTarball error: %v", err)
			}
			want := sha256.Sum256(data)
			if sum != hex.EncodeToString(want[:]) {
				t.Errorf("inspectTarball = %s, want the file's SHA-256 %x", sum, want)
			}
		})
	}
}

func TestInspectTarballRejects(t *testing.T) {
	tests := map[string]struct {
		data []byte
		want string
	}{
		"empty":       {nil, "is empty"},
		"text":        {[]byte(strings.Repeat("not a tarball\n", 100)), "unknown format"},
		"short text":  {[]byte("hello"), "unknown format"},
		"gzip text":   {gzipBytes(t, []byte(strings.Repeat("text ", 200))), "gzip-compressed data that is not a tar"},
		"broken gzip": {[]byte{0x1f, 0x8b, 0x08, 0x00, 0x01}, "damaged gzip"},
		"bzip2":       {append([]byte("BZh91AY&SY"), make([]byte, 600)...), "bzip2"},
		"zstd":        {append([]byte{0x28, 0xb5, 0x2f, 0xfd}, make([]byte, 600)...), "zstd"},
		"zip":         {append([]byte("PK\x03\x04"), make([]byte, 600)...), "zip archive"},
		"zeros":       {make([]byte, 1024), "unknown format"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			file := writeTemp(t, "rootfs.tar.gz", tt.data)
			_, err := inspectTarball(file)
			if err == nil {
				t.Fatal("inspectTarball = nil error, want one")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("inspectTarball error = %q, want it to contain %q", err, tt.want)
			}
			if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), ".tar.xz") {
				t.Errorf("inspectTarball error = %q, want it to name the file and the accepted formats", err)
			}
		})
	}
}

func TestInspectTarballMissing(t *testing.T) {
	_, err := inspectTarball(filepath.Join(t.TempDir(), "missing.tar"))
	if err == nil || !strings.Contains(err.Error(), "open rootfs tarball") {
		t.Errorf("inspectTarball(missing) = %v, want an error that names the open", err)
	}
}

func TestFileSHA256(t *testing.T) {
	source := writeTemp(t, "token", []byte("secret\n"))
	want := sha256.Sum256([]byte("secret\n"))

	fromSource := fileModel{Path: types.StringValue("/t"), Content: types.StringNull(), Source: types.StringValue(source)}
	sum, size, err := fileSHA256(fromSource)
	if err != nil || sum.ValueString() != hex.EncodeToString(want[:]) || size != 7 {
		t.Errorf("fileSHA256(source) = %s, %d, %v; want %x, 7", sum, size, err, want)
	}

	fromContent := fileModel{Path: types.StringValue("/t"), Content: types.StringValue("secret\n"), Source: types.StringNull()}
	sum, _, err = fileSHA256(fromContent)
	if err != nil || sum.ValueString() != hex.EncodeToString(want[:]) {
		t.Errorf("fileSHA256(content) = %s, %v; want %x", sum, err, want)
	}

	unknown := fileModel{Path: types.StringValue("/t"), Content: types.StringUnknown(), Source: types.StringNull()}
	if sum, _, err := fileSHA256(unknown); err != nil || !sum.IsUnknown() {
		t.Errorf("fileSHA256(unknown content) = %s, %v; want unknown", sum, err)
	}

	missing := fileModel{Path: types.StringValue("/t"), Content: types.StringNull(), Source: types.StringValue(source + ".gone")}
	if _, _, err := fileSHA256(missing); err == nil || !strings.Contains(err.Error(), "read source of file /t") {
		t.Errorf("fileSHA256(missing source) = %v, want an error naming the file", err)
	}
}
