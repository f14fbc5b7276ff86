package network

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// newStateDir returns a state folder that records the given networks.
func newStateDir(t *testing.T, records ...Record) string {
	t.Helper()
	stateDir := t.TempDir()
	for _, record := range records {
		if err := saveRecord(stateDir, record); err != nil {
			t.Fatal(err)
		}
	}
	return stateDir
}

func mustAllocate(t *testing.T, stateDir, network, container, requested string) Attachment {
	t.Helper()
	attachment, err := AllocateAddress(stateDir, network, container, requested)
	if err != nil {
		t.Fatalf("AllocateAddress(%s, %s, %q): %v", network, container, requested, err)
	}
	return attachment
}

func wantCode(t *testing.T, err error, code protocol.Code) {
	t.Helper()
	var protocolErr *protocol.Error
	if !errors.As(err, &protocolErr) || protocolErr.Code != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

func TestAllocateAddressLowestFree(t *testing.T) {
	stateDir := newStateDir(t, modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"))

	web := mustAllocate(t, stateDir, "lan0", "web", "")
	db := mustAllocate(t, stateDir, "lan0", "db", "")

	if got, want := web.Address, netip.MustParsePrefix("10.80.0.2/24"); got != want {
		t.Errorf("web address = %s, want %s (the lowest after the gateway)", got, want)
	}
	if got, want := db.Address, netip.MustParsePrefix("10.80.0.3/24"); got != want {
		t.Errorf("db address = %s, want %s", got, want)
	}
	if web.Gateway != netip.MustParseAddr("10.80.0.1") || web.Bridge != "lan0" {
		t.Errorf("web gateway %s bridge %s, want 10.80.0.1 on lan0", web.Gateway, web.Bridge)
	}
	if web.PortHook != PortHookPath(stateDir, "lan0") {
		t.Errorf("port hook = %s, want %s", web.PortHook, PortHookPath(stateDir, "lan0"))
	}
}

func TestAllocateAddressSkipsGatewayInMiddle(t *testing.T) {
	stateDir := newStateDir(t, modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.2/29"))

	first := mustAllocate(t, stateDir, "lan0", "a", "")
	second := mustAllocate(t, stateDir, "lan0", "b", "")

	if first.Address.Addr().String() != "10.80.0.1" || second.Address.Addr().String() != "10.80.0.3" {
		t.Errorf("addresses = %s, %s, want 10.80.0.1 and 10.80.0.3 around the gateway 10.80.0.2",
			first.Address, second.Address)
	}
}

func TestAllocateAddressStable(t *testing.T) {
	stateDir := newStateDir(t, modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"))
	mustAllocate(t, stateDir, "lan0", "a", "")
	before := mustAllocate(t, stateDir, "lan0", "b", "")
	if err := ReleaseAddresses(stateDir, "a"); err != nil {
		t.Fatal(err)
	}

	after := mustAllocate(t, stateDir, "lan0", "b", "")

	if after.Address != before.Address {
		t.Errorf("address of b moved from %s to %s after a left", before.Address, after.Address)
	}
	if after.HWAddr != before.HWAddr {
		t.Errorf("MAC of b changed from %s to %s", before.HWAddr, after.HWAddr)
	}
}

func TestAllocateAddressStatic(t *testing.T) {
	stateDir := newStateDir(t, modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"))

	got := mustAllocate(t, stateDir, "lan0", "web", "10.80.0.50")
	moved := mustAllocate(t, stateDir, "lan0", "web", "10.80.0.51")
	next := mustAllocate(t, stateDir, "lan0", "db", "")

	if got.Address.String() != "10.80.0.50/24" {
		t.Errorf("static address = %s, want 10.80.0.50/24", got.Address)
	}
	if moved.Address.String() != "10.80.0.51/24" {
		t.Errorf("changed static address = %s, want 10.80.0.51/24", moved.Address)
	}
	if next.Address.String() != "10.80.0.2/24" {
		t.Errorf("dynamic address after the move = %s, want 10.80.0.2/24", next.Address)
	}
}

func TestAllocateAddressRejects(t *testing.T) {
	cases := []struct {
		name, requested string
		code            protocol.Code
	}{
		{"outside subnet", "10.81.0.5", protocol.CodeInvalid},
		{"gateway", "10.80.0.1", protocol.CodeInvalid},
		{"network address", "10.80.0.0", protocol.CodeInvalid},
		{"broadcast address", "10.80.0.255", protocol.CodeInvalid},
		{"not an address", "10.80.0", protocol.CodeInvalid},
		{"with prefix", "10.80.0.7/24", protocol.CodeInvalid},
		{"ipv6", "fd00::5", protocol.CodeInvalid},
		{"duplicate", "10.80.0.9", protocol.CodeConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stateDir := newStateDir(t, modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"))
			mustAllocate(t, stateDir, "lan0", "holder", "10.80.0.9")

			_, err := AllocateAddress(stateDir, "lan0", "web", tc.requested)

			wantCode(t, err, tc.code)
		})
	}
}

func TestAllocateAddressMissingNetwork(t *testing.T) {
	stateDir := newStateDir(t)

	_, err := AllocateAddress(stateDir, "lan0", "web", "")

	wantCode(t, err, protocol.CodeNotFound)
}

func TestAllocateAddressFull(t *testing.T) {
	stateDir := newStateDir(t, modeRecord("tiny", protocol.NetworkModeBridge, "10.80.0.1/30"))
	mustAllocate(t, stateDir, "tiny", "a", "")

	_, err := AllocateAddress(stateDir, "tiny", "b", "")

	wantCode(t, err, protocol.CodeConflict)
}

func TestAllocateAddressHWAddr(t *testing.T) {
	stateDir := newStateDir(t,
		modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"),
		modeRecord("lan1", protocol.NetworkModeBridge, "10.81.0.1/24"))

	a := mustAllocate(t, stateDir, "lan0", "web", "")
	b := mustAllocate(t, stateDir, "lan1", "web", "")
	c := mustAllocate(t, stateDir, "lan0", "db", "")

	for _, attachment := range []Attachment{a, b, c} {
		mac, err := net.ParseMAC(attachment.HWAddr)
		if err != nil || len(mac) != 6 {
			t.Fatalf("MAC %q does not parse as 6 bytes: %v", attachment.HWAddr, err)
		}
		if mac[0]&0x02 == 0 || mac[0]&0x01 != 0 {
			t.Errorf("MAC %s is not a locally administered unicast address", mac)
		}
	}
	if a.HWAddr == b.HWAddr || a.HWAddr == c.HWAddr {
		t.Errorf("MACs %s, %s, %s are not distinct", a.HWAddr, b.HWAddr, c.HWAddr)
	}
}

func TestStableHWAddrAvoidsClash(t *testing.T) {
	first := stableHWAddr("lan0", "web", allocations{})
	table := allocations{Containers: map[string]allocation{"other": {HWAddr: first}}}

	second := stableHWAddr("lan0", "web", table)

	if second == first {
		t.Errorf("stableHWAddr returned %s, which another container holds", second)
	}
}

func TestAttach(t *testing.T) {
	stateDir := newStateDir(t,
		modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"),
		modeRecord("lan1", protocol.NetworkModeBridge, "10.81.0.1/24"))
	if _, err := Attach(stateDir, "web", []protocol.ContainerNIC{{Network: "lan0"}, {Network: "lan1"}}); err != nil {
		t.Fatal(err)
	}

	attachments, err := Attach(stateDir, "web", []protocol.ContainerNIC{{Network: "lan1", IPv4Address: "10.81.0.7"}})

	if err != nil {
		t.Fatal(err)
	}
	if len(attachments) != 1 || attachments[0].Address.String() != "10.81.0.7/24" {
		t.Errorf("attachments = %+v, want one on lan1 with 10.81.0.7/24", attachments)
	}
	table, err := loadAllocations(stateDir, "lan0")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := table.Containers["web"]; ok {
		t.Error("web still holds an address on lan0 after leaving it")
	}
}

func TestAttachRejectsDuplicateNetwork(t *testing.T) {
	stateDir := newStateDir(t, modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"))

	_, err := Attach(stateDir, "web", []protocol.ContainerNIC{{Network: "lan0"}, {Network: "lan0"}})

	wantCode(t, err, protocol.CodeInvalid)
}

func TestAttachNamesFailingNIC(t *testing.T) {
	stateDir := newStateDir(t,
		modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"),
		modeRecord("lan1", protocol.NetworkModeBridge, "10.81.0.1/24"))
	cases := []struct {
		name    string
		nics    []protocol.ContainerNIC
		code    protocol.Code
		message string
	}{
		{"gateway", []protocol.ContainerNIC{{Network: "lan0"}, {Network: "lan1", IPv4Address: "10.81.0.1"}},
			protocol.CodeInvalid, "networks[1]: ipv4_address 10.81.0.1"},
		{"outside subnet", []protocol.ContainerNIC{{Network: "lan0", IPv4Address: "10.99.0.5"}},
			protocol.CodeInvalid, "networks[0]: ipv4_address 10.99.0.5"},
		{"network address", []protocol.ContainerNIC{{Network: "lan0", IPv4Address: "10.80.0.0"}},
			protocol.CodeInvalid, "networks[0]: ipv4_address 10.80.0.0 of container \"web\" is the network address"},
		{"broadcast address", []protocol.ContainerNIC{{Network: "lan0", IPv4Address: "10.80.0.255"}},
			protocol.CodeInvalid, "networks[0]: ipv4_address 10.80.0.255 of container \"web\" is the broadcast address"},
		{"missing network", []protocol.ContainerNIC{{Network: "lan0"}, {Network: "wan9"}},
			protocol.CodeNotFound, `networks[1]: network "wan9" does not exist`},
		{"invalid network name", []protocol.ContainerNIC{{Network: "../lan0"}},
			protocol.CodeInvalid, `networks[0]: invalid network name "../lan0"`},
		{"twice", []protocol.ContainerNIC{{Network: "lan0"}, {Network: "lan0"}},
			protocol.CodeInvalid, "networks[1]: container"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Attach(stateDir, "web", tc.nics)

			wantCode(t, err, tc.code)
			if message := err.(*protocol.Error).Message; !strings.HasPrefix(message, tc.message) {
				t.Errorf("message = %q, want it to start with %q", message, tc.message)
			}
		})
	}
}

func TestUsableRange(t *testing.T) {
	cases := map[string]string{
		"10.80.0.1/24":   "10.80.0.2 to 10.80.0.254",
		"10.80.0.254/24": "10.80.0.1 to 10.80.0.253",
		"10.80.0.100/24": "10.80.0.1 to 10.80.0.254 other than the gateway 10.80.0.100",
		"192.168.7.1/30": "192.168.7.2",
		"192.168.7.2/30": "192.168.7.1",
		"172.16.0.1/16":  "172.16.0.2 to 172.16.255.254",
		"10.80.0.129/25": "10.80.0.130 to 10.80.0.254",
		"10.80.0.126/25": "10.80.0.1 to 10.80.0.125",
		"10.0.0.1/8":     "10.0.0.2 to 10.255.255.254",
		"10.80.0.200/24": "10.80.0.1 to 10.80.0.254 other than the gateway 10.80.0.200",
	}
	for cidr, want := range cases {
		if got := usableRange(netip.MustParsePrefix(cidr)); got != want {
			t.Errorf("usableRange(%s) = %q, want %q", cidr, got, want)
		}
	}
}

func TestAttachTakenAddressConflicts(t *testing.T) {
	stateDir := newStateDir(t, modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"))
	mustAllocate(t, stateDir, "lan0", "db", "10.80.0.5")

	_, err := Attach(stateDir, "web", []protocol.ContainerNIC{{Network: "lan0", IPv4Address: "10.80.0.5"}})

	wantCode(t, err, protocol.CodeConflict)
	if message := err.(*protocol.Error).Message; !strings.Contains(message, `already belongs to container "db"`) {
		t.Errorf("message = %q, want it to name the container that holds the address", message)
	}
}

func TestAllocateAddressRejectsContainerName(t *testing.T) {
	stateDir := newStateDir(t, modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"))

	for _, name := range []string{"", "..", "a/b"} {
		_, err := AllocateAddress(stateDir, "lan0", name, "")
		wantCode(t, err, protocol.CodeInvalid)
	}
}

func TestDropStaleAllocations(t *testing.T) {
	stateDir := newStateDir(t, modeRecord("lan0", protocol.NetworkModeBridge, "10.80.0.1/24"))
	mustAllocate(t, stateDir, "lan0", "keep", "10.80.0.200")
	mustAllocate(t, stateDir, "lan0", "outside", "10.80.0.20")
	mustAllocate(t, stateDir, "lan0", "gateway", "10.80.0.129")

	if err := dropStaleAllocations(stateDir, "lan0", netip.MustParsePrefix("10.80.0.129/25")); err != nil {
		t.Fatal(err)
	}

	table, err := loadAllocations(stateDir, "lan0")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := table.Containers["keep"]; !ok {
		t.Error("dropped keep, whose address fits the new subnet")
	}
	for _, name := range []string{"outside", "gateway"} {
		if _, ok := table.Containers[name]; ok {
			t.Errorf("kept %s, whose address no longer fits", name)
		}
	}
}
