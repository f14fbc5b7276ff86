package provider

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

const networkAddr = "iotfleet_network.test"

// networkConfig returns a configuration with the device and, unless body is empty, one network
// with the given attributes.
func networkConfig(t *testing.T, dev *localdevice.Device, body string) string {
	config := deviceConfig(t, dev, dev.HostPublicKey)
	if body == "" {
		return config
	}
	return config + fmt.Sprintf(`
resource "iotfleet_network" "test" {
  device = iotfleet_device.test.target
  %s
}
`, body)
}

// deviceAddresses returns the IPv4 addresses of an interface on the device, in CIDR form.
func deviceAddresses(t *testing.T, dev *localdevice.Device, name string) ([]string, error) {
	out, err := deviceExec(t, dev, "ip", "-j", "-4", "addr", "show", "dev", name)
	if err != nil {
		return nil, fmt.Errorf("ip addr show dev %s on the device: %v: %s", name, err, out)
	}
	var links []struct {
		AddrInfo []struct {
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return nil, fmt.Errorf("parse ip -j output %q: %v", out, err)
	}
	var addrs []string
	for _, link := range links {
		for _, info := range link.AddrInfo {
			addrs = append(addrs, fmt.Sprintf("%s/%d", info.Local, info.PrefixLen))
		}
	}
	return addrs, nil
}

// checkBridgeAddress checks that the device has the bridge with exactly the address cidr.
func checkBridgeAddress(t *testing.T, dev *localdevice.Device, bridge, cidr string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		addrs, err := deviceAddresses(t, dev, bridge)
		if err != nil {
			return err
		}
		if len(addrs) != 1 || addrs[0] != cidr {
			return fmt.Errorf("bridge %s has addresses %q, want only %s", bridge, addrs, cidr)
		}
		kind := mustDeviceExec(t, dev, "ip", "-d", "-j", "link", "show", "dev", bridge)
		if !strings.Contains(kind, `"info_kind":"bridge"`) {
			return fmt.Errorf("interface %s is not a bridge: %s", bridge, kind)
		}
		return nil
	}
}

// checkRules checks that the product's nftables table holds rules with the given comments,
// and none with the absent ones.
func checkRules(t *testing.T, dev *localdevice.Device, present []string, absent []string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := deviceExec(t, dev, "nft", "-j", "list", "table", "ip", "iotfleet")
		if err != nil {
			return fmt.Errorf("nft list table ip iotfleet on the device: %v: %s", err, out)
		}
		var listing struct {
			Nftables []struct {
				Rule *struct {
					Comment string `json:"comment"`
				} `json:"rule"`
			} `json:"nftables"`
		}
		if err := json.Unmarshal([]byte(out), &listing); err != nil {
			return fmt.Errorf("parse nft -j output: %v", err)
		}
		comments := map[string]bool{}
		for _, item := range listing.Nftables {
			if item.Rule != nil {
				comments[item.Rule.Comment] = true
			}
		}
		for _, comment := range present {
			if !comments[comment] {
				return fmt.Errorf("table ip iotfleet lacks the rule %q; it has %v", comment, comments)
			}
		}
		for _, comment := range absent {
			if comments[comment] {
				return fmt.Errorf("table ip iotfleet still has the rule %q", comment)
			}
		}
		return nil
	}
}

// checkSysctl checks one sysctl on the device.
func checkSysctl(t *testing.T, dev *localdevice.Device, name, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if got := mustDeviceExec(t, dev, "sysctl", "-n", name); got != want {
			return fmt.Errorf("sysctl %s = %s on the device, want %s", name, got, want)
		}
		return nil
	}
}

// checkNoNetworksLeft fails when the device still has the product's table or a network record.
func checkNoNetworksLeft(t *testing.T, dev *localdevice.Device, bridges ...string) func(*terraform.State) error {
	return func(*terraform.State) error {
		if out, err := deviceExec(t, dev, "nft", "list", "table", "ip", "iotfleet"); err == nil {
			return fmt.Errorf("table ip iotfleet remains on the device:\n%s", out)
		}
		for _, bridge := range bridges {
			if out, err := deviceExec(t, dev, "ip", "link", "show", "dev", bridge); err == nil {
				return fmt.Errorf("bridge %s remains on the device: %s", bridge, out)
			}
		}
		return checkNothingInstalled(t, dev)(nil)
	}
}

func TestAccNetwork_bridge(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	config := networkConfig(t, dev, `
  name      = "lan0"
  mode      = "bridge"
  ipv4_cidr = "10.80.0.1/24"
`)
	id := fmt.Sprintf("root@%s:%d/lan0", dev.Address(), dev.Port)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoNetworksLeft(t, dev, "lan0"),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(networkAddr, "id", id),
					resource.TestCheckResourceAttr(networkAddr, "bridge", "lan0"),
					resource.TestCheckResourceAttr(networkAddr, "subnet", "10.80.0.0/24"),
					resource.TestCheckResourceAttr(networkAddr, "forwarding", "false"),
					resource.TestCheckResourceAttr(networkAddr, "rules_in_place", "true"),
					resource.TestCheckResourceAttr(networkAddr, "mtu", "1500"),
					resource.TestCheckNoResourceAttr(networkAddr, "uplink"),
					checkBridgeAddress(t, dev, "lan0", "10.80.0.1/24"),
					checkRules(t, dev, []string{"lan0: within the network", "lan0: drop from", "lan0: drop to"}, nil),
					checkSysctl(t, dev, "net.ipv4.conf.lan0.forwarding", "0"),
				),
			},
			{
				Config:   config,
				PlanOnly: true,
			},
			{
				ResourceName:      networkAddr,
				ImportState:       true,
				ImportStateId:     id,
				ImportStateVerify: true,
			},
			{
				// Someone deletes the bridge on the device.
				PreConfig: func() {
					mustDeviceExec(t, dev, "ip", "link", "delete", "dev", "lan0")
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(networkAddr, plancheck.ResourceActionUpdate)},
				},
				Check: checkBridgeAddress(t, dev, "lan0", "10.80.0.1/24"),
			},
			{
				// Someone changes the bridge's address.
				PreConfig: func() {
					mustDeviceExec(t, dev, "ip", "addr", "replace", "10.80.0.9/24", "dev", "lan0")
					mustDeviceExec(t, dev, "ip", "addr", "delete", "10.80.0.1/24", "dev", "lan0")
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				Check:  checkBridgeAddress(t, dev, "lan0", "10.80.0.1/24"),
			},
			{
				// Someone deletes the product's table.
				PreConfig: func() {
					mustDeviceExec(t, dev, "nft", "delete", "table", "ip", "iotfleet")
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(networkAddr, "rules_in_place", "true"),
					checkRules(t, dev, []string{"lan0: within the network"}, nil),
				),
			},
		},
	})
}

func TestAccNetwork_nat(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	// A local device has no default route; give it one through the host side of its veth, so
	// the helper finds the uplink by itself.
	mustDeviceExec(t, dev, "ip", "route", "add", "default", "via", dev.HostIP.String())
	config := networkConfig(t, dev, `
  name      = "nat0"
  mode      = "nat"
  ipv4_cidr = "10.90.0.1/24"
  mtu       = 1400
`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoNetworksLeft(t, dev, "nat0"),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(networkAddr, "uplink", "eth0"),
					resource.TestCheckResourceAttr(networkAddr, "forwarding", "true"),
					resource.TestCheckResourceAttr(networkAddr, "mtu", "1400"),
					checkBridgeAddress(t, dev, "nat0", "10.90.0.1/24"),
					checkRules(t, dev, []string{"nat0: masquerade through eth0", "nat0: out through eth0", "nat0: replies"}, nil),
					checkSysctl(t, dev, "net.ipv4.ip_forward", "1"),
					checkSysctl(t, dev, "net.ipv4.conf.nat0.forwarding", "1"),
				),
			},
			{
				Config:   config,
				PlanOnly: true,
			},
			{
				// Someone turns forwarding off for the bridge.
				PreConfig: func() {
					mustDeviceExec(t, dev, "sysctl", "-w", "net.ipv4.conf.nat0.forwarding=0")
				},
				Config:             config,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				// Switching the mode changes the network in place.
				Config: networkConfig(t, dev, `
  name      = "nat0"
  mode      = "isolated"
  ipv4_cidr = "10.90.0.1/24"
  mtu       = 1400
`),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(networkAddr, plancheck.ResourceActionUpdate)},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr(networkAddr, "uplink"),
					resource.TestCheckResourceAttr(networkAddr, "forwarding", "false"),
					checkRules(t, dev, []string{"nat0: drop from"}, []string{"nat0: masquerade through eth0"}),
					checkSysctl(t, dev, "net.ipv4.conf.nat0.forwarding", "0"),
				),
			},
		},
	})
}

func TestAccNetwork_isolated(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	config := networkConfig(t, dev, `
  name      = "iso0"
  mode      = "isolated"
  ipv4_cidr = "10.70.0.1/24"
`)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoNetworksLeft(t, dev, "iso0"),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(networkAddr, "forwarding", "false"),
					checkBridgeAddress(t, dev, "iso0", "10.70.0.1/24"),
					checkRules(t, dev, []string{"iso0: drop from", "iso0: drop to"}, []string{"iso0: within the network"}),
					func(*terraform.State) error {
						hook := mustDeviceExec(t, dev, "cat", "/var/lib/iotfleet/networks/iso0/port-up")
						if !strings.Contains(hook, "isolated on") {
							return fmt.Errorf("port hook does not isolate ports:\n%s", hook)
						}
						return nil
					},
				),
			},
			{
				Config:   config,
				PlanOnly: true,
			},
		},
	})
}

func TestAccNetwork_deleteRefusedWhileUsed(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	config := networkConfig(t, dev, `
  name      = "lan0"
  mode      = "bridge"
  ipv4_cidr = "10.80.0.1/24"
`)
	// A container configuration, as LXC keeps it, that links a NIC to the bridge.
	const containerConfig = "lxc.net.0.type = veth\nlxc.net.0.link = lan0\nlxc.net.0.flags = up\n"

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoNetworksLeft(t, dev, "lan0"),
		Steps: []resource.TestStep{
			{
				Config: config,
			},
			{
				PreConfig: func() {
					mustDeviceExec(t, dev, "mkdir", "-p", "/var/lib/lxc/x")
					mustDeviceExec(t, dev, "sh", "-c", `printf "$1" > /var/lib/lxc/x/config`, "sh", containerConfig)
				},
				Config:      networkConfig(t, dev, ""),
				ExpectError: errorRegexp("Network Still In Use", "lan0", "x"),
			},
			{
				PreConfig: func() {
					mustDeviceExec(t, dev, "rm", "-r", "/var/lib/lxc/x")
				},
				Config: networkConfig(t, dev, ""),
				Check: func(*terraform.State) error {
					if out, err := deviceExec(t, dev, "ip", "link", "show", "dev", "lan0"); err == nil {
						return fmt.Errorf("bridge lan0 remains after destroy: %s", out)
					}
					return nil
				},
			},
		},
	})
}

func TestAccNetwork_twoNetworks(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	config := deviceConfig(t, dev, dev.HostPublicKey) + `
resource "iotfleet_network" "a" {
  device    = iotfleet_device.test.target
  name      = "nat-a"
  mode      = "nat"
  ipv4_cidr = "10.90.0.1/24"
  uplink    = "eth0"
}

resource "iotfleet_network" "b" {
  device    = iotfleet_device.test.target
  name      = "nat-b"
  mode      = "nat"
  ipv4_cidr = "10.91.0.1/24"
  uplink    = "eth0"
}
`
	overlapping := config + `
resource "iotfleet_network" "c" {
  device    = iotfleet_device.test.target
  name      = "lan-c"
  mode      = "bridge"
  ipv4_cidr = "10.91.0.129/25"
}
`

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoNetworksLeft(t, dev, "nat-a", "nat-b"),
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: checkRules(t, dev, []string{
					"nat-a: to other nat networks", "nat-b: to other nat networks",
					"nat-a: masquerade through eth0", "nat-b: masquerade through eth0",
				}, nil),
			},
			{
				Config:      overlapping,
				PlanOnly:    true,
				ExpectError: errorRegexp("Invalid Network Configuration", "overlaps", "10.91.0.0/24", "nat-b"),
			},
		},
	})
}
