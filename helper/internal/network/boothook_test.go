package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// testBootHook returns a boot hook in temporary folders, with systemd running or not.
func testBootHook(t *testing.T, systemd bool) BootHook {
	t.Helper()
	root := t.TempDir()
	hook := BootHook{SystemdRunDir: filepath.Join(root, "run"), UnitDir: filepath.Join(root, "etc")}
	if systemd {
		for _, dir := range []string{hook.SystemdRunDir, hook.UnitDir} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return hook
}

func TestBootHookInstall(t *testing.T) {
	hook := testBootHook(t, true)

	got, err := hook.Install("/var/lib/iotfleet", "/var/lib/lxc")

	if err != nil {
		t.Fatal(err)
	}
	name := unitName("/var/lib/iotfleet")
	if got != "systemd unit "+name {
		t.Errorf("Install = %q, want the unit's name %s", got, name)
	}
	unit, err := os.ReadFile(filepath.Join(hook.UnitDir, name))
	if err != nil {
		t.Fatal(err)
	}
	wantExec := "ExecStart=/var/lib/iotfleet/bin/iotfleet-helper network-restore /var/lib/iotfleet /var/lib/lxc\n"
	if !strings.Contains(string(unit), wantExec) {
		t.Errorf("unit lacks %q:\n%s", wantExec, unit)
	}
	target, err := os.Readlink(filepath.Join(hook.UnitDir, "multi-user.target.wants", name))
	if err != nil || target != filepath.Join(hook.UnitDir, name) {
		t.Errorf("unit is not enabled: link target %q, %v", target, err)
	}

	// A second install changes nothing and succeeds.
	if _, err := hook.Install("/var/lib/iotfleet", "/var/lib/lxc"); err != nil {
		t.Errorf("second Install: %v", err)
	}
}

func TestBootHookWithoutSystemd(t *testing.T) {
	hook := testBootHook(t, false)

	got, err := hook.Install("/var/lib/iotfleet", "/var/lib/lxc")

	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got, protocol.NoBootHook) {
		t.Errorf("Install = %q, want a message starting with %q", got, protocol.NoBootHook)
	}
	if _, err := os.Stat(hook.UnitDir); err == nil {
		t.Errorf("Install created %s on a device without systemd", hook.UnitDir)
	}
}

func TestBootHookRemove(t *testing.T) {
	hook := testBootHook(t, true)
	if _, err := hook.Install("/srv/iot", "/var/lib/lxc"); err != nil {
		t.Fatal(err)
	}

	if err := hook.Remove("/srv/iot"); err != nil {
		t.Fatal(err)
	}
	if err := hook.Remove("/srv/iot"); err != nil {
		t.Errorf("second Remove: %v", err)
	}

	name := unitName("/srv/iot")
	for _, path := range []string{filepath.Join(hook.UnitDir, name), filepath.Join(hook.UnitDir, "multi-user.target.wants", name)} {
		if _, err := os.Lstat(path); err == nil {
			t.Errorf("%s still exists", path)
		}
	}
}

func TestUnitNamePerStateDir(t *testing.T) {
	a, b := unitName("/var/lib/iotfleet"), unitName("/srv/iot")

	if a == b {
		t.Errorf("two state folders share the unit name %s", a)
	}
	if !strings.HasPrefix(a, "iotfleet-networks-") || !strings.HasSuffix(a, ".service") {
		t.Errorf("unit name %q, want iotfleet-networks-HASH.service", a)
	}
}
