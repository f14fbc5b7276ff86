//go:build linux

package main

import (
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/localdevice"
	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Networks, addresses and names inside the device. They live in the device's and the
// reference namespace's own routing tables, so they cannot clash with the host's.
const (
	bridgeNetwork = "bench-br"
	bridgeCIDR    = "10.80.0.1/24"
	natNetwork    = "bench-nat"
	natCIDR       = "10.90.0.1/24"

	// The reference link is a plain veth pair between the device and a namespace of its own.
	referenceDeviceVeth = "ref0"
	referenceDeviceCIDR = "10.79.0.1/30"
	referencePeerCIDR   = "10.79.0.2/30"
	referenceDeviceIP   = "10.79.0.1"

	// The NAT network's uplink is a veth pair between the device and the outside namespace,
	// where the server of the NAT comparisons listens.
	uplinkDeviceVeth = "wan0"
	uplinkDeviceCIDR = "10.79.0.5/30"
	outsideCIDR      = "10.79.0.6/30"
	outsideIP        = "10.79.0.6"

	// toolInContainer is where each container gets a copy of this binary.
	toolInContainer = "/usr/local/bin/iotf-traffic"
)

// Timeouts of the set-up and clean-up steps.
const (
	helperTimeout  = 3 * time.Minute
	cleanupTimeout = 3 * time.Minute
)

// testbed is the device with its networks, containers, reference namespace and traffic
// servers. Each field is set once the thing it names exists, so cleanup removes exactly what
// was created.
type testbed struct {
	progress io.Writer
	self     string // this binary, which is also the traffic tool

	device     *localdevice.Device
	helper     *helperClient
	peers      []string // namespaces joined to the device by createPeer
	reference  string   // namespace of the bridge comparisons' native side
	outside    string   // namespace at the far end of the NAT network's uplink
	networks   []string // networks created through the helper
	containers map[string]protocol.ContainerState

	deviceServer  *server // in the device's namespace, on every address
	outsideServer *server // in the outside namespace
	bridgeMTU     int
	natMTU        int

	// shapedRate is the uplink's current tbf rate in bit/s, zero while it is not shaped.
	shapedRate int64
}

// containerNames returns the bridge and NAT containers' names. LXC names cgroups after
// containers and every local device shares the machine's cgroup tree, so the names carry the
// device's name, which is unique to this process.
func (t *testbed) containerNames() (bridge, nat string) {
	return t.device.Name + "-br", t.device.Name + "-nat"
}

// setUp builds everything that the measurements need, in order.
func (t *testbed) setUp(ctx context.Context, opts options) error {
	name := fmt.Sprintf("nb%d", os.Getpid()%100000)
	t.logf("starting local device %s", name)
	device, err := localdevice.Start(ctx, localdevice.Options{Name: name})
	if err != nil {
		return err
	}
	t.device = device
	t.helper = &helperClient{device: device}
	if err := device.InstallHelper(opts.helper); err != nil {
		return err
	}
	if t.reference, err = t.createPeer(ctx, referenceLink); err != nil {
		return err
	}
	if t.outside, err = t.createPeer(ctx, outsideLink); err != nil {
		return err
	}
	if err := t.createNetworks(ctx); err != nil {
		return err
	}
	if err := t.createContainers(ctx); err != nil {
		return err
	}
	return t.startServers()
}

// createNetworks creates the bridge network and the NAT network, whose uplink is the veth pair
// to the outside namespace.
func (t *testbed) createNetworks(ctx context.Context) error {
	specs := []protocol.NetworkSpec{
		{Name: bridgeNetwork, Mode: protocol.NetworkModeBridge, IPv4CIDR: bridgeCIDR},
		{Name: natNetwork, Mode: protocol.NetworkModeNAT, IPv4CIDR: natCIDR, Uplink: uplinkDeviceVeth},
	}
	for _, spec := range specs {
		var result protocol.NetworkApplyResult
		t.networks = append(t.networks, spec.Name)
		if err := t.callHelper(ctx, protocol.OpNetworkApply, spec, &result); err != nil {
			return err
		}
		if !result.State.RulesInPlace || (spec.Mode == protocol.NetworkModeNAT && !result.State.Forwarding) {
			return fmt.Errorf("network %s is not ready after apply: rules in place %t, forwarding %t",
				spec.Name, result.State.RulesInPlace, result.State.Forwarding)
		}
		if spec.Name == bridgeNetwork {
			t.bridgeMTU = result.State.MTU
		} else {
			t.natMTU = result.State.MTU
		}
		t.logf("network %s (%s, %s) ready", spec.Name, spec.Mode, spec.IPv4CIDR)
	}
	return nil
}

// createContainers creates one running busybox container on each network, with the
// provider's hardening defaults and a copy of the traffic tool.
func (t *testbed) createContainers(ctx context.Context) error {
	tool, err := os.ReadFile(t.self)
	if err != nil {
		return fmt.Errorf("read the traffic tool: %w", err)
	}
	t.containers = map[string]protocol.ContainerState{}
	bridge, nat := t.containerNames()
	for _, c := range []struct{ name, network string }{{bridge, bridgeNetwork}, {nat, natNetwork}} {
		spec := containerSpec(c.name, c.network, tool)
		var result protocol.ContainerApplyResult
		t.containers[c.name] = protocol.ContainerState{}
		if err := t.callHelper(ctx, protocol.OpContainerApply, spec, &result); err != nil {
			return err
		}
		if result.State.State != "RUNNING" || len(result.State.Networks) != 1 {
			return fmt.Errorf("container %s after apply: state %s with %d NICs, want RUNNING with 1",
				c.name, result.State.State, len(result.State.Networks))
		}
		t.containers[c.name] = result.State
		t.logf("container %s on %s at %s", c.name, c.network, result.State.Networks[0].IPv4Address)
	}
	return nil
}

// containerSpec returns the spec of a benchmark container: the defaults that the provider's
// iotfleet_container resource applies (no capabilities, no_new_privs, read-only rootfs,
// 128 MiB of memory, CPU weight 100, 128 processes, 65536 mapped IDs) and one NIC.
func containerSpec(name, network string, tool []byte) protocol.ContainerSpec {
	return protocol.ContainerSpec{
		Name:           name,
		Rootfs:         protocol.RootfsBusybox,
		Running:        true,
		Capabilities:   []string{},
		NoNewPrivs:     true,
		ReadOnlyRootfs: true,
		Limits:         protocol.Limits{MemoryBytes: 128 << 20, CPUWeight: 100, Pids: 128},
		IdmapSize:      65536,
		Files:          []protocol.File{{Path: toolInContainer, Content: tool, Mode: 0o755}},
		Networks:       []protocol.ContainerNIC{{Network: network}},
	}
}

// startServers starts the traffic server inside the device and the one in the outside
// namespace.
func (t *testbed) startServers() error {
	var err error
	t.deviceServer, err = startServer(t.self, []string{"nsenter", "--net=/run/netns/" + t.device.Namespace, "--"},
		"0.0.0.0:0")
	if err != nil {
		return fmt.Errorf("start the traffic server inside the device: %w", err)
	}
	t.outsideServer, err = startServer(t.self, []string{"nsenter", "--net=/run/netns/" + t.outside, "--"},
		outsideIP+":0")
	if err != nil {
		return fmt.Errorf("start the traffic server in the outside namespace: %w", err)
	}
	return nil
}

// callHelper runs one helper call with helperTimeout.
func (t *testbed) callHelper(ctx context.Context, op string, params, out any) error {
	ctx, cancel := context.WithTimeout(ctx, helperTimeout)
	defer cancel()
	return t.helper.call(ctx, op, params, out)
}

// cleanUp removes what setUp created, in reverse order. It runs on success, failure and
// interrupt alike, with its own timeout.
func (t *testbed) cleanUp(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()

	var errs []error
	for _, s := range []*server{t.outsideServer, t.deviceServer} {
		if s != nil {
			errs = append(errs, s.stop())
		}
	}
	for name := range t.containers {
		errs = append(errs, t.callHelper(ctx, protocol.OpContainerDelete, protocol.ContainerName{Name: name}, nil))
	}
	for _, name := range t.networks {
		errs = append(errs, t.callHelper(ctx, protocol.OpNetworkDelete, protocol.NetworkName{Name: name}, nil))
	}
	errs = append(errs, t.deletePeers(ctx)...)
	if t.device != nil {
		t.logf("stopping local device %s", t.device.Name)
		if err := t.device.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%w; run `bin/localdevice stop -name %s`", err, t.device.Name))
		}
	}
	return errors.Join(errs...)
}

func (t *testbed) logf(format string, args ...any) {
	fmt.Fprintf(t.progress, "bench-network: "+format+"\n", args...)
}

// checkStatic returns an error unless the ELF file at path is statically linked: the
// containers' busybox rootfs has no C library for a dynamic one.
func checkStatic(path string) error {
	file, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	defer file.Close()
	for _, prog := range file.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked, but the containers have no C library; "+
				"rebuild it with CGO_ENABLED=0", path)
		}
	}
	return nil
}
