package container_test

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

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/rootfs"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// imageTarball returns a gzip rootfs tarball with the machine's static busybox, a setuid file
// and a device node, and its SHA-256.
func imageTarball(t *testing.T) ([]byte, string) {
	t.Helper()
	busyboxPath, err := rootfs.FindBusybox(rootfs.BusyboxCandidates)
	if err != nil {
		t.Skipf("no static busybox to build a test image from: %v", err)
	}
	busybox, err := os.ReadFile(busyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	var buffer bytes.Buffer
	gz := gzip.NewWriter(&buffer)
	archive := tar.NewWriter(gz)
	write := func(header *tar.Header, body []byte) {
		header.Size = int64(len(body))
		if err := archive.WriteHeader(header); err != nil {
			t.Fatal(err)
		}
		if _, err := archive.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{"./", "bin/", "etc/", "tmp/", "run/", "dev/", "proc/", "sys/", "home/", "home/app/"} {
		write(&tar.Header{Name: dir, Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	}
	write(&tar.Header{Name: "home/app/", Typeflag: tar.TypeDir, Mode: 0o700, Uid: 1000, Gid: 1000}, nil)
	write(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755}, busybox)
	for _, applet := range []string{"sh", "cat", "ls", "touch", "stat", "id", "echo", "true"} {
		write(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	write(&tar.Header{Name: "bin/su", Typeflag: tar.TypeLink, Linkname: "bin/busybox"}, nil)
	write(&tar.Header{Name: "bin/setuid-tool", Typeflag: tar.TypeReg, Mode: 0o4755}, []byte("#!/bin/sh\n"))
	write(&tar.Header{Name: "dev/sda", Typeflag: tar.TypeBlock, Mode: 0o660, Devmajor: 8}, nil)
	write(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"))
	write(&tar.Header{Name: "etc/motd", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("from the image\n"))
	if err := archive.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buffer.Bytes())
	return buffer.Bytes(), hex.EncodeToString(sum[:])
}

// upload writes data into the device's uploads folder and returns its path on the device.
func (d *device) upload(t *testing.T, name string, data []byte) string {
	t.Helper()
	dir := filepath.Join(d.stateDir(), protocol.UploadsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return "/var/lib/iotfleet/" + protocol.UploadsDir + "/" + name
}

func TestImageContainer(t *testing.T) {
	d := startDevice(t)
	data, sum := imageTarball(t)

	var imported protocol.ImageImportResult
	d.do(protocol.OpImageImport, protocol.ImageImportParams{Upload: d.upload(t, "img.tar.gz", data), SHA256: sum}, &imported)
	if !imported.Imported || imported.SHA256 != sum || imported.Bytes <= 0 {
		t.Fatalf("import = %+v, want a new image", imported)
	}
	if _, err := os.Stat(filepath.Join(d.stateDir(), protocol.UploadsDir, "img.tar.gz")); !errors.Is(err, os.ErrNotExist) {
		t.Error("the upload was not removed after the import")
	}

	spec := protocol.ContainerSpec{
		Name: "img", Rootfs: protocol.RootfsImage, ImageSHA256: sum, Running: true, NoNewPrivs: true,
		ReadOnlyRootfs: true, Limits: protocol.Limits{Pids: 32},
		Files: []protocol.File{{Path: "/etc/motd", Content: []byte("from the spec\n"), Mode: 0o644}},
	}
	d.deleteOnCleanup("img")
	applied := d.apply(spec)
	if applied.State.State != "RUNNING" {
		t.Fatalf("state = %s", applied.State.State)
	}

	// The idmapped mount shows the archive's owners inside the container.
	if got := d.exec("img", "stat", "-c", "%u:%g %a", "/bin/busybox", "/home/app", "/bin/setuid-tool"); got != "0:0 755\n1000:1000 700\n0:0 755\n" {
		t.Errorf("owners and modes inside = %q, want root-owned busybox, app's home and no setuid bit", got)
	}
	if got := d.exec("img", "cat", "/etc/motd"); got != "from the spec\n" {
		t.Errorf("/etc/motd = %q, want the spec's file over the image's", got)
	}
	if result := d.execResult("img", "touch", "/etc/new"); result.ExitCode == 0 {
		t.Error("touch /etc/new succeeded on the shared image")
	}
	d.exec("img", "touch", "/tmp/scratch")
	if _, err := os.Stat(filepath.Join(d.stateDir(), "images", sum, "rootfs", "dev", "sda")); err == nil {
		t.Error("the device node dev/sda was unpacked")
	}

	// The file is updated in place, and the running container reads the new content.
	spec.Files[0].Content = []byte("updated\n")
	if again := d.apply(spec); again.Restarted {
		t.Error("a file content update restarted the image container")
	}
	if got := d.exec("img", "cat", "/etc/motd"); got != "updated\n" {
		t.Errorf("/etc/motd after update = %q", got)
	}

	var deleted protocol.ContainerDeleteResult
	d.do(protocol.OpContainerDelete, protocol.ContainerName{Name: "img"}, &deleted)
	if _, err := os.Stat(filepath.Join(d.stateDir(), "images", sum)); !errors.Is(err, os.ErrNotExist) {
		t.Error("the image stayed after its last container was deleted")
	}
}

func TestImageImportRejects(t *testing.T) {
	d := startDevice(t)
	data, sum := imageTarball(t)
	wrong := strings.Repeat("ab", 32)

	cases := map[string]protocol.ImageImportParams{
		"wrong sum":      {Upload: d.upload(t, "a.tar.gz", data), SHA256: wrong},
		"outside":        {Upload: "/etc/passwd", SHA256: sum},
		"uppercase sum":  {Upload: d.upload(t, "b.tar.gz", data), SHA256: strings.ToUpper(sum)},
		"nested":         {Upload: "/var/lib/iotfleet/uploads/x/../../../etc/passwd", SHA256: sum},
		"not an archive": {Upload: d.upload(t, "c.zip", []byte("PK\x03\x04zip")), SHA256: sha256Hex([]byte("PK\x03\x04zip"))},
	}
	for name, params := range cases {
		t.Run(name, func(t *testing.T) {
			err := d.try(protocol.OpImageImport, params, nil)
			var protocolErr *protocol.Error
			if !errors.As(err, &protocolErr) || protocolErr.Code != protocol.CodeInvalid {
				t.Errorf("import %+v = %v, want invalid", params, err)
			}
		})
	}
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Errorf("/etc/passwd is gone: %v", err)
	}
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
