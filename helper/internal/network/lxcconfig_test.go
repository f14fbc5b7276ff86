package network

import (
	"net/netip"
	"slices"
	"testing"
)

func TestLXCConfig(t *testing.T) {
	attachment := Attachment{
		Network:  "lan0",
		Bridge:   "lan0",
		Address:  netip.MustParsePrefix("10.80.0.2/24"),
		Gateway:  netip.MustParseAddr("10.80.0.1"),
		HWAddr:   "02:11:22:33:44:55",
		PortHook: "/var/lib/iotfleet/networks/lan0/port-up",
	}

	first := LXCConfig(attachment, 0)
	second := LXCConfig(attachment, 1)

	wantFirst := []string{
		"lxc.net.0.type = veth",
		"lxc.net.0.link = lan0",
		"lxc.net.0.name = eth0",
		"lxc.net.0.flags = up",
		"lxc.net.0.hwaddr = 02:11:22:33:44:55",
		"lxc.net.0.ipv4.address = 10.80.0.2/24",
		"lxc.net.0.ipv4.gateway = 10.80.0.1",
		"lxc.net.0.script.up = /var/lib/iotfleet/networks/lan0/port-up",
	}
	if !slices.Equal(first, wantFirst) {
		t.Errorf("LXCConfig(index 0) =\n%q\nwant\n%q", first, wantFirst)
	}
	if slices.Contains(second, "lxc.net.1.ipv4.gateway = 10.80.0.1") {
		t.Error("the second NIC sets a default route too; a container has one")
	}
	if !slices.Contains(second, "lxc.net.1.name = eth1") || !slices.Contains(second, "lxc.net.1.link = lan0") {
		t.Errorf("LXCConfig(index 1) = %q, want keys numbered 1 and the name eth1", second)
	}
}
