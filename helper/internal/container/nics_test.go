package container

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestConfigAddresses(t *testing.T) {
	config := filepath.Join(t.TempDir(), "config")
	content := "lxc.net.0.type = veth\n" +
		"lxc.net.0.ipv4.address = 10.80.0.2/24\n" +
		"lxc.net.0.ipv4.gateway = 10.80.0.1\n" +
		"lxc.net.1.ipv4.address = 10.81.0.9/24 10.81.0.255\n" +
		"lxc.net.1.ipv4.address=10.81.0.3\n" +
		"# lxc.net.2.ipv4.address = 10.82.0.2/24\n" +
		"lxc.net.3.ipv4.address = 10.83.0.2/24\n"
	if err := os.WriteFile(config, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	got, err := configAddresses(config, 3)

	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"10.80.0.2"}, {"10.81.0.3", "10.81.0.9"}, {}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("configAddresses = %q, want %q", got, want)
	}
}

func TestNICsDrifted(t *testing.T) {
	nic := func(observed ...string) protocol.ContainerNICState {
		return protocol.ContainerNICState{Network: "lan0", IPv4Address: "10.80.0.2", ObservedIPv4Addresses: observed}
	}
	cases := []struct {
		name string
		nics []protocol.ContainerNICState
		want bool
	}{
		{"none", nil, false},
		{"as recorded", []protocol.ContainerNICState{nic("10.80.0.2")}, false},
		{"changed", []protocol.ContainerNICState{nic("10.80.0.9")}, true},
		{"removed", []protocol.ContainerNICState{nic()}, true},
		{"added", []protocol.ContainerNICState{nic("10.80.0.2", "10.80.0.3")}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := nicsDrifted(tc.nics); got != tc.want {
				t.Errorf("nicsDrifted = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestRootfsFilesAddsResolvConf(t *testing.T) {
	spec := protocol.ContainerSpec{
		Files:      []protocol.File{{Path: "/etc/app.conf", Content: []byte("a"), Mode: 0o600}},
		ResolvConf: "nameserver 10.80.0.1\n",
	}

	files := rootfsFiles(spec)

	if len(files) != 2 || files[0].Path != "/etc/app.conf" {
		t.Fatalf("rootfsFiles = %+v, want the spec's file and /etc/resolv.conf", files)
	}
	if resolv := files[1]; resolv.Path != "/etc/resolv.conf" || string(resolv.Content) != spec.ResolvConf ||
		resolv.Mode != 0o644 || resolv.UID != 0 || resolv.GID != 0 {
		t.Errorf("resolv.conf file = %+v, want mode 0644, owner 0:0 and the spec's content", resolv)
	}
	if len(spec.Files) != 1 {
		t.Errorf("rootfsFiles changed the spec's files: %+v", spec.Files)
	}
	if got := rootfsFiles(protocol.ContainerSpec{Files: spec.Files}); len(got) != 1 {
		t.Errorf("rootfsFiles without resolv_conf = %+v, want only the spec's file", got)
	}
}
