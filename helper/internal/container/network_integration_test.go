package container_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// applyBridge creates the bridge network lan0 with 10.80.0.1/24 on the device.
func (d *device) applyBridge() {
	d.t.Helper()
	spec := protocol.NetworkSpec{Name: "lan0", Mode: protocol.NetworkModeBridge, IPv4CIDR: "10.80.0.1/24"}
	var result protocol.NetworkApplyResult
	d.do(protocol.OpNetworkApply, spec, &result)
	if result.State.Bridge != "lan0" {
		d.t.Fatalf("network lan0 after apply: %+v", result.State)
	}
}

// allocations returns the containers that hold an address on lan0, from the network's record.
func (d *device) allocations() map[string]string {
	d.t.Helper()
	data, err := os.ReadFile(filepath.Join(d.stateDir(), "networks", "lan0", "addresses.json"))
	if err != nil {
		d.t.Fatal(err)
	}
	var table struct {
		Containers map[string]struct {
			IPv4Address string `json:"ipv4_address"`
		} `json:"containers"`
	}
	if err := json.Unmarshal(data, &table); err != nil {
		d.t.Fatal(err)
	}
	holders := map[string]string{}
	for name, entry := range table.Containers {
		holders[name] = entry.IPv4Address
	}
	return holders
}

func (d *device) get(name string) protocol.ContainerState {
	d.t.Helper()
	var state protocol.ContainerState
	d.do(protocol.OpContainerGet, protocol.ContainerName{Name: name}, &state)
	return state
}

// onNetwork returns hardenedSpec with one NIC on lan0.
func onNetwork(name, address string) protocol.ContainerSpec {
	spec := hardenedSpec(name)
	spec.Networks = []protocol.ContainerNIC{{Network: "lan0", IPv4Address: address}}
	return spec
}

// checkNIC fails the test unless the container's one NIC is on lan0 with want as both its
// recorded and its observed address.
func checkNIC(t *testing.T, state protocol.ContainerState, want string) {
	t.Helper()
	if len(state.Networks) != 1 {
		t.Fatalf("%s has NICs %+v, want one", state.Name, state.Networks)
	}
	nic := state.Networks[0]
	if nic.Network != "lan0" || nic.IPv4Address != want {
		t.Errorf("%s NIC = %+v, want lan0 with %s", state.Name, nic, want)
	}
	if !slices.Equal(nic.ObservedIPv4Addresses, []string{want}) {
		t.Errorf("%s NIC observed %q, want [%s]", state.Name, nic.ObservedIPv4Addresses, want)
	}
}

func TestConcurrentAppliesGetDistinctAddresses(t *testing.T) {
	d := startDevice(t)
	d.applyBridge()
	names := []string{"neta", "netb", "netc"}
	errs := make(chan error, len(names))
	for _, name := range names {
		d.deleteOnCleanup(name)
		go func() {
			params, _ := json.Marshal(onNetwork(name, ""))
			results, err := d.run(protocol.Call{Op: protocol.OpContainerApply, Params: params})
			if err == nil && results[0].Error != nil {
				err = results[0].Error
			}
			errs <- err
		}()
	}
	for range names {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent apply: %v", err)
		}
	}

	var addresses []string
	for _, name := range names {
		state := d.get(name)
		addresses = append(addresses, state.Networks[0].IPv4Address)
		checkNIC(t, state, state.Networks[0].IPv4Address)
	}
	slices.Sort(addresses)
	if want := []string{"10.80.0.2", "10.80.0.3", "10.80.0.4"}; !slices.Equal(addresses, want) {
		t.Errorf("addresses = %q, want the three lowest %q", addresses, want)
	}
}

func TestNetworkAddressLifecycle(t *testing.T) {
	d := startDevice(t)
	d.applyBridge()
	d.deleteOnCleanup("neta")
	d.deleteOnCleanup("netb")

	first := d.apply(onNetwork("neta", "10.80.0.50")).State
	checkNIC(t, first, "10.80.0.50")
	config, err := os.ReadFile(filepath.Join(d.lxcDir(), "neta", "config"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(config), "lxc.net.0.type = empty") ||
		!strings.Contains(string(config), "lxc.net.0.link = lan0") {
		t.Errorf("configuration of neta does not link a NIC to lan0:\n%s", config)
	}

	// A taken address fails before anything is created or allocated.
	err = d.try(protocol.OpContainerApply, onNetwork("netb", "10.80.0.50"), nil)
	var helperErr *protocol.Error
	if !errors.As(err, &helperErr) || helperErr.Code != protocol.CodeConflict ||
		!strings.HasPrefix(helperErr.Message, "networks[0]: ") {
		t.Fatalf("apply with a taken address = %v, want a conflict about networks[0]", err)
	}
	if _, held := d.allocations()["netb"]; held {
		t.Error("the rejected container netb still holds an address on lan0")
	}

	// The network cannot go while neta is on it.
	if err := d.try(protocol.OpNetworkDelete, protocol.NetworkName{Name: "lan0"}, nil); !errors.As(err, &helperErr) ||
		helperErr.Code != protocol.CodeConflict {
		t.Errorf("network.delete while neta is attached = %v, want a conflict", err)
	}

	// An address changed inside the running container shows in get, and apply restores it.
	// Deleting the primary address first keeps the kernel from dropping the new one with it.
	inContainerNetns := []string{"nsenter", "--net=/proc/" + strconv.Itoa(first.InitPID) + "/ns/net", "--"}
	mustRun(t, append(inContainerNetns, "ip", "addr", "delete", "10.80.0.50/24", "dev", "eth0")...)
	mustRun(t, append(inContainerNetns, "ip", "addr", "add", "10.80.0.77/24", "dev", "eth0")...)
	if observed := d.get("neta").Networks[0].ObservedIPv4Addresses; !slices.Equal(observed, []string{"10.80.0.77"}) {
		t.Errorf("observed addresses after the change = %q, want [10.80.0.77]", observed)
	}
	restored := d.apply(onNetwork("neta", "10.80.0.50"))
	if !restored.Restarted || restored.State.InitPID == first.InitPID {
		t.Errorf("apply after the address changed: restarted %t, init PID %d (was %d); want a restart",
			restored.Restarted, restored.State.InitPID, first.InitPID)
	}
	checkNIC(t, restored.State, "10.80.0.50")

	// A stopped container reports the address that its configuration gives it.
	stopped := onNetwork("netb", "")
	stopped.Running = false
	checkNIC(t, d.apply(stopped).State, "10.80.0.2")

	// Delete releases the address.
	d.do(protocol.OpContainerDelete, protocol.ContainerName{Name: "neta"}, nil)
	if address, held := d.allocations()["neta"]; held {
		t.Errorf("deleted container neta still holds %s on lan0", address)
	}
}

func mustRun(t *testing.T, argv ...string) {
	t.Helper()
	if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
}
