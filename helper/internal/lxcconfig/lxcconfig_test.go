package lxcconfig

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/helper/internal/cgroup"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var layouts = map[string]cgroup.Layout{
	"v1": {V1: map[string]bool{"memory": true, "pids": true, "cpu": true, "cpuacct": true, "devices": true}},
	"v2": {V1: map[string]bool{}, V2: map[string]bool{"memory": true, "pids": true, "cpu": true, "io": true}},
	// The hybrid layout of Debian 12 with systemd's legacy mode: every real controller is in
	// v1 and the unified hierarchy has only hugetlb.
	"hybrid": {
		V1: map[string]bool{"memory": true, "pids": true, "cpu": true, "devices": true},
		V2: map[string]bool{"hugetlb": true},
	},
}

func testConfig(t *testing.T, layout cgroup.Layout) Config {
	t.Helper()
	limits, err := cgroup.LimitSettings(layout, protocol.Limits{
		MemoryBytes: 64 << 20, Pids: 64, CPUWeight: 50, CPUQuotaMicros: 50000,
	})
	if err != nil {
		t.Fatalf("LimitSettings: %v", err)
	}
	devices, err := cgroup.DeviceSettings(layout)
	if err != nil {
		t.Fatalf("DeviceSettings: %v", err)
	}
	return Config{
		Name:           "web",
		RootfsPath:     "/var/lib/lxc/web/rootfs",
		RootfsOptions:  []string{"ro"},
		HostIDStart:    1000000,
		IDCount:        65536,
		InitBinary:     "/var/lib/iotfleet/bin/iotfleet-init",
		InitSpec:       "/var/lib/lxc/web/init.json",
		UID:            1000,
		GID:            1000,
		Mounts:         []Mount{{"/var/lib/iotfleet/images/busybox-0123/bin", "bin", "none", "bind,ro"}},
		Capabilities:   []string{"net_bind_service", "chown"},
		NoNewPrivs:     true,
		Devices:        devices,
		Limits:         limits,
		SeccompProfile: "/var/lib/iotfleet/profiles/web/policy",
		Autostart:      true,
		LogFile:        "/var/lib/lxc/web/lxc.log",
	}
}

func TestRenderGolden(t *testing.T) {
	for name, layout := range layouts {
		t.Run(name, func(t *testing.T) {
			checkGolden(t, "config-"+name+".golden", testConfig(t, layout).Render())
		})
	}
}

func TestRenderMinimal(t *testing.T) {
	config := Config{
		Name: "min", RootfsPath: "/r", HostIDStart: 1065536, IDCount: 65536,
		InitBinary: "/i", InitSpec: "/s",
	}
	checkGolden(t, "config-minimal.golden", config.Render())
}

func TestRenderNetwork(t *testing.T) {
	config := testConfig(t, layouts["v2"])
	config.Network = []string{
		"lxc.net.0.type = veth",
		"lxc.net.0.link = lan0",
		"lxc.net.0.ipv4.address = 10.80.0.2/24",
	}

	rendered := config.Render()

	if strings.Contains(rendered, "lxc.net.0.type = empty") {
		t.Error("config with NICs still sets lxc.net.0.type = empty")
	}
	if !strings.Contains(rendered, "lxc.net.0.type = veth\nlxc.net.0.link = lan0\nlxc.net.0.ipv4.address = 10.80.0.2/24\n") {
		t.Errorf("config lacks the NIC lines in their order:\n%s", rendered)
	}
	if !strings.Contains(testConfig(t, layouts["v2"]).Render(), "lxc.net.0.type = empty\n") {
		t.Error("config without NICs lacks lxc.net.0.type = empty")
	}
}

func TestRestartKeyIncludesNetwork(t *testing.T) {
	base := testConfig(t, layouts["v1"])
	withNIC := base
	withNIC.Network = []string{"lxc.net.0.type = veth", "lxc.net.0.ipv4.address = 10.80.0.2/24"}
	otherAddress := base
	otherAddress.Network = []string{"lxc.net.0.type = veth", "lxc.net.0.ipv4.address = 10.80.0.3/24"}

	if base.RestartKey() == withNIC.RestartKey() {
		t.Error("RestartKey did not change when a NIC was added")
	}
	if withNIC.RestartKey() == otherAddress.RestartKey() {
		t.Error("RestartKey did not change when a NIC's address changed")
	}
}

func TestRenderAppArmorOnlyWhenSet(t *testing.T) {
	config := testConfig(t, layouts["v1"])
	if strings.Contains(config.Render(), "lxc.apparmor") {
		t.Error("config without AppArmorProfile mentions lxc.apparmor")
	}
	config.AppArmorProfile = "generated"
	if !strings.Contains(config.Render(), "lxc.apparmor.profile = generated\n") {
		t.Error("config with AppArmorProfile lacks lxc.apparmor.profile")
	}
}

func TestRestartKeyIgnoresLimitsOnly(t *testing.T) {
	base := testConfig(t, layouts["v1"])

	limitsChanged := base
	limitsChanged.Limits = nil
	if base.RestartKey() != limitsChanged.RestartKey() {
		t.Error("RestartKey changed when only limits changed")
	}
	if base.Render() == limitsChanged.Render() {
		t.Error("Render did not change when limits changed")
	}

	capsChanged := base
	capsChanged.Capabilities = []string{"chown"}
	if base.RestartKey() == capsChanged.RestartKey() {
		t.Error("RestartKey did not change when capabilities changed")
	}
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("update golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("rendered config differs from %s (run go test -update after checking the change):\n%s",
			path, diffLines(string(want), got))
	}
}

// diffLines lists the lines that only one of want and got contains.
func diffLines(want, got string) string {
	inWant := map[string]bool{}
	for _, line := range strings.Split(want, "\n") {
		inWant[line] = true
	}
	inGot := map[string]bool{}
	var b strings.Builder
	for _, line := range strings.Split(got, "\n") {
		inGot[line] = true
		if !inWant[line] {
			b.WriteString("+ " + line + "\n")
		}
	}
	for _, line := range strings.Split(want, "\n") {
		if !inGot[line] {
			b.WriteString("- " + line + "\n")
		}
	}
	return b.String()
}
