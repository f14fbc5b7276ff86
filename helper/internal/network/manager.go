package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/iotfleet/terraform-provider-iotfleet/internal/protocol"
)

// Manager carries out the network operations for one state folder and LXC path.
type Manager struct {
	StateDir string
	LXCPath  string

	// BootHook installs the unit that restores networks at boot.
	BootHook BootHook

	// StartContainer starts a stopped container daemonized and reports whether it started
	// it; a running container is left alone.
	StartContainer func(lxcPath, name string) (bool, error)

	Log *slog.Logger
}

// plan is a validated spec with what applying it needs.
type plan struct {
	record  Record
	gateway netip.Prefix

	// others are the records of the other networks.
	others []Record

	// previous is the network's current record, nil for a new network.
	previous *Record
}

// all returns the records of every network as they are once the plan is applied.
func (p plan) all() []Record {
	records := append([]Record{p.record}, p.others...)
	sortRecords(records)
	return records
}

// Check validates spec against the device without changing it. The caller holds at least a
// shared lock.
func (m Manager) Check(spec protocol.NetworkSpec) (protocol.NetworkCheckResult, error) {
	p, err := m.plan(spec)
	if err != nil {
		return protocol.NetworkCheckResult{}, err
	}
	return protocol.NetworkCheckResult{Uplink: p.record.Uplink}, nil
}

// plan validates spec and checks it against the device and the other networks.
func (m Manager) plan(spec protocol.NetworkSpec) (plan, error) {
	if err := spec.Validate(); err != nil {
		return plan{}, protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	gateway, _ := protocol.ParseNetworkCIDR(spec.IPv4CIDR)
	records, err := loadRecords(m.StateDir)
	if err != nil {
		return plan{}, err
	}
	p := plan{record: Record{Spec: spec}, gateway: gateway}
	bridges := map[string]bool{}
	for i := range records {
		bridges[records[i].Spec.Name] = true
		if records[i].Spec.Name == spec.Name {
			p.previous = &records[i]
			continue
		}
		p.others = append(p.others, records[i])
	}

	if err := checkOverlaps(spec, gateway, p.others); err != nil {
		return plan{}, err
	}
	if err := m.checkInterface(spec, p.previous); err != nil {
		return plan{}, err
	}
	if spec.Mode == protocol.NetworkModeNAT {
		if p.record.Uplink, err = resolveUplink(spec, bridges); err != nil {
			return plan{}, err
		}
	}
	return p, nil
}

// checkOverlaps rejects a subnet that overlaps another network or an address that an
// interface other than the network's own bridge holds.
func checkOverlaps(spec protocol.NetworkSpec, gateway netip.Prefix, others []Record) error {
	subnet := gateway.Masked()
	for _, other := range others {
		otherGateway, err := netip.ParsePrefix(other.Spec.IPv4CIDR)
		if err == nil && otherGateway.Masked().Overlaps(subnet) {
			return protocol.Errorf(protocol.CodeConflict,
				"subnet %s of network %q overlaps subnet %s of network %q on the device; choose a "+
					"subnet that no other network uses", subnet, spec.Name, otherGateway.Masked(), other.Spec.Name)
		}
	}
	addrs, err := listAddresses()
	if err != nil {
		return err
	}
	for _, addr := range addrs {
		if addr.link == spec.Name || !addr.prefix.Addr().Is4() {
			continue
		}
		if addr.prefix.Masked().Overlaps(subnet) {
			return protocol.Errorf(protocol.CodeConflict,
				"subnet %s of network %q overlaps address %s of interface %s on the device; choose "+
					"a subnet that the device does not use", subnet, spec.Name, addr.prefix, addr.link)
		}
	}
	return nil
}

// checkInterface rejects an existing interface with the network's name that the helper did
// not create, and a change of subnet or gateway while containers are attached: their LXC
// keys hold the old addresses.
func (m Manager) checkInterface(spec protocol.NetworkSpec, previous *Record) error {
	link, err := linkByName(spec.Name)
	if err != nil {
		return err
	}
	if link != nil && previous == nil {
		return protocol.Errorf(protocol.CodeConflict,
			"an interface named %s already exists on the device and iotfleet did not create it; "+
				"choose another network name", spec.Name)
	}
	if link != nil && !isBridge(link) {
		return notOurInterface(spec.Name, link)
	}
	if previous == nil || previous.Spec.IPv4CIDR == spec.IPv4CIDR {
		return nil
	}
	containers, err := containersLinkedTo(m.LXCPath, spec.Name)
	if err != nil {
		return err
	}
	if len(containers) > 0 {
		return protocol.Errorf(protocol.CodeConflict,
			"network %q cannot change ipv4_cidr from %s to %s while containers are attached to it: %s; "+
				"detach or destroy them first", spec.Name, previous.Spec.IPv4CIDR, spec.IPv4CIDR,
			strings.Join(containers, ", "))
	}
	return nil
}

// Apply creates or updates the network of spec. When applying a new network fails, Apply
// removes what it created, so a failed create leaves nothing behind. The caller holds the
// exclusive lock.
func (m Manager) Apply(ctx context.Context, spec protocol.NetworkSpec) (protocol.NetworkApplyResult, error) {
	p, err := m.plan(spec)
	if err != nil {
		return protocol.NetworkApplyResult{}, err
	}

	// The record comes first: a bridge without a record would look foreign to the next apply.
	if err := saveRecord(m.StateDir, p.record); err != nil {
		return protocol.NetworkApplyResult{}, err
	}
	if p.previous != nil && p.previous.Spec.IPv4CIDR != spec.IPv4CIDR {
		if err := dropStaleAllocations(m.StateDir, spec.Name, p.gateway); err != nil {
			return protocol.NetworkApplyResult{}, err
		}
	}
	created, err := m.build(ctx, p.record, p.all())
	if err != nil {
		if p.previous == nil {
			err = errors.Join(err, m.rollback(ctx, spec.Name, created, p.others))
		}
		return protocol.NetworkApplyResult{}, err
	}

	hook, err := m.BootHook.Install(m.StateDir, m.LXCPath)
	if err != nil {
		return protocol.NetworkApplyResult{}, err
	}
	networkState, err := m.observe(ctx, p.record, p.all())
	if err != nil {
		return protocol.NetworkApplyResult{}, err
	}
	return protocol.NetworkApplyResult{State: networkState, BootHook: hook}, nil
}

// build makes the kernel match record, with all as every network's record: the port hook, the
// bridge, forwarding and port isolation of record, then the product's table. It returns
// whether it created the bridge.
func (m Manager) build(ctx context.Context, record Record, all []Record) (created bool, err error) {
	if err := writePortHook(m.StateDir, record); err != nil {
		return false, err
	}
	gateway, err := protocol.ParseNetworkCIDR(record.Spec.IPv4CIDR)
	if err != nil {
		return false, fmt.Errorf("network %s has a damaged record: %w", record.Spec.Name, err)
	}
	if created, err = ensureBridge(record.Spec, gateway); err != nil {
		return created, err
	}
	if err := applyForwarding(all); err != nil {
		return created, err
	}
	if err := setPortIsolation(record.Spec.Name, record.Spec.Mode == protocol.NetworkModeIsolated); err != nil {
		return created, err
	}
	return created, applyRuleset(ctx, RenderRuleset(all))
}

// rollback removes a network whose first apply failed: its bridge when Apply created it, its
// rules and its record.
func (m Manager) rollback(ctx context.Context, name string, created bool, others []Record) error {
	var errs []error
	if created {
		errs = append(errs, deleteBridge(name))
	}
	errs = append(errs, applyRuleset(ctx, RenderRuleset(others)), removeRecord(m.StateDir, name))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("undo the failed create of network %s: %w", name, err)
	}
	return nil
}

// Get returns the recorded spec of the named network and what the device has of it. The
// caller holds at least a shared lock.
func (m Manager) Get(ctx context.Context, name string) (protocol.NetworkState, error) {
	if err := protocol.ValidateNetworkName(name); err != nil {
		return protocol.NetworkState{}, protocol.Errorf(protocol.CodeInvalid, "%v", err)
	}
	records, err := loadRecords(m.StateDir)
	if err != nil {
		return protocol.NetworkState{}, err
	}
	for _, record := range records {
		if record.Spec.Name == name {
			return m.observe(ctx, record, records)
		}
	}
	return protocol.NetworkState{}, notFound(name)
}

// observe reads the device's side of record's network; all are every network's records.
func (m Manager) observe(ctx context.Context, record Record, all []Record) (protocol.NetworkState, error) {
	networkState := protocol.NetworkState{Spec: record.Spec, Uplink: record.Uplink, IPv4Addresses: []string{}}
	if gateway, err := netip.ParsePrefix(record.Spec.IPv4CIDR); err == nil {
		networkState.Subnet = gateway.Masked().String()
	}

	view, err := observeBridge(record.Spec.Name)
	if err != nil {
		return protocol.NetworkState{}, err
	}
	if view.present {
		networkState.Bridge = record.Spec.Name
		networkState.IPv4Addresses = view.addresses
		networkState.MTU = view.mtu
	}
	if networkState.Forwarding, err = observeForwarding(record); err != nil {
		return protocol.NetworkState{}, err
	}
	if networkState.RulesInPlace, err = m.rulesInPlace(ctx, record, all, view); err != nil {
		return protocol.NetworkState{}, err
	}
	return networkState, nil
}

// rulesInPlace reports whether every rule that the product's table should hold for record's
// network is there, the port hook matches its mode and, for an isolated network, no bridge port
// is left unisolated.
func (m Manager) rulesInPlace(ctx context.Context, record Record, all []Record, view bridgeView) (bool, error) {
	live, err := liveComments(ctx)
	if err != nil {
		return false, err
	}
	for _, comment := range expectedComments(all, record.Spec.Name) {
		if !live[comment] {
			return false, nil
		}
	}
	if record.Spec.Mode == protocol.NetworkModeIsolated && view.unisolatedPorts > 0 {
		return false, nil
	}
	return portHookInPlace(m.StateDir, record)
}

// sortRecords sorts records by network name.
func sortRecords(records []Record) {
	slices.SortFunc(records, func(a, b Record) int { return strings.Compare(a.Spec.Name, b.Spec.Name) })
}
