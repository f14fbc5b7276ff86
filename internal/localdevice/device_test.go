//go:build linux

package localdevice

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"demo", true},
		{"a", true},
		{"dev-1", true},
		{"0123456789", true},
		{"01234567890", false},
		{"", false},
		{"Demo", false},
		{"-demo", false},
		{"demo-", false},
		{"de_mo", false},
		{"de mo", false},
		{"../x", false},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestNewDeviceNamesFitInterfaceLimit(t *testing.T) {
	d, err := newDevice("/tmp/r", strings.Repeat("x", MaxNameLength))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{d.Namespace, d.HostVeth, d.DeviceVeth} {
		if len(name) > 15 {
			t.Errorf("interface name %q is %d bytes, more than the kernel's 15", name, len(name))
		}
	}
	if d.Dir != "/tmp/r/"+d.Name {
		t.Errorf("Dir = %q, want /tmp/r/%s", d.Dir, d.Name)
	}
}

func TestDeviceDirRejectsUnsafeRoots(t *testing.T) {
	for _, root := range []string{"/tmp/a%b", `/tmp/a"b`, "/tmp/a\nb", `/tmp/a\b`} {
		if _, err := deviceDir(root, "demo"); err == nil {
			t.Errorf("deviceDir(%q) accepted a root that sshd_config cannot carry", root)
		}
	}
	if _, err := deviceDir("/tmp/with space", "demo"); err != nil {
		t.Errorf("deviceDir rejected a root with a space: %v", err)
	}
}

func TestRenderConfig(t *testing.T) {
	d, err := newDevice("/tmp/with space", "demo")
	if err != nil {
		t.Fatal(err)
	}
	d.IP = mustAddr("10.213.4.2")
	config := d.renderConfig()
	for _, want := range []string{
		"\nPort 22\n",
		"\nListenAddress 10.213.4.2\n",
		"\nHostKey \"/tmp/with space/demo/ssh_host_ed25519_key\"\n",
		"\nAuthorizedKeysFile \"/tmp/with space/demo/authorized_keys\"\n",
		"\nPidFile \"/tmp/with space/demo/sshd.pid\"\n",
		"\nPasswordAuthentication no\n",
		"\nKbdInteractiveAuthentication no\n",
		"\nUsePAM no\n",
		"\nStrictModes no\n",
		"\nPermitRootLogin prohibit-password\n",
		"\nSubsystem sftp internal-sftp\n",
		"\nMaxSessions 10\n",
	} {
		if !strings.Contains(config, want) {
			t.Errorf("sshd_config lacks %q:\n%s", strings.TrimSpace(want), config)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(t.TempDir(), "demo")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("Load of a missing device: error = %v, want ErrNotFound", err)
	}
}

func TestLoadRejectsForeignState(t *testing.T) {
	root := t.TempDir()
	other, err := newDevice(root, "other")
	if err != nil {
		t.Fatal(err)
	}
	other.Dir = filepath.Join(root, "demo")
	if err := os.MkdirAll(other.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := other.writeState(); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, "demo"); err == nil {
		t.Error("Load accepted a state file that describes another device")
	}
}

func TestLoadRoundTrip(t *testing.T) {
	root := t.TempDir()
	d, err := newDevice(root, "demo")
	if err != nil {
		t.Fatal(err)
	}
	d.IP = mustAddr("10.213.9.2")
	d.HostIP = mustAddr("10.213.9.1")
	d.PID = 4242
	d.HostPublicKey = "ssh-ed25519 AAAA"

	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := d.writeState(); err != nil {
		t.Fatal(err)
	}

	loaded, err := Load(root, "demo")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if loaded.IP != d.IP || loaded.HostIP != d.HostIP || loaded.PID != d.PID ||
		loaded.HostPublicKey != d.HostPublicKey || loaded.Dir != d.Dir {
		t.Errorf("Load = %+v, want %+v", loaded, d)
	}

	listed, err := List(root)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(listed) != 1 || listed[0].Name != "demo" {
		t.Errorf("List = %v, want [demo]", listed)
	}
}

func TestEnsureRootFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the check expects folders owned by root; run the tests as root")
	}
	parent := t.TempDir()
	fresh := filepath.Join(parent, "fresh")
	if err := ensureRootFolder(fresh); err != nil {
		t.Errorf("ensureRootFolder(new folder): %v", err)
	}

	writable := filepath.Join(parent, "writable")
	if err := os.Mkdir(writable, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(writable, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := ensureRootFolder(writable); err == nil {
		t.Error("ensureRootFolder accepted a world-writable folder")
	}

	link := filepath.Join(parent, "link")
	if err := os.Symlink(fresh, link); err != nil {
		t.Fatal(err)
	}
	if err := ensureRootFolder(link); err == nil {
		t.Error("ensureRootFolder accepted a symbolic link")
	}
}
