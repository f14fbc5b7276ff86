package provider

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
)

const (
	container2Addr = "iotfleet_container.test2"

	// listenPort is where listener containers accept connections.
	listenPort = "7000"

	// listenerCommand runs as init and appends what each connection sends to /tmp/received, which is a
	// tmpfs on the read-only rootfs.
	listenerCommand = `command = ["/bin/sh", "-c", "while true; do nc -l -p ` + listenPort + ` >> /tmp/received; done"]`
)

// lanNetwork returns the network iotfleet_network.lan with the bridge lan0.
func lanNetwork(mode, cidr string) string {
	return fmt.Sprintf(`
resource "iotfleet_network" "lan" {
  device    = iotfleet_device.test.target
  name      = "lan0"
  mode      = %q
  ipv4_cidr = %q
}
`, mode, cidr)
}

// nicBlock returns a network block on iotfleet_network.lan, with a static address unless
// address is empty.
func nicBlock(address string) string {
	if address == "" {
		return "network {\n    name = iotfleet_network.lan.name\n  }\n  "
	}
	return fmt.Sprintf("network {\n    name         = iotfleet_network.lan.name\n    ipv4_address = %q\n  }\n  ", address)
}

// connect sends message from container from to address:port through nc and returns nc's error.
// The message comes from a file: nc quits when the listener closes its side, which busybox's nc
// does at once when its own input is empty, so a pipe that echo has not filled yet loses the
// message.
func connect(t *testing.T, dev *localdevice.Device, from, address, port, message string) error {
	out, err := containerExec(t, dev, from, "sh", "-c",
		`echo "$0" > /tmp/message && nc -w 3 "$1" "$2" < /tmp/message`, message, address, port)
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// checkReaches sends a message from one container to the listener of another at address and
// checks that it arrived.
func checkReaches(t *testing.T, dev *localdevice.Device, from, to, address string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		message := fmt.Sprintf("hello from %s at %d", from, time.Now().UnixNano())
		if err := connect(t, dev, from, address, listenPort, message); err != nil {
			return fmt.Errorf("%s cannot reach %s at %s:%s: %v", from, to, address, listenPort, err)
		}
		received, err := containerExec(t, dev, to, "cat", "/tmp/received")
		if err != nil || !strings.Contains(received, message) {
			return fmt.Errorf("%s received %q (%v), want it to contain %q", to, received, err, message)
		}
		return nil
	}
}

// checkInterface checks the address and default route of eth0 inside a container.
func checkInterface(t *testing.T, dev *localdevice.Device, name, cidr, gateway string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		addrs, err := containerExec(t, dev, name, "ip", "-4", "addr", "show", "dev", "eth0")
		if err != nil || !strings.Contains(addrs, "inet "+cidr+" ") {
			return fmt.Errorf("eth0 of %s has %q (%v), want %s", name, addrs, err, cidr)
		}
		routes, err := containerExec(t, dev, name, "ip", "-4", "route")
		if err != nil || !strings.Contains(routes, "default via "+gateway+" dev eth0") {
			return fmt.Errorf("routes of %s are %q (%v), want the default route via %s", name, routes, err, gateway)
		}
		return nil
	}
}

// changeAddress replaces the address of eth0 inside a running container from the device, as
// someone with root on the device would.
func changeAddress(t *testing.T, dev *localdevice.Device, s *terraform.State, address, from, to string) {
	t.Helper()
	pid, err := stateAttribute(s, address, "init_pid")
	if err != nil {
		t.Fatal(err)
	}
	netns := "--net=/proc/" + pid + "/ns/net"
	// The primary address goes first, because deleting it would take a second one along.
	mustDeviceExec(t, dev, "nsenter", netns, "--", "ip", "addr", "delete", from, "dev", "eth0")
	mustDeviceExec(t, dev, "nsenter", netns, "--", "ip", "addr", "add", to, "dev", "eth0")
}

func TestAccContainer_networkBridge(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	a, b := uniqueName(dev, "a"), uniqueName(dev, "b")
	network := lanNetwork("bridge", "10.80.0.1/24")
	bodyA := fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  resolv_conf = \"nameserver 10.80.0.1\\n\"\n  ", a) +
		nicBlock("10.80.0.10") + listenerCommand
	bodyB := func(command string) string {
		return fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  ", b) + nicBlock("") + command
	}
	config := containerConfig(t, dev, bodyA, bodyB(listenerCommand)) + network
	// A new command restarts b; its allocated address stays.
	restarted := containerConfig(t, dev, bodyA, bodyB(strings.Replace(listenerCommand, "while true", "while :", 1))) + network
	var lastState *terraform.State
	nicAddress := tfjsonpath.New("network").AtSliceIndex(0).AtMapKey("ipv4_address")

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(s *terraform.State) error {
			if err := checkNoContainers(t, dev); err != nil {
				return err
			}
			return checkNoNetworksLeft(t, dev, "lan0")(s)
		},
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(containerAddr, "network.#", "1"),
					resource.TestCheckResourceAttr(containerAddr, "network.0.name", "lan0"),
					resource.TestCheckResourceAttr(containerAddr, "network.0.ipv4_address", "10.80.0.10"),
					resource.TestCheckResourceAttr(container2Addr, "network.0.ipv4_address", "10.80.0.2"),
					checkInterface(t, dev, a, "10.80.0.10/24", "10.80.0.1"),
					checkInterface(t, dev, b, "10.80.0.2/24", "10.80.0.1"),
					checkFileInContainer(t, dev, a, "/etc/resolv.conf", "nameserver 10.80.0.1"),
					checkReaches(t, dev, b, a, "10.80.0.10"),
					checkReaches(t, dev, a, b, "10.80.0.2"),
				),
			},
			{Config: config, PlanOnly: true},
			{
				Config:            config,
				ResourceName:      container2Addr,
				ImportState:       true,
				ImportStateId:     fmt.Sprintf("root@%s:%d/%s", dev.Address(), dev.Port, b),
				ImportStateVerify: true,
				// As in TestAccContainer_basic.
				ImportStateVerifyIgnore: []string{"device.host_key", "device.arch", "rootfs_bytes"},
			},
			{
				Config: restarted,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(container2Addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue(container2Addr, tfjsonpath.New("init_pid")),
					plancheck.ExpectKnownValue(container2Addr, nicAddress, knownvalue.StringExact("10.80.0.2")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckResourceAttr(container2Addr, "network.0.ipv4_address", "10.80.0.2"),
					checkInterface(t, dev, b, "10.80.0.2/24", "10.80.0.1"),
					func(s *terraform.State) error { lastState = s; return nil },
				),
			},
			{
				// Someone changes b's address on the device; the plan restores it.
				PreConfig: func() { changeAddress(t, dev, lastState, container2Addr, "10.80.0.2/24", "10.80.0.99/24") },
				Config:    restarted,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(container2Addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(container2Addr, nicAddress, knownvalue.StringExact("10.80.0.2")),
					plancheck.ExpectUnknownValue(container2Addr, tfjsonpath.New("init_pid")),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkInterface(t, dev, b, "10.80.0.2/24", "10.80.0.1"),
					checkReaches(t, dev, a, b, "10.80.0.2"),
				),
			},
			{Config: restarted, PlanOnly: true},
		},
	})
}

func TestAccContainer_networkIsolated(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	a, b := uniqueName(dev, "a"), uniqueName(dev, "b")
	config := containerConfig(t, dev,
		fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  ", a)+nicBlock("10.70.0.10")+listenerCommand,
		fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  ", b)+nicBlock("")+listenerCommand,
	) + lanNetwork("isolated", "10.70.0.1/24")

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoNetworksLeft(t, dev, "lan0"),
		Steps: []resource.TestStep{{
			Config: config,
			Check: resource.ComposeAggregateTestCheckFunc(
				checkInterface(t, dev, b, "10.70.0.2/24", "10.70.0.1"),
				func(*terraform.State) error {
					if err := connect(t, dev, b, "10.70.0.10", listenPort, "blocked"); err == nil {
						return fmt.Errorf("%s reached %s at 10.70.0.10 on an isolated network", b, a)
					}
					if err := connect(t, dev, a, "10.70.0.2", listenPort, "blocked"); err == nil {
						return fmt.Errorf("%s reached %s at 10.70.0.2 on an isolated network", a, b)
					}
					return nil
				},
				checkReachesDevice(t, dev, b, "10.70.0.1"),
			),
		}},
	})
}

// checkReachesDevice checks that a container reaches a listener on the device at gateway, so
// that a blocked connection between containers is the network's doing.
func checkReachesDevice(t *testing.T, dev *localdevice.Device, from, gateway string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var received bytes.Buffer
		listen := exec.CommandContext(ctx, "nsenter", "--net=/run/netns/"+dev.Namespace, "--",
			"busybox", "nc", "-l", "-p", "7001")
		listen.Stdout = &received
		listen.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		listen.WaitDelay = 2 * time.Second
		if err := listen.Start(); err != nil {
			return fmt.Errorf("start a listener on the device: %v", err)
		}
		defer func() {
			_ = listen.Process.Kill()
			_ = listen.Wait()
		}()

		var err error
		for attempt := 0; attempt < 10; attempt++ {
			if err = connect(t, dev, from, gateway, "7001", "to the device"); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil {
			return fmt.Errorf("%s cannot reach the device at %s:7001: %v", from, gateway, err)
		}
		_ = listen.Wait()
		if got := strings.TrimSpace(received.String()); got != "to the device" {
			return fmt.Errorf("the device's listener received %q, want %q", got, "to the device")
		}
		return nil
	}
}

func TestAccContainer_networkNAT(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	// The helper takes the uplink from the device's default route, through the host side of
	// its veth.
	mustDeviceExec(t, dev, "ip", "route", "add", "default", "via", dev.HostIP.String())
	name := uniqueName(dev, "out")
	config := containerConfig(t, dev,
		fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  ", name)+nicBlock(""),
	) + lanNetwork("nat", "10.90.0.1/24")

	hostListener, err := net.Listen("tcp", net.JoinHostPort(dev.HostIP.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer hostListener.Close()
	port := fmt.Sprint(hostListener.Addr().(*net.TCPAddr).Port)

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoNetworksLeft(t, dev, "lan0"),
		Steps: []resource.TestStep{{
			Config: config,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(containerAddr, "network.0.ipv4_address", "10.90.0.2"),
				func(*terraform.State) error {
					type accepted struct {
						remote netip.Addr
						data   string
						err    error
					}
					done := make(chan accepted, 1)
					go func() {
						remote, data, err := acceptLine(hostListener, 20*time.Second)
						done <- accepted{remote, data, err}
					}()
					sendErr := connect(t, dev, name, dev.HostIP.String(), port, "hello from "+name)
					got := <-done
					if got.err != nil {
						return fmt.Errorf("no connection from %s reached %s:%s: %v (nc: %v)", name, dev.HostIP, port, got.err, sendErr)
					}
					if got.remote != dev.IP {
						return fmt.Errorf("the connection came from %s, want the device's address %s (masqueraded)", got.remote, dev.IP)
					}
					if got.data != "hello from "+name {
						return fmt.Errorf("the listener received %q", got.data)
					}
					return nil
				},
			),
		}},
	})
}

// acceptLine accepts one TCP connection on tcpListener within timeout and returns the remote
// address and the first line that the client sent.
func acceptLine(tcpListener net.Listener, timeout time.Duration) (netip.Addr, string, error) {
	if err := tcpListener.(*net.TCPListener).SetDeadline(time.Now().Add(timeout)); err != nil {
		return netip.Addr{}, "", err
	}
	conn, err := tcpListener.Accept()
	if err != nil {
		return netip.Addr{}, "", err
	}
	defer conn.Close()
	if err := conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return netip.Addr{}, "", err
	}
	var data []byte
	buf := make([]byte, 256)
	for !bytes.Contains(data, []byte("\n")) {
		n, err := conn.Read(buf)
		data = append(data, buf[:n]...)
		if err != nil {
			break
		}
	}
	remote := conn.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap()
	return remote, strings.TrimSpace(string(data)), nil
}

func TestAccContainer_networkAddressErrors(t *testing.T) {
	testAccPreCheck(t)
	dev := testDevice(t)
	a, b := uniqueName(dev, "a"), uniqueName(dev, "b")
	network := lanNetwork("bridge", "10.80.0.1/24")
	bodyA := fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  ", a) + nicBlock("10.80.0.10")
	withB := func(address string) string {
		return containerConfig(t, dev, bodyA, fmt.Sprintf("name = %q\n  rootfs = { busybox = true }\n  ", b)+
			nicBlock(address)) + network
	}
	bGone := func() {
		if err := checkContainerGone(t, dev, b)(nil); err != nil {
			t.Error(err)
		}
	}
	// The helper rejects these addresses at apply time, because only the device has the
	// network's subnet and the addresses taken on it. The error points at the attribute.
	cases := []struct {
		address string
		words   []string
	}{
		{"10.81.0.5", []string{`ipv4_address = "10.81.0.5"`, "outside subnet 10.80.0.0/24", "10.80.0.2 to 10.80.0.254"}},
		{"10.80.0.1", []string{`ipv4_address = "10.80.0.1"`, "is the gateway of network", "lan0"}},
		{"10.80.0.255", []string{`ipv4_address = "10.80.0.255"`, "is the broadcast address of 10.80.0.0/24"}},
		{"10.80.0.10", []string{`ipv4_address = "10.80.0.10"`, "already belongs to container", a}},
	}
	steps := []resource.TestStep{{Config: containerConfig(t, dev, bodyA) + network}}
	for _, tc := range cases {
		steps = append(steps, resource.TestStep{
			PreConfig: bGone,
			Config:    withB(tc.address),
			// Terraform wraps the detail at any space.
			ExpectError: errorRegexp(strings.Fields(strings.Join(tc.words, " "))...),
		})
	}
	steps = append(steps, resource.TestStep{
		PreConfig: bGone,
		Config:    withB("10.80.0.11"),
		Check:     resource.TestCheckResourceAttr(container2Addr, "network.0.ipv4_address", "10.80.0.11"),
	})

	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoNetworksLeft(t, dev, "lan0"),
		Steps:                    steps,
	})
}
