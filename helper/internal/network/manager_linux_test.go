package network

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// The tests in this file run the manager against a real kernel, in a network namespace of
// their own. Each enters it on its goroutine's thread and never leaves, so the Go runtime ends
// the thread, and with it the namespace, when the test returns. They must not use t.Run or
// t.Parallel, whose goroutines would run outside the namespace.

// enterTestNamespace moves the test into a new network namespace with lo up.
func enterTestNamespace(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	for _, tool := range []string{"nft", "ip"} {
		if _, err := lookTool(tool); err != nil {
			t.Skip(err)
		}
	}
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Skipf("create a network namespace: %v", err)
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
}

// addUplink adds an interface eth0 with 192.0.2.2/24 and, when withRoute is set, a default
// route through 192.0.2.1. It is one end of a veth pair, because not every kernel has dummy
// interfaces.
func addUplink(t *testing.T, withRoute bool) {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = "eth0"
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: "eth0-peer"}); err != nil {
		t.Fatal(err)
	}
	link, err := netlink.LinkByName("eth0")
	if err != nil {
		t.Fatal(err)
	}
	peer, err := netlink.LinkByName("eth0-peer")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(peer); err != nil {
		t.Fatal(err)
	}

	addr, _ := netlink.ParseAddr("192.0.2.2/24")
	if err := netlink.AddrAdd(link, addr); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}

	if withRoute {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.ParseIP("192.0.2.1")}
		if err := netlink.RouteAdd(route); err != nil {
			t.Fatal(err)
		}
	}
}

// startCall is one call of the fake StartContainer.
type startCall struct{ lxcPath, name string }

// testManager returns a manager with temporary folders, no systemd, and a fake container
// start that records its calls and fails for containers named "broken".
func testManager(t *testing.T) (*Manager, *[]startCall) {
	t.Helper()
	var calls []startCall
	m := &Manager{
		StateDir: t.TempDir(),
		LXCPath:  t.TempDir(),
		BootHook: testBootHook(t, false),
		StartContainer: func(lxcPath, name string) (bool, error) {
			calls = append(calls, startCall{lxcPath, name})
			if name == "broken" {
				return false, errors.New("start failed")
			}
			return true, nil
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return m, &calls
}

func mustApply(t *testing.T, m *Manager, spec protocol.NetworkSpec) protocol.NetworkApplyResult {
	t.Helper()
	result, err := m.Apply(context.Background(), spec)
	if err != nil {
		t.Fatalf("Apply(%+v): %v", spec, err)
	}
	return result
}

func mustGet(t *testing.T, m *Manager, name string) protocol.NetworkState {
	t.Helper()
	networkState, err := m.Get(context.Background(), name)
	if err != nil {
		t.Fatalf("Get(%s): %v", name, err)
	}
	return networkState
}

func sysctlOn(t *testing.T, name string) bool {
	t.Helper()
	on, err := readSysctl(name)
	if err != nil {
		t.Fatal(err)
	}
	return on
}

func TestManagerBridge(t *testing.T) {
	enterTestNamespace(t)
	m, _ := testManager(t)
	spec := protocol.NetworkSpec{Name: "lan0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.80.0.1/24"}

	result := mustApply(t, m, spec)

	got := result.State
	if got.Bridge != "lan0" || got.Subnet != "10.80.0.0/24" {
		t.Errorf("bridge %q subnet %q, want lan0 and 10.80.0.0/24", got.Bridge, got.Subnet)
	}
	if !slices.Equal(got.IPv4Addresses, []string{"10.80.0.1/24"}) {
		t.Errorf("addresses = %q, want only the gateway 10.80.0.1/24", got.IPv4Addresses)
	}
	if got.Forwarding || sysctlOn(t, "conf/lan0/forwarding") {
		t.Error("forwarding is on for a bridge network")
	}
	if !got.RulesInPlace {
		t.Error("rules_in_place = false right after apply")
	}
	if !strings.HasPrefix(result.BootHook, protocol.NoBootHook) {
		t.Errorf("boot hook = %q without systemd, want %q", result.BootHook, protocol.NoBootHook)
	}
	if again := mustApply(t, m, spec); !slices.Equal(again.State.IPv4Addresses, got.IPv4Addresses) {
		t.Errorf("second apply changed the addresses to %q", again.State.IPv4Addresses)
	}

	spec.MTU = 1400
	if mtu := mustApply(t, m, spec).State.MTU; mtu != 1400 {
		t.Errorf("mtu = %d after applying 1400", mtu)
	}
}

func TestManagerDrift(t *testing.T) {
	enterTestNamespace(t)
	m, _ := testManager(t)
	mustApply(t, m, protocol.NetworkSpec{Name: "lan0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.80.0.1/24"})
	link, err := netlink.LinkByName("lan0")
	if err != nil {
		t.Fatal(err)
	}

	// Someone changes the address on the device.
	old, _ := netlink.ParseAddr("10.80.0.1/24")
	changed, _ := netlink.ParseAddr("10.80.0.7/24")
	if err := netlink.AddrDel(link, old); err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(link, changed); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, m, "lan0").IPv4Addresses; !slices.Equal(got, []string{"10.80.0.7/24"}) {
		t.Errorf("addresses after the change = %q, want 10.80.0.7/24", got)
	}

	// Someone flushes the product's table.
	if _, err := runTool(context.Background(), "nft", nil, "delete", "table", "ip", "iotfleet"); err != nil {
		t.Fatal(err)
	}
	if mustGet(t, m, "lan0").RulesInPlace {
		t.Error("rules_in_place = true after the table was deleted")
	}

	// Someone deletes the bridge.
	if err := netlink.LinkDel(link); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, m, "lan0"); got.Bridge != "" || len(got.IPv4Addresses) != 0 {
		t.Errorf("bridge %q addresses %q after deleting the bridge, want none", got.Bridge, got.IPv4Addresses)
	}

	// Restore repairs all of it.
	if _, err := m.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := mustGet(t, m, "lan0")
	if got.Bridge != "lan0" || !slices.Equal(got.IPv4Addresses, []string{"10.80.0.1/24"}) || !got.RulesInPlace {
		t.Errorf("after restore: %+v, want the bridge with 10.80.0.1/24 and its rules", got)
	}
}

func TestManagerNAT(t *testing.T) {
	enterTestNamespace(t)
	addUplink(t, true)
	m, _ := testManager(t)

	nat0 := mustApply(t, m, protocol.NetworkSpec{Name: "nat0", Mode: protocol.NetworkModeNAT, IPv4CIDR: "10.90.0.1/24"})
	mustApply(t, m, protocol.NetworkSpec{Name: "nat1", Mode: protocol.NetworkModeNAT, IPv4CIDR: "10.91.0.1/24"})
	mustApply(t, m, protocol.NetworkSpec{Name: "lan0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.80.0.1/24"})

	if nat0.State.Uplink != "eth0" {
		t.Errorf("uplink = %q, want eth0 from the default route", nat0.State.Uplink)
	}
	if !sysctlOn(t, "ip_forward") {
		t.Error("net.ipv4.ip_forward is off with a NAT network")
	}
	for _, name := range []string{"nat0", "nat1"} {
		if !mustGet(t, m, name).Forwarding {
			t.Errorf("forwarding of %s is off", name)
		}
	}
	if mustGet(t, m, "lan0").Forwarding {
		t.Error("forwarding of bridge network lan0 is on next to NAT networks")
	}
	live, err := liveComments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, comment := range []string{"nat0: masquerade through eth0", "nat0: to other nat networks", "nat1: masquerade through eth0", "lan0: drop from"} {
		if !live[comment] {
			t.Errorf("table lacks the rule %q; it has %v", comment, live)
		}
	}
}

func TestManagerNATWithoutUplink(t *testing.T) {
	enterTestNamespace(t)
	m, _ := testManager(t)
	spec := protocol.NetworkSpec{Name: "nat0", Mode: protocol.NetworkModeNAT, IPv4CIDR: "10.90.0.1/24"}

	_, checkErr := m.Check(spec)
	_, applyErr := m.Apply(context.Background(), spec)

	wantCode(t, checkErr, protocol.CodeInvalid)
	wantCode(t, applyErr, protocol.CodeInvalid)
	if !strings.Contains(applyErr.Error(), "no IPv4 default route") {
		t.Errorf("error %q does not say that the default route is missing", applyErr)
	}
	if link, _ := linkByName("nat0"); link != nil {
		t.Error("a failed apply left the bridge nat0 behind")
	}
	if records, _ := loadRecords(m.StateDir); len(records) != 0 {
		t.Errorf("a failed apply left records: %+v", records)
	}

	spec.Uplink = "wlan9"
	_, err := m.Check(spec)
	wantCode(t, err, protocol.CodeInvalid)
}

func TestManagerConflicts(t *testing.T) {
	enterTestNamespace(t)
	addUplink(t, false)
	m, _ := testManager(t)
	mustApply(t, m, protocol.NetworkSpec{Name: "lan0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.80.0.1/24"})
	writeContainer(t, m.LXCPath, "web", "lxc.net.0.link = lan0\n")

	cases := []struct {
		spec protocol.NetworkSpec
		code protocol.Code
		text string
	}{
		{protocol.NetworkSpec{Name: "lan1", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.80.0.129/25"}, protocol.CodeConflict, "overlaps subnet 10.80.0.0/24 of network \"lan0\""},
		{protocol.NetworkSpec{Name: "lan1", Mode: protocol.NetworkModeBridge, IPv4CIDR: "192.0.2.9/24"}, protocol.CodeConflict, "interface eth0"},
		{protocol.NetworkSpec{Name: "eth0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.81.0.1/24"}, protocol.CodeConflict, "iotfleet did not create it"},
		{protocol.NetworkSpec{Name: "lan0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.82.0.1/24"}, protocol.CodeConflict, "web"},
		{protocol.NetworkSpec{Name: "lan1", Mode: "routed", IPv4CIDR: "10.81.0.1/24"}, protocol.CodeInvalid, "invalid network mode"},
	}
	for _, tc := range cases {
		_, err := m.Check(tc.spec)
		wantCode(t, err, tc.code)
		if !strings.Contains(err.Error(), tc.text) {
			t.Errorf("Check(%+v) = %q, want it to mention %q", tc.spec, err, tc.text)
		}
	}
}

func TestManagerIsolatedPorts(t *testing.T) {
	enterTestNamespace(t)
	m, _ := testManager(t)
	mustApply(t, m, protocol.NetworkSpec{Name: "iso0", Mode: protocol.NetworkModeIsolated, IPv4CIDR: "10.70.0.1/24"})
	attachVeth(t, "va", "iso0")

	if mustGet(t, m, "iso0").RulesInPlace {
		t.Error("rules_in_place = true with an unisolated port")
	}
	if !mustApply(t, m, protocol.NetworkSpec{Name: "iso0", Mode: protocol.NetworkModeIsolated, IPv4CIDR: "10.70.0.1/24"}).State.RulesInPlace {
		t.Error("rules_in_place = false after apply isolated the ports")
	}

	// A port attached later is isolated by the hook, as LXC would run it.
	attachVeth(t, "vb", "iso0")
	hook := PortHookPath(m.StateDir, "iso0")
	if out, err := exec.Command(hook, "web", "net", "up", "veth", "iso0", "vb").CombinedOutput(); err != nil {
		t.Fatalf("port hook: %v: %s", err, out)
	}
	if !mustGet(t, m, "iso0").RulesInPlace {
		t.Error("rules_in_place = false after the hook isolated the new port")
	}

	// Switching to bridge mode lifts the isolation.
	mustApply(t, m, protocol.NetworkSpec{Name: "iso0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.70.0.1/24"})
	port, _ := netlink.LinkByName("va")
	if info, err := netlink.LinkGetProtinfo(port); err != nil || info.Isolated {
		t.Errorf("port va isolated=%v (%v) in bridge mode", info.Isolated, err)
	}
}

// attachVeth creates a veth pair NAME/NAME-peer and attaches NAME to bridge, unisolated.
func attachVeth(t *testing.T, name, bridge string) {
	t.Helper()
	attrs := netlink.NewLinkAttrs()
	attrs.Name = name
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: attrs, PeerName: name + "-peer"}); err != nil {
		t.Fatal(err)
	}
	port, _ := netlink.LinkByName(name)
	master, _ := netlink.LinkByName(bridge)
	if err := netlink.LinkSetMaster(port, master); err != nil {
		t.Fatal(err)
	}
}

func TestManagerDelete(t *testing.T) {
	enterTestNamespace(t)
	m, _ := testManager(t)
	m.BootHook = testBootHook(t, true)
	mustApply(t, m, protocol.NetworkSpec{Name: "lan0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.80.0.1/24"})
	mustApply(t, m, protocol.NetworkSpec{Name: "lan1", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.81.0.1/24"})
	writeContainer(t, m.LXCPath, "web", "lxc.net.0.type = veth\nlxc.net.0.link = lan0\n")
	unit := filepath.Join(m.BootHook.UnitDir, unitName(m.StateDir))

	_, err := m.Delete(context.Background(), "lan0")
	wantCode(t, err, protocol.CodeConflict)
	if !strings.Contains(err.Error(), "web") {
		t.Errorf("conflict %q does not name the container web", err)
	}

	if err := os.Remove(filepath.Join(m.LXCPath, "web", "config")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"lan0", "lan1"} {
		result, err := m.Delete(context.Background(), name)
		if err != nil || !result.Deleted {
			t.Fatalf("Delete(%s) = %+v, %v", name, result, err)
		}
		if name == "lan0" {
			if _, err := os.Stat(unit); err != nil {
				t.Errorf("boot hook removed while lan1 remains: %v", err)
			}
		}
	}

	if link, _ := linkByName("lan0"); link != nil {
		t.Error("bridge lan0 still exists")
	}
	_, err = m.Get(context.Background(), "lan0")
	wantCode(t, err, protocol.CodeNotFound)
	if _, err := os.Stat(unit); err == nil {
		t.Error("boot hook remains after the last network was deleted")
	}
	if live, err := liveComments(context.Background()); err != nil || len(live) != 0 {
		t.Errorf("table still has rules %v (%v)", live, err)
	}
	again, err := m.Delete(context.Background(), "lan0")
	if err != nil || again.Deleted {
		t.Errorf("deleting a missing network = %+v, %v; want not deleted and no error", again, err)
	}
}

func TestManagerRestore(t *testing.T) {
	enterTestNamespace(t)
	m, calls := testManager(t)
	mustApply(t, m, protocol.NetworkSpec{Name: "lan0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.80.0.1/24"})
	mustApply(t, m, protocol.NetworkSpec{Name: "iso0", Mode: protocol.NetworkModeIsolated, IPv4CIDR: "10.70.0.1/24"})
	writeContainer(t, m.LXCPath, "web", "lxc.start.auto = 1\n")
	writeContainer(t, m.LXCPath, "broken", "lxc.start.auto = 1\nlxc.start.order = 1\n")
	writeContainer(t, m.LXCPath, "manual", "lxc.start.auto = 0\n")
	for _, name := range []string{"lan0", "iso0"} {
		if err := deleteBridge(name); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := runTool(context.Background(), "nft", nil, "delete", "table", "ip", "iotfleet"); err != nil {
		t.Fatal(err)
	}

	result, err := m.Restore(context.Background())

	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"iso0", "lan0"}; !slices.Equal(result.Networks, want) {
		t.Errorf("restored networks = %q, want %q", result.Networks, want)
	}
	for _, name := range []string{"lan0", "iso0"} {
		if got := mustGet(t, m, name); got.Bridge != name || !got.RulesInPlace {
			t.Errorf("%s after restore: %+v", name, got)
		}
	}
	if want := []startCall{{m.LXCPath, "web"}, {m.LXCPath, "broken"}}; !slices.Equal(*calls, want) {
		t.Errorf("started %v, want %v in lxc.start.order", *calls, want)
	}
	if !slices.Equal(result.Started, []string{"web"}) || result.Failed["broken"] == "" {
		t.Errorf("started %q failed %v, want web started and broken failed", result.Started, result.Failed)
	}
}
