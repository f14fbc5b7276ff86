package device

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/helperbin"
)

func newHelperTestClient(t *testing.T) (*Client, *recordingLogger) {
	t.Helper()
	server := newTestServer(t)
	pool := NewPool(testCredentials(), time.Minute)
	t.Cleanup(func() { pool.Close() })
	logger := &recordingLogger{}
	pool.SetLogger(logger)
	client, err := pool.Get(context.Background(), pinnedTarget(server))
	if err != nil {
		t.Fatalf("Get() error = %v", err)
	}
	return client, logger
}

// assertNoTemporaryFiles fails when an upload left a temporary file next to the helper.
func assertNoTemporaryFiles(t *testing.T, target Target) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(target.HelperPath()))
	if err != nil {
		t.Fatalf("read helper folder: %v", err)
	}
	for _, entry := range entries {
		if strings.Contains(entry.Name(), ".tmp-") {
			t.Errorf("temporary file %s was left behind", entry.Name())
		}
	}
}

func TestInstallHelperUploads(t *testing.T) {
	client, logger := newHelperTestClient(t)
	target := client.Target()
	binary := []byte("#!/bin/sh\necho helper v1\n")

	uploaded, err := client.InstallHelper(context.Background(), binary, sha256Hex(binary))
	if err != nil {
		t.Fatalf("InstallHelper() error = %v", err)
	}
	if !uploaded {
		t.Errorf("InstallHelper() uploaded = false, want true for a fresh device")
	}
	content, err := os.ReadFile(target.HelperPath())
	if err != nil {
		t.Fatalf("read helper: %v", err)
	}
	if !bytes.Equal(content, binary) {
		t.Errorf("helper content = %q, want %q", content, binary)
	}
	for name, want := range map[string]fs.FileMode{target.HelperPath(): 0o755, filepath.Dir(target.HelperPath()): 0o755} {
		info, err := os.Stat(name)
		if err != nil {
			t.Fatalf("stat %s: %v", name, err)
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("mode of %s = %o, want %o", name, got, want)
		}
	}
	assertNoTemporaryFiles(t, target)
	entry, ok := logger.find("uploaded helper to device")
	if !ok || entry.fields["helper_sha256"] != sha256Hex(binary) {
		t.Errorf("upload log = %+v, %v, want one with helper_sha256", entry, ok)
	}
}

func TestInstallHelperSkipsWhenCurrent(t *testing.T) {
	client, logger := newHelperTestClient(t)
	binary := []byte("helper v1")
	if _, err := client.InstallHelper(context.Background(), binary, sha256Hex(binary)); err != nil {
		t.Fatalf("first InstallHelper() error = %v", err)
	}
	before, err := os.Stat(client.Target().HelperPath())
	if err != nil {
		t.Fatalf("stat helper: %v", err)
	}

	uploaded, err := client.InstallHelper(context.Background(), binary, strings.ToUpper(sha256Hex(binary)))
	if err != nil {
		t.Fatalf("second InstallHelper() error = %v", err)
	}
	if uploaded {
		t.Errorf("InstallHelper() uploaded = true, want false when the hash matches")
	}
	after, err := os.Stat(client.Target().HelperPath())
	if err != nil {
		t.Fatalf("stat helper: %v", err)
	}
	if !os.SameFile(before, after) {
		t.Errorf("helper file was replaced although it was current")
	}
	if got := logger.count("helper on device is up to date"); got != 1 {
		t.Errorf("logged %d skips, want 1", got)
	}
}

func TestInstallHelperReplacesChanged(t *testing.T) {
	client, _ := newHelperTestClient(t)
	target := client.Target()
	installFakeHelper(t, target)
	binary := []byte("helper v2")

	uploaded, err := client.InstallHelper(context.Background(), binary, sha256Hex(binary))
	if err != nil {
		t.Fatalf("InstallHelper() error = %v", err)
	}
	if !uploaded {
		t.Errorf("InstallHelper() uploaded = false, want true for a changed helper")
	}
	sum, err := client.InstalledHelperSHA256(context.Background())
	if err != nil {
		t.Fatalf("InstalledHelperSHA256() error = %v", err)
	}
	if sum != sha256Hex(binary) {
		t.Errorf("InstalledHelperSHA256() = %s, want %s", sum, sha256Hex(binary))
	}
	assertNoTemporaryFiles(t, target)
}

func TestInstallHelperRejectsWrongChecksum(t *testing.T) {
	client, _ := newHelperTestClient(t)
	_, err := client.InstallHelper(context.Background(), []byte("helper"), sha256Hex([]byte("other")))
	if err == nil || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("InstallHelper() error = %v, want a SHA-256 mismatch", err)
	}
	if _, err := os.Stat(client.Target().HelperPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("helper exists after a rejected install (stat error %v)", err)
	}
}

func TestInstallHelperCleansUpOnFailure(t *testing.T) {
	client, _ := newHelperTestClient(t)
	target := client.Target()
	// A non-empty folder at the helper path makes the final rename fail.
	if err := os.MkdirAll(filepath.Join(target.HelperPath(), "child"), 0o755); err != nil {
		t.Fatalf("create folder: %v", err)
	}
	binary := []byte("helper")

	// InstallHelper already fails when it reads the folder, so call the upload step directly.
	err := client.SFTP(context.Background(), func(sftpClient *sftp.Client) error {
		return uploadFile(sftpClient, target.HelperPath(), binary, sha256Hex(binary))
	})
	if err == nil || !strings.Contains(err.Error(), "rename") {
		t.Fatalf("uploadFile() error = %v, want a rename error", err)
	}
	assertNoTemporaryFiles(t, target)
}

func TestInstalledHelperSHA256Missing(t *testing.T) {
	client, _ := newHelperTestClient(t)
	_, err := client.InstalledHelperSHA256(context.Background())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("InstalledHelperSHA256() error = %v, want one matching fs.ErrNotExist", err)
	}
	if !errors.Is(err, ErrHelperMissing) {
		t.Errorf("InstalledHelperSHA256() error = %v, want one matching ErrHelperMissing", err)
	}
}

func TestInstallHelperRepairsMode(t *testing.T) {
	client, _ := newHelperTestClient(t)
	ctx := context.Background()
	binary := []byte("helper v1")
	if _, err := client.InstallHelper(ctx, binary, sha256Hex(binary)); err != nil {
		t.Fatalf("first InstallHelper() error = %v", err)
	}
	if err := os.Chmod(client.Target().HelperPath(), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := client.InstalledHelperSHA256(ctx)
	if !errors.Is(err, ErrHelperMissing) {
		t.Errorf("InstalledHelperSHA256() of a helper without execute bits: error = %v, want ErrHelperMissing", err)
	}
	uploaded, err := client.InstallHelper(ctx, binary, sha256Hex(binary))
	if err != nil {
		t.Fatalf("InstallHelper() error = %v", err)
	}
	if !uploaded {
		t.Error("InstallHelper() uploaded = false, want true when it had to repair the mode")
	}
	info, err := os.Stat(client.Target().HelperPath())
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o755 {
		t.Errorf("helper mode = %v after InstallHelper, want 0755", info.Mode().Perm())
	}
}

func TestEnsureHelper(t *testing.T) {
	t.Run("unsupported machine", func(t *testing.T) {
		server := newTestServer(t)
		server.setMachine("mips")
		pool := NewPool(testCredentials(), time.Minute)
		defer pool.Close()
		client, err := pool.Get(context.Background(), pinnedTarget(server))
		if err != nil {
			t.Fatalf("Get() error = %v", err)
		}
		_, err = client.EnsureHelper(context.Background())
		if err == nil || !strings.Contains(err.Error(), "bundle") {
			t.Errorf("EnsureHelper() error = %v, want helperbin's not-bundled error", err)
		}
	})

	t.Run("bundled machine", func(t *testing.T) {
		helper, err := helperbin.ForMachine("x86_64")
		if err != nil {
			t.Skipf("this build bundles no x86_64 helper: %v", err)
		}
		client, _ := newHelperTestClient(t)
		status, err := client.EnsureHelper(context.Background())
		if err != nil {
			t.Fatalf("EnsureHelper() error = %v", err)
		}
		want := HelperStatus{Machine: "x86_64", SHA256: helper.SHA256, Uploaded: true}
		if status != want {
			t.Errorf("EnsureHelper() = %+v, want %+v", status, want)
		}
		status, err = client.EnsureHelper(context.Background())
		if err != nil || status.Uploaded {
			t.Errorf("second EnsureHelper() = %+v, %v, want no upload", status, err)
		}
	})
}

func TestReadyHelperRemembersCheck(t *testing.T) {
	if _, err := helperbin.ForMachine("x86_64"); err != nil {
		t.Skipf("this build bundles no x86_64 helper: %v", err)
	}
	client, _ := newHelperTestClient(t)
	ctx := context.Background()
	if _, err := client.ReadyHelper(ctx); err != nil {
		t.Fatalf("first ReadyHelper() error = %v", err)
	}

	// A change on the device after the check goes unnoticed by ReadyHelper, not by EnsureHelper.
	if err := os.WriteFile(client.Target().HelperPath(), []byte("changed"), 0o755); err != nil {
		t.Fatal(err)
	}
	status, err := client.ReadyHelper(ctx)
	if err != nil {
		t.Fatalf("second ReadyHelper() error = %v", err)
	}
	if status.Uploaded {
		t.Error("second ReadyHelper() uploaded, want the remembered check")
	}
	status, err = client.EnsureHelper(ctx)
	if err != nil {
		t.Fatalf("EnsureHelper() error = %v", err)
	}
	if !status.Uploaded {
		t.Error("EnsureHelper() after the change did not upload")
	}
}
