package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

func TestAccNetwork_invalidInput(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	cases := []struct {
		name, body string
		words      []string
	}{
		{"name too long", `name = "network-name-xyz"` + "\n" + `mode = "bridge"` + "\n" + `ipv4_cidr = "10.80.0.1/24"`,
			[]string{"Invalid Attribute Value", "invalid network name", "15"}},
		{"bad mode", `name = "lan0"` + "\n" + `mode = "routed"` + "\n" + `ipv4_cidr = "10.80.0.1/24"`,
			[]string{"Invalid Attribute Value Match", "routed"}},
		{"bad cidr", `name = "lan0"` + "\n" + `mode = "bridge"` + "\n" + `ipv4_cidr = "10.80.0.1"`,
			[]string{"Invalid Attribute Value", "prefix length"}},
		{"network address", `name = "lan0"` + "\n" + `mode = "bridge"` + "\n" + `ipv4_cidr = "10.80.0.0/24"`,
			[]string{"network address", "10.80.0.0/24", "host address"}},
		{"broadcast address", `name = "lan0"` + "\n" + `mode = "bridge"` + "\n" + `ipv4_cidr = "10.80.0.255/24"`,
			[]string{"broadcast address", "10.80.0.0/24", "host address"}},
		{"uplink without nat", `name = "lan0"` + "\n" + `mode = "bridge"` + "\n" + `ipv4_cidr = "10.80.0.1/24"` + "\n" + `uplink = "eth0"`,
			[]string{"Invalid Attribute Combination", "uplink", "only", "nat"}},
		{"mtu too small", `name = "lan0"` + "\n" + `mode = "bridge"` + "\n" + `ipv4_cidr = "10.80.0.1/24"` + "\n" + `mtu = 60`,
			[]string{"mtu", "68"}},
	}
	var steps []resource.TestStep
	for _, tc := range cases {
		steps = append(steps, resource.TestStep{
			Config:      networkConfig(t, dev, tc.body),
			PlanOnly:    true,
			ExpectError: errorRegexp(tc.words...),
		})
	}

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps:                    steps,
	})
	if err := checkNothingInstalled(t, dev)(nil); err != nil {
		t.Error(err)
	}
}

// TestAccNetwork_natWithoutUplink plans a NAT network on a device without a default route.
// The helper's check fails the plan, so nothing is created.
func TestAccNetwork_natWithoutUplink(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: networkConfig(t, dev, ""),
			},
			{
				Config: networkConfig(t, dev, `
  name      = "nat0"
  mode      = "nat"
  ipv4_cidr = "10.90.0.1/24"
`),
				PlanOnly:    true,
				ExpectError: errorRegexp("Invalid Network Configuration", "default route", "uplink"),
			},
			{
				Config: networkConfig(t, dev, `
  name      = "nat0"
  mode      = "nat"
  ipv4_cidr = "10.90.0.1/24"
  uplink    = "wlan7"
`),
				PlanOnly:    true,
				ExpectError: errorRegexp("Invalid Network Configuration", "wlan7", "does not exist"),
			},
		},
	})
}

func TestParseNetworkID(t *testing.T) {
	user, host, port, name, err := parseNetworkID("pi@[2001:db8::10]:2222/lan0", "root")

	if err != nil {
		t.Fatal(err)
	}
	if user != "pi" || host != "2001:db8::10" || port != 2222 || name != "lan0" {
		t.Errorf("parseNetworkID = %q, %q, %d, %q", user, host, port, name)
	}
}

func TestParseNetworkIDDefaults(t *testing.T) {
	user, host, port, name, err := parseNetworkID("192.0.2.10/lan0", "admin")

	if err != nil {
		t.Fatal(err)
	}
	if user != "admin" || host != "192.0.2.10" || port != 22 || name != "lan0" {
		t.Errorf("parseNetworkID = %q, %q, %d, %q; want the default user and port", user, host, port, name)
	}
}

func TestParseNetworkIDInvalid(t *testing.T) {
	for _, id := range []string{"root@192.0.2.10:22", "root@192.0.2.10:22/", "root@192.0.2.10:22/Lan0", "root@192.0.2.10:99999/lan0"} {
		if _, _, _, _, err := parseNetworkID(id, "root"); err == nil {
			t.Errorf("parseNetworkID(%q) accepted it", id)
		}
	}
}

func TestObservedCIDR(t *testing.T) {
	spec := protocol.NetworkSpec{Name: "lan0", IPv4CIDR: "10.80.0.1/24"}
	cases := []struct {
		name   string
		bridge string
		addrs  []string
		want   string
	}{
		{"as applied", "lan0", []string{"10.80.0.1/24"}, "10.80.0.1/24"},
		{"bridge missing", "", nil, "10.80.0.1/24"},
		{"no address", "lan0", []string{}, ""},
		{"changed", "lan0", []string{"10.80.0.9/24"}, "10.80.0.9/24"},
		{"extra address", "lan0", []string{"10.80.0.1/24", "10.80.0.9/24"}, "10.80.0.9/24"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := observedCIDR(protocol.NetworkState{Spec: spec, Bridge: tc.bridge, IPv4Addresses: tc.addrs})

			if got != tc.want {
				t.Errorf("observedCIDR = %q, want %q", got, tc.want)
			}
		})
	}
}
