package provider

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// testNetworks returns network blocks from name and address pairs; "?" is an unknown address
// and "" a null one.
func testNetworks(pairs ...string) types.List {
	var networks []networkModel
	for i := 0; i+1 < len(pairs); i += 2 {
		address := types.StringValue(pairs[i+1])
		switch pairs[i+1] {
		case "?":
			address = types.StringUnknown()
		case "":
			address = types.StringNull()
		}
		networks = append(networks, networkModel{Name: types.StringValue(pairs[i]), IPv4Address: address})
	}
	return networkList(networks)
}

// plannedAddresses returns the planned address of each block, "?" for unknown.
func plannedAddresses(t *testing.T, m containerResourceModel) []string {
	t.Helper()
	networks, known := m.networks()
	if !known {
		t.Fatal("network blocks are unknown")
	}
	addresses := []string{}
	for _, n := range networks {
		if n.IPv4Address.IsUnknown() {
			addresses = append(addresses, "?")
			continue
		}
		addresses = append(addresses, n.IPv4Address.ValueString())
	}
	return addresses
}

func TestPlanNetworksKeepsCurrentAddresses(t *testing.T) {
	state := testContainerState()
	state.Networks = testNetworks("lan0", "10.80.0.2", "wan0", "10.81.0.5")
	plan := state
	// The blocks are reordered, lan0 gets a static address and dmz0 is new.
	plan.Networks = testNetworks("wan0", "10.80.0.2", "lan0", "10.80.0.9", "dmz0", "?")
	configured := []types.String{types.StringNull(), types.StringValue("10.80.0.9"), types.StringNull()}

	planNetworks(&plan, &state, configured, nil)

	if got, want := plannedAddresses(t, plan), []string{"10.81.0.5", "10.80.0.9", "?"}; !slices.Equal(got, want) {
		t.Errorf("planned addresses = %q, want %q", got, want)
	}
}

func TestPlanNetworksRestoresDriftedAddress(t *testing.T) {
	state := testContainerState()
	state.Networks = testNetworks("lan0", "10.80.0.77")
	plan := state

	planNetworks(&plan, &state, []types.String{types.StringNull()}, map[string]string{"lan0": "10.80.0.2"})
	changes := planUpdate(&plan, state, false)

	if got := plannedAddresses(t, plan); !slices.Equal(got, []string{"10.80.0.2"}) {
		t.Errorf("planned addresses = %q, want the helper's 10.80.0.2 back", got)
	}
	if !slices.Equal(changes.restarts, []string{"network"}) {
		t.Errorf("restarts = %v, want [network]", changes.restarts)
	}
}

func TestPlanNetworksWithoutState(t *testing.T) {
	plan := testContainerState()
	plan.Networks = testNetworks("lan0", "10.80.0.2", "wan0", "10.81.0.5")

	planNetworks(&plan, nil, []types.String{types.StringNull(), types.StringValue("10.81.0.5")}, nil)

	if got, want := plannedAddresses(t, plan), []string{"?", "10.81.0.5"}; !slices.Equal(got, want) {
		t.Errorf("planned addresses of a new container = %q, want %q", got, want)
	}
}

func TestPlanUpdateNetworks(t *testing.T) {
	state := testContainerState()
	state.Networks = testNetworks("lan0", "10.80.0.2", "wan0", "10.81.0.5")
	tests := []struct {
		name     string
		networks types.List
		restart  bool
	}{
		{"same", testNetworks("lan0", "10.80.0.2", "wan0", "10.81.0.5"), false},
		{"readdressed", testNetworks("lan0", "10.80.0.3", "wan0", "10.81.0.5"), true},
		{"reordered", testNetworks("wan0", "10.81.0.5", "lan0", "10.80.0.2"), true},
		{"removed", testNetworks("lan0", "10.80.0.2"), true},
		{"added and unknown", testNetworks("lan0", "10.80.0.2", "wan0", "10.81.0.5", "dmz0", "?"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := state
			plan.Networks = tt.networks

			changes := planUpdate(&plan, state, false)

			if restarts := slices.Contains(changes.restarts, "network"); restarts != tt.restart {
				t.Errorf("restarts = %v, want network in it: %t", changes.restarts, tt.restart)
			}
			if tt.restart && !plan.InitPID.IsUnknown() {
				t.Errorf("planned init_pid = %s, want unknown for a restart", plan.InitPID)
			}
		})
	}
}

func TestPlanUpdateResolvConf(t *testing.T) {
	busybox := testContainerState()
	withResolv := busybox
	withResolv.ResolvConf = types.StringValue("nameserver 10.80.0.1\n")
	if changes := planUpdate(&withResolv, busybox, false); len(changes.restarts) != 0 || len(changes.changed) != 1 {
		t.Errorf("resolv_conf on busybox: changed %v, restarts %v; want a change without restart",
			changedNames(changes), changes.restarts)
	}

	image := testContainerState()
	image.ImageSHA256 = types.StringValue("aa")
	imageWithResolv := image
	imageWithResolv.ResolvConf = withResolv.ResolvConf
	if changes := planUpdate(&imageWithResolv, image, false); !slices.Equal(changes.restarts, []string{"resolv_conf"}) {
		t.Errorf("resolv_conf added on an image restarts %v, want [resolv_conf]", changes.restarts)
	}
	imageChanged := imageWithResolv
	imageChanged.ResolvConf = types.StringValue("nameserver 10.80.0.9\n")
	if changes := planUpdate(&imageChanged, imageWithResolv, false); len(changes.restarts) != 0 {
		t.Errorf("new resolv_conf content on an image restarts %v, want no restart", changes.restarts)
	}
}

func TestObservedNICAddress(t *testing.T) {
	tests := []struct {
		name     string
		observed []string
		want     string
	}{
		{"as recorded", []string{"10.80.0.2"}, "10.80.0.2"},
		{"changed", []string{"10.80.0.9"}, "10.80.0.9"},
		{"none", []string{}, ""},
		{"extra", []string{"10.80.0.2", "10.80.0.3"}, "10.80.0.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nic := protocol.ContainerNICState{Network: "lan0", IPv4Address: "10.80.0.2", ObservedIPv4Addresses: tt.observed}

			if got := observedNICAddress(nic); got != tt.want {
				t.Errorf("observedNICAddress = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMergeObservedNetworks(t *testing.T) {
	state := testContainerState()
	state.Networks = testNetworks("lan0", "10.80.0.2")
	observed := testObserved(t, state)
	observed.Networks[0].ObservedIPv4Addresses = []string{"10.80.0.77"}

	merged := state
	mergeObserved(&merged, observed)

	if got := plannedAddresses(t, merged); !slices.Equal(got, []string{"10.80.0.77"}) {
		t.Errorf("state addresses after the read = %q, want the device's 10.80.0.77", got)
	}
	if drift := nicDrift(observed.Networks); drift["lan0"] != "10.80.0.2" || len(drift) != 1 {
		t.Errorf("nicDrift = %v, want lan0 with the helper's 10.80.0.2", drift)
	}
}

func TestContainerSpecNetworks(t *testing.T) {
	m := testContainerState()
	m.Networks = testNetworks("lan0", "?", "wan0", "10.81.0.5")
	m.ResolvConf = types.StringValue("nameserver 10.80.0.1\n")

	spec, diags := containerSpec(context.Background(), m, nil)

	if diags.HasError() {
		t.Fatalf("containerSpec: %v", diags)
	}
	want := []protocol.ContainerNIC{{Network: "lan0"}, {Network: "wan0", IPv4Address: "10.81.0.5"}}
	if !slices.Equal(spec.Networks, want) {
		t.Errorf("networks = %+v, want %+v: an unknown address is allocated", spec.Networks, want)
	}
	if spec.ResolvConf != "nameserver 10.80.0.1\n" {
		t.Errorf("resolv_conf = %q", spec.ResolvConf)
	}
}

func TestSettleNetworks(t *testing.T) {
	planned := testContainerState()
	planned.Networks = testNetworks("lan0", "?", "wan0", "10.81.0.5")
	nics := []protocol.ContainerNICState{
		{Network: "lan0", IPv4Address: "10.80.0.2", ObservedIPv4Addresses: []string{"10.80.0.2"}},
		{Network: "wan0", IPv4Address: "10.81.0.6", ObservedIPv4Addresses: []string{"10.81.0.6"}},
	}

	mismatches := settleNetworks(&planned, nics)

	if got := plannedAddresses(t, planned); !slices.Equal(got, []string{"10.80.0.2", "10.81.0.6"}) {
		t.Errorf("addresses after apply = %q, want the device's", got)
	}
	if len(mismatches) != 1 || !strings.Contains(mismatches[0], "10.81.0.5") {
		t.Errorf("mismatches = %q, want one about wan0's planned 10.81.0.5", mismatches)
	}
}

func TestValidateNICAddress(t *testing.T) {
	for _, address := range []string{"10.80.0.10", "192.168.1.2"} {
		if err := validateNICAddress(address); err != nil {
			t.Errorf("validateNICAddress(%q) = %v, want nil", address, err)
		}
	}
	for _, address := range []string{"10.80.0.10/24", "fd00::1", "lan0", "127.0.0.1", "0.0.0.0", "224.0.0.1", "169.254.1.1"} {
		if err := validateNICAddress(address); err == nil {
			t.Errorf("validateNICAddress(%q) accepted it", address)
		}
	}
}
